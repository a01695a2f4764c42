//! Headlines in any script. cosmic-text shapes them (right-to-left and
//! joined scripts, CJK) with font fallback: DejaVu is embedded, other
//! scripts come from the system's fonts (Noto in the container image). The
//! largest size that fits the box with whole words on each line wins. Glyphs
//! are drawn as vector outlines with a thick dark stroke and a hard shadow,
//! so the text reads at YouTube's 168x94.

use std::sync::{Mutex, OnceLock};

use cosmic_text::{
    Align, Attrs, Buffer, Command, Family, FontSystem, Metrics, Shaping, Stretch, SwashCache,
    Weight, Wrap, fontdb,
};
use resvg::tiny_skia::{
    Color, FillRule, LineJoin, Paint, Path, PathBuilder, Pixmap, Stroke, Transform,
};

/// Line height in ems: capitals and most scripts need little leading.
const LINE: f32 = 1.08;

struct Shaper {
    fonts: FontSystem,
    outlines: SwashCache,
}

/// One font system per process: loading the system's fonts takes tens of
/// milliseconds, shaping a headline far less.
fn shaper() -> &'static Mutex<Shaper> {
    static SHAPER: OnceLock<Mutex<Shaper>> = OnceLock::new();
    SHAPER.get_or_init(|| {
        let mut db = fontdb::Database::new();
        db.load_font_data(dejavu::sans_condensed::bold().to_vec());
        db.load_system_fonts();
        Mutex::new(Shaper {
            fonts: FontSystem::new_with_locale_and_db("en-US".to_owned(), db),
            outlines: SwashCache::new(),
        })
    })
}

/// Loads the fonts now rather than on the first thumbnail.
pub fn warm_up() {
    drop(shaper().lock());
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum HAlign {
    Left,
    Center,
    Right,
}

/// A box to set text in, in canvas pixels.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Frame {
    pub x: f32,
    pub y: f32,
    pub w: f32,
    pub h: f32,
}

/// Text laid out and turned into outlines.
pub(crate) struct Set {
    /// The ordinary words.
    pub plain: Option<Path>,
    /// The emphasised word.
    pub accent: Option<Path>,
    pub size: f32,
    /// The ink's bounds: where an arrow may point from.
    pub bounds: Frame,
}

/// No installed font has a glyph for this text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("no installed font can draw {0:?}")]
pub struct NoFont(pub String);

/// Sets `text` in `frame` at the largest size up to `max_size` that keeps
/// whole words on at most `max_lines` lines. `emphasis` is a byte range of
/// `text` drawn in the accent colour.
pub(crate) fn set(
    text: &str,
    frame: Frame,
    max_lines: usize,
    max_size: f32,
    align: HAlign,
    emphasis: Option<(usize, usize)>,
) -> Result<Set, NoFont> {
    let mut guard = shaper().lock().unwrap_or_else(|e| e.into_inner());
    let Shaper { fonts, outlines } = &mut *guard;
    let attrs = Attrs::new()
        .family(Family::Name("DejaVu Sans"))
        .weight(Weight::BOLD)
        .stretch(Stretch::Condensed);
    let align = match (align, right_to_left(text)) {
        (HAlign::Center, _) => Align::Center,
        (HAlign::Left, false) | (HAlign::Right, true) => Align::Left,
        (HAlign::Left, true) | (HAlign::Right, false) => Align::Right,
    };
    let mut buffer = Buffer::new(fonts, Metrics::new(max_size, max_size * LINE));
    let mut text_buffer = buffer.borrow_with(fonts);
    text_buffer.set_wrap(Wrap::Word);
    text_buffer.set_size(Some(frame.w), None);
    text_buffer.set_text(text, &attrs, Shaping::Advanced, Some(align));

    // Largest size that fits: shaping is done once, each try only lays out.
    let fits = |b: &mut cosmic_text::BorrowedWithFontSystem<'_, Buffer>, size: f32| {
        b.set_metrics(Metrics::new(size, size * LINE));
        b.shape_until_scroll(false);
        let (mut lines, mut widest) = (0usize, 0f32);
        for run in b.layout_runs() {
            lines += 1;
            widest = widest.max(run.line_w);
        }
        lines <= max_lines && lines as f32 * size * LINE <= frame.h && widest <= frame.w + 0.5
    };
    let (mut low, mut high) = (frame.h.min(frame.w) * 0.06, max_size);
    if fits(&mut text_buffer, high) {
        low = high;
    } else {
        for _ in 0..9 {
            let mid = (low + high) / 2.0;
            if fits(&mut text_buffer, mid) {
                low = mid;
            } else {
                high = mid;
            }
        }
        // A word too wide for the box at any size still gets drawn, small.
        fits(&mut text_buffer, low);
    }
    let size = low;

    let lines = buffer.layout_runs().count();
    let top = frame.y + (frame.h - lines as f32 * size * LINE) / 2.0;
    let mut plain = PathBuilder::new();
    let mut accent = PathBuilder::new();
    let mut missing = String::new();
    let (mut left, mut right) = (f32::MAX, f32::MIN);
    for run in buffer.layout_runs() {
        for glyph in run.glyphs {
            let cluster = &run.text[glyph.start..glyph.end];
            if glyph.glyph_id == 0 && !cluster.trim().is_empty() {
                missing.push_str(cluster);
                continue;
            }
            let physical = glyph.physical((0.0, 0.0), 1.0);
            let Some(commands) = outlines.get_outline_commands(fonts, physical.cache_key) else {
                continue;
            };
            let (ox, oy) = (
                frame.x + physical.x as f32,
                top + run.line_y + physical.y as f32,
            );
            left = left.min(ox);
            right = right.max(ox + glyph.w);
            let emphasised = emphasis.is_some_and(|(s, e)| glyph.start >= s && glyph.start < e);
            let target = if emphasised { &mut accent } else { &mut plain };
            trace(target, commands, ox, oy);
        }
    }
    if !missing.is_empty() {
        return Err(NoFont(missing));
    }
    let height = lines as f32 * size * LINE;
    Ok(Set {
        plain: plain.finish(),
        accent: accent.finish(),
        size,
        bounds: Frame {
            x: left.min(frame.x + frame.w),
            y: top,
            w: (right - left).max(0.0),
            h: height,
        },
    })
}

/// Appends a glyph's outline (y up, origin on the baseline) at `(x, y)`.
fn trace(path: &mut PathBuilder, commands: &[Command], x: f32, y: f32) {
    for command in commands {
        match *command {
            Command::MoveTo(p) => path.move_to(x + p.x, y - p.y),
            Command::LineTo(p) => path.line_to(x + p.x, y - p.y),
            Command::QuadTo(c, p) => path.quad_to(x + c.x, y - c.y, x + p.x, y - p.y),
            Command::CurveTo(c1, c2, p) => {
                path.cubic_to(x + c1.x, y - c1.y, x + c2.x, y - c2.y, x + p.x, y - p.y)
            }
            Command::Close => path.close(),
        }
    }
}

fn right_to_left(text: &str) -> bool {
    text.chars().find(|c| c.is_alphabetic()).is_some_and(
        |c| matches!(u32::from(c), 0x0590..=0x08FF | 0xFB1D..=0xFDFF | 0xFE70..=0xFEFF),
    )
}

/// How a headline is painted.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Ink {
    pub fill: [u8; 3],
    pub accent: [u8; 3],
    pub outline: [u8; 3],
    /// Stroke width outside the glyphs, as a share of the font size; 0 for
    /// flat text without outline or shadow.
    pub weight: f32,
}

/// Shadow, then outline, then fill.
pub(crate) fn paint(pixmap: &mut Pixmap, set: &Set, ink: Ink) {
    let stroke_width = set.size * ink.weight;
    let paths = [(&set.plain, ink.fill), (&set.accent, ink.accent)];
    if stroke_width > 0.0 {
        let offset = (stroke_width * 0.7).max(2.0);
        let stroke = Stroke {
            width: stroke_width * 2.0,
            line_join: LineJoin::Round,
            ..Stroke::default()
        };
        // Stroked once, filled twice: the shadow is the outline, moved.
        let outlines: Vec<Path> = paths
            .iter()
            .filter_map(|(path, _)| path.as_ref()?.stroke(&stroke, 1.0))
            .collect();
        let shifted = Transform::from_translate(offset, offset);
        // The shadow's edge hides under the outline but for its far rim, at
        // 60% black: without anti-aliasing it costs a third as much.
        let mut shadow = solid([0, 0, 0], 150);
        shadow.anti_alias = false;
        for (paint, at) in [
            (shadow, shifted),
            (solid(ink.outline, 255), Transform::identity()),
        ] {
            for outline in &outlines {
                pixmap.fill_path(outline, &paint, FillRule::Winding, at, None);
            }
        }
    }
    for (path, colour) in paths {
        if let Some(path) = path {
            pixmap.fill_path(
                path,
                &solid(colour, 255),
                FillRule::Winding,
                Transform::identity(),
                None,
            );
        }
    }
}

pub(crate) fn solid(rgb: [u8; 3], alpha: u8) -> Paint<'static> {
    let mut paint = Paint::default();
    paint.set_color(Color::from_rgba8(rgb[0], rgb[1], rgb[2], alpha));
    paint.anti_alias = true;
    paint
}

/// The free plan's overlay: staggered rows of translucent text and a solid
/// badge in the bottom-left corner (YouTube covers bottom-right with the
/// duration).
pub(crate) fn draw_watermark(pixmap: &mut Pixmap) {
    let (w, h) = (pixmap.width() as f32, pixmap.height() as f32);
    let size = (h * 0.055).max(14.0);
    let label_frame = Frame {
        x: 0.0,
        y: 0.0,
        w: w * 4.0,
        h: size * 2.0,
    };
    let Ok(label) = set(
        "THUMBFORGE PREVIEW",
        label_frame,
        1,
        size,
        HAlign::Left,
        None,
    ) else {
        return;
    };
    let Some(path) = label.plain else {
        return;
    };
    let label_w = label.bounds.w;
    let rows = solid([255, 255, 255], 82);
    let row_h = size * 2.6;
    let mut row: u32 = 0;
    let mut y = size * 0.6 - label.bounds.y;
    while y < h {
        let mut x = if row.is_multiple_of(2) {
            -label_w * 0.3
        } else {
            -label_w * 0.8
        };
        while x < w {
            pixmap.fill_path(
                &path,
                &rows,
                FillRule::Winding,
                Transform::from_translate(x, y),
                None,
            );
            x += label_w + size * 1.5;
        }
        y += row_h;
        row += 1;
    }

    let badge_size = size * 0.9;
    let Ok(badge) = set(
        "thumbforge free",
        Frame {
            x: 0.0,
            y: 0.0,
            w,
            h: badge_size * 1.6,
        },
        1,
        badge_size,
        HAlign::Left,
        None,
    ) else {
        return;
    };
    let (bw, bh) = (badge.bounds.w + size, size * 1.5);
    let (bx, by) = (size * 0.6, h - bh - size * 0.6);
    if let Some(rect) = resvg::tiny_skia::Rect::from_xywh(bx, by, bw, bh) {
        pixmap.fill_rect(rect, &solid([0, 0, 0], 200), Transform::identity(), None);
    }
    if let Some(text) = &badge.plain {
        let dx = bx + size * 0.5 - badge.bounds.x;
        let dy = by + (bh - badge.bounds.h) / 2.0 - badge.bounds.y;
        pixmap.fill_path(
            text,
            &solid([255, 255, 255], 255),
            FillRule::Winding,
            Transform::from_translate(dx, dy),
            None,
        );
    }
}
