//! The picture's elements on a tiny-skia canvas: backgrounds (a seeded
//! gradient with rays, glow and the setting's motif, or a photo), subjects
//! (a Twemoji sticker or a person's face cut-out) and accents (arrow, ring,
//! burst). Each is a few vector fills, which keeps a thumbnail to a few
//! milliseconds.

use image::{DynamicImage, RgbImage};
use rand::Rng;
use resvg::tiny_skia::{
    self, Color, FillRule, GradientStop, LineCap, LineJoin, LinearGradient, Paint, PathBuilder,
    Pattern, Pixmap, Point, RadialGradient, Rect, Shader, SpreadMode, Stroke, Transform,
};

use crate::{palette::Palette, prompt::Setting, text::solid};

fn colour(rgb: [f32; 3], alpha: f32) -> Color {
    Color::from_rgba(
        (rgb[0] / 255.0).clamp(0.0, 1.0),
        (rgb[1] / 255.0).clamp(0.0, 1.0),
        (rgb[2] / 255.0).clamp(0.0, 1.0),
        alpha.clamp(0.0, 1.0),
    )
    .unwrap_or(Color::BLACK)
}

fn u8s(rgb: [f32; 3]) -> [u8; 3] {
    rgb.map(|c| c.clamp(0.0, 255.0) as u8)
}

fn shader_paint(shader: Shader<'_>) -> Paint<'_> {
    Paint {
        shader,
        anti_alias: true,
        ..Paint::default()
    }
}

/// The seeded background: a gradient along a random angle, sunburst rays
/// and a glow around a focus, the setting's motif, and a vignette.
pub(crate) fn background(
    pixmap: &mut Pixmap,
    palette: &Palette,
    setting: Option<Setting>,
    focus: (f32, f32),
    rng: &mut impl Rng,
) {
    // The gradient, rays, glow and vignette have no fine detail: drawn at a
    // quarter of the size and scaled up, they cost a tenth as much.
    let (w, h) = (pixmap.width(), pixmap.height());
    let (sw, sh) = (w.div_ceil(4).max(1), h.div_ceil(4).max(1));
    let Some(mut small) = Pixmap::new(sw, sh) else {
        return;
    };
    let q = sw as f32 / w as f32;
    washes(&mut small, palette, (focus.0 * q, focus.1 * q), rng);
    if !upscale(&small, pixmap) {
        pixmap.fill(colour(palette.from, 1.0));
    }
    if let Some(setting) = setting {
        motif(pixmap, setting, palette, rng);
    }
}

fn washes(pixmap: &mut Pixmap, palette: &Palette, focus: (f32, f32), rng: &mut impl Rng) {
    let (w, h) = (pixmap.width() as f32, pixmap.height() as f32);
    let Some(full) = Rect::from_xywh(0.0, 0.0, w, h) else {
        return;
    };
    let angle: f32 = rng.random_range(0.0..std::f32::consts::TAU);
    let (dx, dy) = (angle.cos() * w / 2.0, angle.sin() * h / 2.0);
    if let Some(gradient) = LinearGradient::new(
        Point::from_xy(w / 2.0 - dx, h / 2.0 - dy),
        Point::from_xy(w / 2.0 + dx, h / 2.0 + dy),
        vec![
            GradientStop::new(0.0, colour(palette.from, 1.0)),
            GradientStop::new(1.0, colour(palette.to, 1.0)),
        ],
        SpreadMode::Pad,
        Transform::identity(),
    ) {
        pixmap.fill_rect(full, &shader_paint(gradient), Transform::identity(), None);
    }

    // Rays: wedges around the focus, every other one lit.
    let rays = rng.random_range(10..18);
    let twist: f32 = rng.random_range(0.0..1.0);
    let reach = w + h;
    let mut wedges = PathBuilder::new();
    for i in 0..rays {
        let a0 = (i as f32 + twist) / rays as f32 * std::f32::consts::TAU;
        let a1 = a0 + std::f32::consts::PI / rays as f32;
        wedges.move_to(focus.0, focus.1);
        wedges.line_to(focus.0 + a0.cos() * reach, focus.1 + a0.sin() * reach);
        wedges.line_to(focus.0 + a1.cos() * reach, focus.1 + a1.sin() * reach);
        wedges.close();
    }
    if let Some(path) = wedges.finish() {
        pixmap.fill_path(
            &path,
            &solid([255, 255, 255], 20),
            FillRule::Winding,
            Transform::identity(),
            None,
        );
    }
    radial(
        pixmap,
        focus,
        h * rng.random_range(0.45..0.65),
        palette.glow,
        0.6,
    );
    vignette(pixmap);
}

/// Scales `small` up over the whole of `pixmap` (bilinear, SIMD).
fn upscale(small: &Pixmap, pixmap: &mut Pixmap) -> bool {
    use fast_image_resize::{FilterType, PixelType, ResizeAlg, ResizeOptions, Resizer, images};
    let (w, h) = (pixmap.width(), pixmap.height());
    let Ok(source) =
        images::ImageRef::new(small.width(), small.height(), small.data(), PixelType::U8x4)
    else {
        return false;
    };
    let Ok(mut target) = images::Image::from_slice_u8(w, h, pixmap.data_mut(), PixelType::U8x4)
    else {
        return false;
    };
    let options = ResizeOptions::new()
        .resize_alg(ResizeAlg::Convolution(FilterType::Bilinear))
        .use_alpha(false);
    Resizer::new()
        .resize(&source, &mut target, &options)
        .is_ok()
}

/// A radial wash of `rgb`, `alpha` at the centre and clear at `r`; only
/// the circle's box is filled.
fn radial(pixmap: &mut Pixmap, centre: (f32, f32), r: f32, rgb: [f32; 3], alpha: f32) {
    let (w, h) = (pixmap.width() as f32, pixmap.height() as f32);
    let (x0, y0, x1, y1) = (
        (centre.0 - r).max(0.0),
        (centre.1 - r).max(0.0),
        (centre.0 + r).min(w),
        (centre.1 + r).min(h),
    );
    if let (Some(gradient), Some(rect)) = (
        RadialGradient::new(
            Point::from_xy(centre.0, centre.1),
            0.0,
            Point::from_xy(centre.0, centre.1),
            r,
            vec![
                GradientStop::new(0.0, colour(rgb, alpha)),
                GradientStop::new(1.0, colour(rgb, 0.0)),
            ],
            SpreadMode::Pad,
            Transform::identity(),
        ),
        Rect::from_ltrb(x0, y0, x1, y1),
    ) {
        pixmap.fill_rect(rect, &shader_paint(gradient), Transform::identity(), None);
    }
}

/// Dark edges, so the centre and the text pop.
fn vignette(pixmap: &mut Pixmap) {
    let (w, h) = (pixmap.width() as f32, pixmap.height() as f32);
    let Some(rect) = Rect::from_xywh(0.0, 0.0, w, h) else {
        return;
    };
    if let Some(gradient) = RadialGradient::new(
        Point::from_xy(w / 2.0, h / 2.0),
        0.0,
        Point::from_xy(w / 2.0, h / 2.0),
        (w * w + h * h).sqrt() / 2.0,
        vec![
            GradientStop::new(0.55, Color::from_rgba8(0, 0, 0, 0)),
            GradientStop::new(1.0, Color::from_rgba8(0, 0, 0, 120)),
        ],
        SpreadMode::Pad,
        Transform::identity(),
    ) {
        pixmap.fill_rect(rect, &shader_paint(gradient), Transform::identity(), None);
    }
}

/// What the setting adds: stars, snowflakes, a skyline, dunes or hills,
/// flames.
fn motif(pixmap: &mut Pixmap, setting: Setting, palette: &Palette, rng: &mut impl Rng) {
    let (w, h) = (pixmap.width() as f32, pixmap.height() as f32);
    let mut shapes = PathBuilder::new();
    let (rgb, alpha) = match setting {
        Setting::Space | Setting::Snow => {
            for _ in 0..70 {
                let r = h * rng.random_range(0.002..0.007);
                shapes.push_circle(
                    w * rng.random_range(0.0..1.0),
                    h * rng.random_range(0.0..1.0),
                    r,
                );
            }
            ([255.0, 255.0, 255.0], 0.85)
        }
        Setting::City | Setting::Office => {
            let mut x = 0.0;
            shapes.move_to(0.0, h);
            while x < w {
                let top = h * rng.random_range(0.62..0.88);
                let next = x + w * rng.random_range(0.04..0.09);
                shapes.line_to(x, top);
                shapes.line_to(next, top);
                x = next;
            }
            shapes.line_to(w, h);
            shapes.close();
            (scale(palette.from, 0.5), 0.9)
        }
        Setting::Beach | Setting::Desert | Setting::Forest => {
            for i in 0..3 {
                let cx = w * (0.15 + 0.35 * i as f32) + w * rng.random_range(-0.05..0.05);
                shapes.push_oval(
                    Rect::from_xywh(
                        cx - w * 0.35,
                        h * rng.random_range(0.72..0.82),
                        w * 0.7,
                        h * 0.6,
                    )
                    .unwrap_or(Rect::from_xywh(0.0, 0.0, 1.0, 1.0).expect("unit rect")),
                );
            }
            let ground = match setting {
                Setting::Beach => [235.0, 200.0, 140.0],
                Setting::Desert => [210.0, 140.0, 60.0],
                _ => [20.0, 80.0, 40.0],
            };
            (ground, 0.85)
        }
        Setting::Fire => {
            let mut x = -w * 0.02;
            shapes.move_to(x, h);
            while x < w {
                let peak = h * rng.random_range(0.55..0.8);
                let step = w * rng.random_range(0.03..0.06);
                shapes.quad_to(x + step * 0.2, peak, x + step * 0.5, peak);
                shapes.quad_to(x + step * 0.8, peak, x + step, h * 0.92);
                x += step;
            }
            shapes.line_to(w, h);
            shapes.close();
            ([255.0, 120.0, 20.0], 0.75)
        }
    };
    if let Some(path) = shapes.finish() {
        let mut paint = Paint::default();
        paint.set_color(colour(rgb, alpha));
        paint.anti_alias = true;
        pixmap.fill_path(
            &path,
            &paint,
            FillRule::Winding,
            Transform::identity(),
            None,
        );
    }
}

fn scale(rgb: [f32; 3], by: f32) -> [f32; 3] {
    rgb.map(|c| c * by)
}

/// A photo covering the canvas, darkened towards the bottom where text and
/// YouTube's timestamp sit; `blur` softens it into a backdrop.
pub(crate) fn photo(pixmap: &mut Pixmap, image: &DynamicImage, darken: f32, blur: bool) {
    let (w, h) = (pixmap.width(), pixmap.height());
    let fitted = if blur {
        // Down to a few dozen pixels and back up: a wide blur for the
        // price of two resizes.
        let small = crate::normalize(image.clone(), (w / 24).max(2), (h / 24).max(2));
        crate::normalize(DynamicImage::ImageRgb8(small), w, h)
    } else {
        crate::normalize(image.clone(), w, h)
    };
    let mut shade = 1.0 - darken;
    for (i, (dst, src)) in pixmap
        .data_mut()
        .chunks_exact_mut(4)
        .zip(fitted.as_raw().chunks_exact(3))
        .enumerate()
    {
        if i % w as usize == 0 {
            let y = (i / w as usize) as f32 / h as f32;
            shade = 1.0 - (darken + 0.2 * y).min(0.95);
        }
        dst[0] = (src[0] as f32 * shade) as u8;
        dst[1] = (src[1] as f32 * shade) as u8;
        dst[2] = (src[2] as f32 * shade) as u8;
        dst[3] = 255;
    }
}

/// A Twemoji sticker of `size` pixels centred at `centre`: a white outline
/// and a drop shadow, as cut-out stickers on thumbnails have. `tilt` is in
/// degrees. The outline is the same SVG with every shape recoloured and
/// stroked, drawn straight onto the canvas: stamping a raster copy around a
/// circle cost five times as long.
pub(crate) fn sticker(pixmap: &mut Pixmap, emoji: &str, centre: (f32, f32), size: f32, tilt: f32) {
    let Some(asset) = crate::prompt::asset(emoji) else {
        return;
    };
    let svg: &str = asset;
    let Ok(art) = resvg::usvg::Tree::from_str(svg, &resvg::usvg::Options::default()) else {
        return;
    };
    let (vw, vh) = (art.size().width(), art.size().height());
    let k = size / vw.max(vh);
    let border = (size * 0.045).max(3.0) / k;
    let place = Transform::from_translate(centre.0, centre.1)
        .pre_rotate(tilt)
        .pre_scale(k, k)
        .pre_translate(-vw / 2.0, -vh / 2.0);
    // A soft shadow under the sticker: a radial wash costs a tenth of a
    // second silhouette.
    let drop = size * 0.08;
    radial(
        pixmap,
        (centre.0 + drop, centre.1 + drop),
        size * 0.6,
        [0.0; 3],
        0.55,
    );
    if let Ok(outline) = resvg::usvg::Tree::from_str(
        &silhouette(svg, "#FFF", border * 2.0),
        &resvg::usvg::Options::default(),
    ) {
        resvg::render(&outline, place, &mut pixmap.as_mut());
    }
    resvg::render(&art, place, &mut pixmap.as_mut());
}

/// The SVG with every shape in one colour and stroked `width` wide.
fn silhouette(svg: &str, colour: &str, width: f32) -> String {
    let body_start = svg.find('>').map_or(0, |i| i + 1);
    let body_end = svg.rfind("</svg>").unwrap_or(svg.len());
    let body = recolour(&svg[body_start..body_end], "fill=\"", colour);
    let body = recolour(&body, "stroke=\"", colour);
    format!(
        r#"{}<g fill="{colour}" stroke="{colour}" stroke-width="{width}" stroke-linejoin="round">{body}</g></svg>"#,
        &svg[..body_start]
    )
}

/// Every value of `attribute` (up to its opening quote) set to `colour`,
/// except `none`.
fn recolour(text: &str, attribute: &str, colour: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find(attribute) {
        let value = i + attribute.len();
        let end = rest[value..].find('"').map_or(rest.len(), |e| value + e);
        out.push_str(&rest[..value]);
        out.push_str(if &rest[value..end] == "none" {
            "none"
        } else {
            colour
        });
        rest = &rest[end..];
    }
    out.push_str(rest);
    out
}

/// A person as a round face cut-out: the picture's upper middle in a
/// circle, with a thick white ring and a shadow.
pub(crate) fn face(pixmap: &mut Pixmap, person: &DynamicImage, centre: (f32, f32), size: f32) {
    let d = size.round().max(8.0) as u32;
    // Faces sit in the upper part of a portrait: crop a square from there.
    let (pw, ph) = (person.width(), person.height());
    let side = pw.min(ph);
    let top = if ph > pw { (ph - side) / 5 } else { 0 };
    let square = person.crop_imm((pw - side) / 2, top, side, side);
    let fitted = crate::normalize(square, d, d);
    let Some(photo) = from_rgb(&fitted) else {
        return;
    };
    let r = size / 2.0;
    let ring = size * 0.05;
    let Some(circle) = PathBuilder::from_circle(centre.0, centre.1, r) else {
        return;
    };
    let shadow_at = Transform::from_translate(ring * 1.2, ring * 1.2);
    if let Some(outer) = PathBuilder::from_circle(centre.0, centre.1, r + ring) {
        pixmap.fill_path(
            &outer,
            &solid([0, 0, 0], 110),
            FillRule::Winding,
            shadow_at,
            None,
        );
        pixmap.fill_path(
            &outer,
            &solid([255, 255, 255], 255),
            FillRule::Winding,
            Transform::identity(),
            None,
        );
    }
    let pattern = Pattern::new(
        photo.as_ref(),
        SpreadMode::Pad,
        tiny_skia::FilterQuality::Bilinear,
        1.0,
        Transform::from_translate(centre.0 - r, centre.1 - r),
    );
    pixmap.fill_path(
        &circle,
        &shader_paint(pattern),
        FillRule::Winding,
        Transform::identity(),
        None,
    );
}

/// What points at the subject.
pub(crate) fn arrow(
    pixmap: &mut Pixmap,
    from: (f32, f32),
    to: (f32, f32),
    width: f32,
    rgb: [f32; 3],
) {
    let (dx, dy) = (to.0 - from.0, to.1 - from.1);
    let len = (dx * dx + dy * dy).sqrt();
    if len < width * 2.0 {
        return;
    }
    let (ux, uy) = (dx / len, dy / len);
    let (nx, ny) = (-uy, ux);
    let head = width * 2.2;
    let neck = (to.0 - ux * head, to.1 - uy * head);
    let half = width / 2.0;
    let mut pb = PathBuilder::new();
    pb.move_to(from.0 + nx * half, from.1 + ny * half);
    pb.line_to(neck.0 + nx * half, neck.1 + ny * half);
    pb.line_to(neck.0 + nx * head * 0.75, neck.1 + ny * head * 0.75);
    pb.line_to(to.0, to.1);
    pb.line_to(neck.0 - nx * head * 0.75, neck.1 - ny * head * 0.75);
    pb.line_to(neck.0 - nx * half, neck.1 - ny * half);
    pb.line_to(from.0 - nx * half, from.1 - ny * half);
    pb.close();
    if let Some(path) = pb.finish() {
        outlined(pixmap, &path, rgb, width * 0.35);
    }
}

/// A ring around the subject.
pub(crate) fn ring(pixmap: &mut Pixmap, centre: (f32, f32), r: f32, width: f32, rgb: [f32; 3]) {
    let Some(circle) = PathBuilder::from_circle(centre.0, centre.1, r) else {
        return;
    };
    let dark = Stroke {
        width: width * 1.6,
        ..Stroke::default()
    };
    pixmap.stroke_path(
        &circle,
        &solid([15, 12, 20], 255),
        &dark,
        Transform::identity(),
        None,
    );
    let bright = Stroke {
        width,
        ..Stroke::default()
    };
    pixmap.stroke_path(
        &circle,
        &solid(u8s(rgb), 255),
        &bright,
        Transform::identity(),
        None,
    );
}

/// A comic-book burst behind the subject.
pub(crate) fn burst(
    pixmap: &mut Pixmap,
    centre: (f32, f32),
    r: f32,
    rgb: [f32; 3],
    rng: &mut impl Rng,
) {
    let points = 14;
    let mut pb = PathBuilder::new();
    for i in 0..points * 2 {
        let a = i as f32 / (points * 2) as f32 * std::f32::consts::TAU;
        let reach = if i % 2 == 0 {
            r * rng.random_range(0.92..1.08)
        } else {
            r * 0.68
        };
        let (x, y) = (centre.0 + a.cos() * reach, centre.1 + a.sin() * reach);
        if i == 0 {
            pb.move_to(x, y);
        } else {
            pb.line_to(x, y);
        }
    }
    pb.close();
    if let Some(path) = pb.finish() {
        outlined(pixmap, &path, rgb, r * 0.03);
    }
}

/// A dark outline, then the colour.
fn outlined(pixmap: &mut Pixmap, path: &tiny_skia::Path, rgb: [f32; 3], outline: f32) {
    let stroke = Stroke {
        width: outline * 2.0,
        line_join: LineJoin::Round,
        line_cap: LineCap::Round,
        ..Stroke::default()
    };
    pixmap.stroke_path(
        path,
        &solid([15, 12, 20], 255),
        &stroke,
        Transform::identity(),
        None,
    );
    pixmap.fill_path(
        path,
        &solid(u8s(rgb), 255),
        FillRule::Winding,
        Transform::identity(),
        None,
    );
}

pub(crate) fn to_rgb(pixmap: &Pixmap) -> RgbImage {
    let mut out = vec![0u8; (pixmap.width() * pixmap.height() * 3) as usize];
    for (dst, src) in out.chunks_exact_mut(3).zip(pixmap.data().chunks_exact(4)) {
        dst.copy_from_slice(&src[..3]);
    }
    RgbImage::from_raw(pixmap.width(), pixmap.height(), out).unwrap_or_default()
}

pub(crate) fn from_rgb(image: &RgbImage) -> Option<Pixmap> {
    let mut pixmap = Pixmap::new(image.width(), image.height())?;
    for (dst, src) in pixmap
        .data_mut()
        .chunks_exact_mut(4)
        .zip(image.as_raw().chunks_exact(3))
    {
        dst[..3].copy_from_slice(src);
        dst[3] = 255;
    }
    Some(pixmap)
}
