//! The headline: chosen from the prompt, wrapped into balanced lines, sized
//! to the largest font that fits, then drawn with a thick dark outline and a
//! soft shadow so it stays legible at 168x94.

use std::sync::OnceLock;

use ab_glyph::{Font, FontRef, Glyph, GlyphId, PxScale, ScaleFont, point};
use image::{GrayImage, Luma, RgbImage};
use imageproc::{
    distance_transform::euclidean_squared_distance_transform, filter::gaussian_blur_f32,
};

use crate::{background::Palette, lerp_rgb};

fn font() -> &'static FontRef<'static> {
    static FONT: OnceLock<FontRef<'static>> = OnceLock::new();
    FONT.get_or_init(|| {
        FontRef::try_from_slice(dejavu::sans_condensed::bold())
            .expect("the embedded DejaVu font parses")
    })
}

const MAX_WORDS: usize = 9;
const OUTLINE: [f32; 3] = [12.0, 10.0, 18.0];
const WHITE: [f32; 3] = [255.0, 255.0, 255.0];

/// Picks the headline a prompt implies: quoted text if there is any,
/// otherwise the first clause, at most nine words.
pub fn headline_from_prompt(prompt: &str) -> String {
    for (open, close) in [('"', '"'), ('“', '”'), ('\'', '\''), ('«', '»')] {
        if let Some(start) = prompt.find(open) {
            let rest = &prompt[start + open.len_utf8()..];
            if let Some(end) = rest.find(close) {
                let quoted = rest[..end].trim();
                if !quoted.is_empty() {
                    return quoted.to_owned();
                }
            }
        }
    }
    let clause = prompt
        .split(['.', '!', '?', ',', ';', ':', '\n'])
        .map(str::trim)
        .find(|s| !s.is_empty())
        .unwrap_or(prompt);
    clause
        .split_whitespace()
        .take(MAX_WORDS)
        .collect::<Vec<_>>()
        .join(" ")
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Align {
    Center,
    Left,
}

/// One word: its drawable glyph ids (characters the font lacks are dropped)
/// and its width at 1 px.
struct Word {
    glyphs: Vec<GlyphId>,
    unit_width: f32,
    emphasis: bool,
}

fn shape(text: &str) -> Vec<GlyphId> {
    let f = font();
    text.chars()
        .map(|c| f.glyph_id(c))
        .filter(|id| id.0 != 0)
        .collect()
}

fn unit_width(glyphs: &[GlyphId]) -> f32 {
    let sf = font().as_scaled(PxScale::from(1.0));
    let mut width = 0.0;
    let mut prev: Option<GlyphId> = None;
    for &id in glyphs {
        if let Some(p) = prev {
            width += sf.kern(p, id);
        }
        width += sf.h_advance(id);
        prev = Some(id);
    }
    width
}

/// Splits `widths` into `lines` contiguous groups minimising the widest
/// group (words are few, so exhaustive DP is cheap). Returns group ends.
fn balance(widths: &[f32], space: f32, lines: usize) -> (f32, Vec<usize>) {
    let n = widths.len();
    let span = |a: usize, b: usize| -> f32 {
        widths[a..b].iter().sum::<f32>() + space * (b - a - 1) as f32
    };
    // best[k][i]: minimal max width placing the first i words on k lines.
    let mut best = vec![vec![f32::INFINITY; n + 1]; lines + 1];
    let mut cut = vec![vec![0usize; n + 1]; lines + 1];
    best[0][0] = 0.0;
    for k in 1..=lines {
        for i in 1..=n {
            for j in (k - 1)..i {
                let cand = best[k - 1][j].max(span(j, i));
                if cand < best[k][i] {
                    best[k][i] = cand;
                    cut[k][i] = j;
                }
            }
        }
    }
    let mut ends = Vec::with_capacity(lines);
    let mut i = n;
    for k in (1..=lines).rev() {
        ends.push(i);
        i = cut[k][i];
    }
    ends.reverse();
    (best[lines][n], ends)
}

pub(crate) fn draw_headline(
    canvas: &mut RgbImage,
    headline: &str,
    palette: &Palette,
    align: Align,
    uppercase: bool,
    outline_weight: f32,
) {
    let upper = if uppercase {
        headline.to_uppercase()
    } else {
        headline.to_owned()
    };
    let mut words: Vec<Word> = upper
        .split_whitespace()
        .take(MAX_WORDS)
        .map(|w| {
            let glyphs = shape(w);
            let unit_width = unit_width(&glyphs);
            Word {
                glyphs,
                unit_width,
                emphasis: false,
            }
        })
        .filter(|w| !w.glyphs.is_empty())
        .collect();
    if words.is_empty() {
        return;
    }
    if words.len() > 1 {
        let longest = (0..words.len())
            .max_by(|&a, &b| words[a].unit_width.total_cmp(&words[b].unit_width))
            .unwrap_or(0);
        words[longest].emphasis = true;
    }

    let (w, h) = (canvas.width() as f32, canvas.height() as f32);
    let box_w = w * 0.86;
    let box_h = h * 0.70;
    let line_advance = 1.02; // in ems; uppercase needs little leading
    let space = unit_width(&shape(" "));
    let widths: Vec<f32> = words.iter().map(|w| w.unit_width).collect();
    let max_lines = if w / h > 1.5 { 3 } else { 4 }.min(words.len());

    // The line count that allows the largest font wins.
    let (size, ends) = (1..=max_lines)
        .map(|lines| {
            let (widest, ends) = balance(&widths, space, lines);
            let size = (box_w / widest).min(box_h / (lines as f32 * line_advance));
            (size.min(h * 0.42), ends)
        })
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .unwrap_or((h * 0.2, vec![words.len()]));

    let scale = PxScale::from(size);
    let sf = font().as_scaled(scale);
    let (cw, ch) = canvas.dimensions();
    let mut fill = GrayImage::new(cw, ch);
    let mut accent = GrayImage::new(cw, ch);

    let lines = ends.len();
    let block_h = size * line_advance * lines as f32;
    let cap = sf.ascent() * 0.72; // visual centre of capitals
    let top = (h - block_h) / 2.0;
    let left = (w - box_w) / 2.0;
    let mut start = 0;
    for (line_no, &end) in ends.iter().enumerate() {
        let line = &words[start..end];
        let line_w = line.iter().map(|w| w.unit_width).sum::<f32>() * size
            + space * size * (line.len().saturating_sub(1)) as f32;
        let mut x = match align {
            Align::Center => (w - line_w) / 2.0,
            Align::Left => left,
        };
        let baseline = top + size * line_advance * (line_no as f32 + 0.5) + cap / 2.0;
        for word in line {
            let target = if word.emphasis {
                &mut accent
            } else {
                &mut fill
            };
            x = draw_word(target, &word.glyphs, scale, x, baseline) + space * size;
        }
        start = end;
    }

    let stroke = if outline_weight > 0.0 {
        (size * outline_weight).max(2.0)
    } else {
        0.0
    };
    composite(canvas, &fill, &accent, palette, stroke);
}

fn draw_word(
    mask: &mut GrayImage,
    glyphs: &[GlyphId],
    scale: PxScale,
    x0: f32,
    baseline: f32,
) -> f32 {
    let f = font();
    let sf = f.as_scaled(scale);
    let mut x = x0;
    let mut prev: Option<GlyphId> = None;
    for &id in glyphs {
        if let Some(p) = prev {
            x += sf.kern(p, id);
        }
        let glyph: Glyph = id.with_scale_and_position(scale, point(x, baseline));
        if let Some(outlined) = f.outline_glyph(glyph) {
            let bounds = outlined.px_bounds();
            outlined.draw(|gx, gy, coverage| {
                let px = bounds.min.x as i32 + gx as i32;
                let py = bounds.min.y as i32 + gy as i32;
                if px >= 0 && py >= 0 && (px as u32) < mask.width() && (py as u32) < mask.height() {
                    let v = (coverage * 255.0).round() as u8;
                    let cur = mask.get_pixel_mut(px as u32, py as u32);
                    cur.0[0] = cur.0[0].max(v);
                }
            });
        }
        x += sf.h_advance(id);
        prev = Some(id);
    }
    x
}

/// Shadow, then outline, then fill, each an alpha mask over the canvas.
fn composite(
    canvas: &mut RgbImage,
    fill: &GrayImage,
    accent: &GrayImage,
    palette: &Palette,
    stroke: f32,
) {
    let (w, h) = canvas.dimensions();
    if stroke <= 0.0 {
        // Flat text: no outline, no shadow.
        for (x, y, p) in canvas.enumerate_pixels_mut() {
            let f = fill.get_pixel(x, y).0[0] as f32 / 255.0;
            let a = accent.get_pixel(x, y).0[0] as f32 / 255.0;
            if f + a > 0.0 {
                *p = lerp_rgb(*p, WHITE, f);
                *p = lerp_rgb(*p, palette.accent, a);
            }
        }
        return;
    }
    let solid = GrayImage::from_fn(w, h, |x, y| {
        let v = fill.get_pixel(x, y).0[0].max(accent.get_pixel(x, y).0[0]);
        Luma([if v >= 110 { 255 } else { 0 }])
    });
    let dist = euclidean_squared_distance_transform(&solid);
    let outline = GrayImage::from_fn(w, h, |x, y| {
        let d = dist.get_pixel(x, y).0[0].sqrt() as f32;
        Luma([((stroke + 0.5 - d).clamp(0.0, 1.0) * 255.0) as u8])
    });
    let offset = (stroke * 0.6).round() as u32;
    let shifted = GrayImage::from_fn(w, h, |x, y| {
        if x >= offset && y >= offset {
            *outline.get_pixel(x - offset, y - offset)
        } else {
            Luma([0])
        }
    });
    let shadow = gaussian_blur_f32(&shifted, (stroke * 0.8).max(1.0));

    for (x, y, p) in canvas.enumerate_pixels_mut() {
        let s = shadow.get_pixel(x, y).0[0] as f32 / 255.0;
        let o = outline.get_pixel(x, y).0[0] as f32 / 255.0;
        let f = fill.get_pixel(x, y).0[0] as f32 / 255.0;
        let a = accent.get_pixel(x, y).0[0] as f32 / 255.0;
        if s + o + f + a == 0.0 {
            continue;
        }
        *p = lerp_rgb(*p, [0.0, 0.0, 0.0], s * 0.6);
        *p = lerp_rgb(*p, OUTLINE, o);
        *p = lerp_rgb(*p, WHITE, f);
        *p = lerp_rgb(*p, palette.accent, a);
    }
}

pub(crate) fn draw_watermark(image: &mut RgbImage) {
    let (w, h) = image.dimensions();
    let size = (h as f32 * 0.055).max(14.0);
    let scale = PxScale::from(size);
    let label = shape("THUMBFORGE PREVIEW");
    let label_w = unit_width(&label) * size;
    let mut mask = GrayImage::new(w, h);
    let row_h = size * 2.6;
    let mut row: u32 = 0;
    let mut y = size * 1.6;
    while y < h as f32 + size {
        let mut x = if row.is_multiple_of(2) {
            -label_w * 0.3
        } else {
            -label_w * 0.8
        };
        while x < w as f32 {
            x = draw_word(&mut mask, &label, scale, x, y) + size * 1.5;
        }
        y += row_h;
        row += 1;
    }
    for (x, y, p) in image.enumerate_pixels_mut() {
        let m = mask.get_pixel(x, y).0[0] as f32 / 255.0;
        if m > 0.0 {
            *p = lerp_rgb(*p, WHITE, m * 0.32);
        }
    }

    // A solid badge in the bottom-left corner (YouTube covers bottom-right
    // with the duration).
    let badge_size = PxScale::from(size * 0.9);
    let badge = shape("thumbforge free");
    let bw = (unit_width(&badge) * size * 0.9 + size) as u32;
    let bh = (size * 1.5) as u32;
    let (bx, by) = (
        (size * 0.6) as u32,
        h.saturating_sub(bh + (size * 0.6) as u32),
    );
    for y in by..(by + bh).min(h) {
        for x in bx..(bx + bw).min(w) {
            let p = image.get_pixel_mut(x, y);
            *p = lerp_rgb(*p, [0.0, 0.0, 0.0], 0.78);
        }
    }
    let mut badge_mask = GrayImage::new(w, h);
    draw_word(
        &mut badge_mask,
        &badge,
        badge_size,
        bx as f32 + size * 0.5,
        by as f32 + bh as f32 * 0.7,
    );
    for (x, y, p) in image.enumerate_pixels_mut() {
        let m = badge_mask.get_pixel(x, y).0[0] as f32 / 255.0;
        if m > 0.0 {
            *p = lerp_rgb(*p, WHITE, m);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoted_text_wins_then_first_clause() {
        assert_eq!(
            headline_from_prompt("a man shouting \"I QUIT\" at a desk"),
            "I QUIT"
        );
        assert_eq!(
            headline_from_prompt("Rust in 100 seconds. Dark theme"),
            "Rust in 100 seconds"
        );
        assert_eq!(
            headline_from_prompt("one two three four five six seven eight nine ten eleven"),
            "one two three four five six seven eight nine"
        );
    }

    #[test]
    fn balance_splits_evenly() {
        let (widest, ends) = balance(&[1.0, 1.0, 1.0, 1.0], 0.0, 2);
        assert_eq!(ends, vec![2, 4]);
        assert!((widest - 2.0).abs() < 1e-6);
    }
}
