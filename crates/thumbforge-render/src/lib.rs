#![doc = include_str!("../README.md")]

mod draw;
mod encode;
mod palette;
mod prompt;
mod text;

use fast_image_resize::{ResizeAlg, ResizeOptions, Resizer};
use image::{DynamicImage, RgbImage, imageops};
use rand::Rng;
use resvg::tiny_skia::Pixmap;

pub use encode::{EncodeError, Encoded, encode, encode_png, fits};
pub use prompt::headline_from_prompt;
pub use text::{NoFont, warm_up};

use crate::{
    palette::Palette,
    prompt::{Accent, Scene},
    text::{Frame, HAlign, Ink},
};

#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    #[error("encoding PNG: {0}")]
    Encode(#[from] image::ImageError),
    /// The headline is in a script no installed font covers.
    #[error(transparent)]
    NoFont(#[from] NoFont),
    #[error("a {0}x{1} canvas cannot be drawn")]
    Size(u32, u32),
}

/// What to draw. `variation` makes the thumbnails of one generation differ
/// (layout, subject placement, palette and accent) while staying
/// deterministic.
#[derive(Debug, Clone, Copy)]
pub struct RenderSpec<'a> {
    pub width: u32,
    pub height: u32,
    pub prompt: &'a str,
    /// The headline to draw; distilled from the prompt when `None`.
    pub headline: Option<&'a str>,
    pub variation: u32,
    /// A reference image, cover-cropped and darkened under everything.
    pub background: Option<&'a DynamicImage>,
    /// People to show as the subject, as round face cut-outs.
    pub people: &'a [DynamicImage],
    /// Images whose colours steer the palette (and, on odd variants, a
    /// blurred backdrop).
    pub inspirations: &'a [DynamicImage],
    /// A style preset: palette and headline treatment.
    pub style: Option<&'a Style>,
}

impl<'a> RenderSpec<'a> {
    /// A prompt alone at a size: no title, references or style.
    pub fn new(width: u32, height: u32, prompt: &'a str) -> RenderSpec<'a> {
        RenderSpec {
            width,
            height,
            prompt,
            headline: None,
            variation: 0,
            background: None,
            people: &[],
            inspirations: &[],
            style: None,
        }
    }
}

/// A style preset (Flokan's `style_id`): the palette and how the headline
/// is set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Style {
    pub background_from: [u8; 3],
    pub background_to: [u8; 3],
    /// The emphasised word's colour.
    pub accent: [u8; 3],
    /// The headline in capitals (the default look) or as written.
    pub uppercase: bool,
    pub outline: Outline,
}

/// The headline's outline.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outline {
    /// The default: a heavy outline and shadow that read at 168x94.
    Thick,
    Thin,
    /// Flat text, no outline or shadow.
    None,
}

impl Outline {
    /// Stroke width outside the glyphs as a share of the font size.
    fn weight(self) -> f32 {
        match self {
            Outline::Thick => 0.075,
            Outline::Thin => 0.035,
            Outline::None => 0.0,
        }
    }
}

const RED: [f32; 3] = [235.0, 30.0, 45.0];
const YELLOW: [f32; 3] = [255.0, 214.0, 10.0];

/// Where things go on one variant, in canvas pixels.
struct Layout {
    /// Centre and size of the main subject, and of a second one.
    main: ((f32, f32), f32),
    second: ((f32, f32), f32),
    text: Frame,
    align: HAlign,
    max_lines: usize,
    max_size: f32,
    /// Where an arrow comes from, as a unit direction from the subject.
    arrow: (f32, f32),
}

impl Layout {
    fn pick(variation: u32, w: f32, h: f32, subject: bool, words: bool) -> Layout {
        let frame = |x: f32, y: f32, fw: f32, fh: f32| Frame {
            x: x * w,
            y: y * h,
            w: fw * w,
            h: fh * h,
        };
        let at = |x: f32, y: f32, size: f32| ((x * w, y * h), size * h);
        // Side-by-side layouts need room for both; a square canvas stacks.
        let wide = w / h > 1.5;
        if !subject {
            return Layout {
                main: at(0.5, 0.5, 0.0),
                second: at(0.5, 0.5, 0.0),
                text: frame(0.07, 0.08, 0.86, 0.84),
                align: if variation.is_multiple_of(2) {
                    HAlign::Center
                } else {
                    HAlign::Left
                },
                max_lines: 4,
                max_size: h * 0.42,
                arrow: (-0.8, 0.6),
            };
        }
        if !words {
            let (x, y) =
                [(0.5, 0.5), (0.38, 0.52), (0.62, 0.48), (0.5, 0.55)][variation as usize % 4];
            return Layout {
                main: at(x, y, 0.8),
                second: at(x + 0.22, y + 0.24, 0.36),
                text: frame(0.0, 0.0, 0.0, 0.0),
                align: HAlign::Center,
                max_lines: 1,
                max_size: 0.0,
                arrow: (-0.8, 0.6),
            };
        }
        match (variation % 4, wide) {
            (0, true) => Layout {
                main: at(0.735, 0.52, 0.80),
                second: at(0.92, 0.80, 0.32),
                text: frame(0.04, 0.06, 0.50, 0.88),
                align: HAlign::Left,
                max_lines: 4,
                max_size: h * 0.24,
                arrow: (-0.8, 0.6),
            },
            (1, true) => Layout {
                main: at(0.265, 0.52, 0.80),
                second: at(0.08, 0.80, 0.32),
                text: frame(0.47, 0.06, 0.49, 0.88),
                align: HAlign::Right,
                max_lines: 4,
                max_size: h * 0.24,
                arrow: (0.8, 0.6),
            },
            (0 | 2, _) => Layout {
                main: at(0.5, 0.69, 0.56),
                second: at(0.80, 0.76, 0.32),
                text: frame(0.04, 0.03, 0.92, 0.38),
                align: HAlign::Center,
                max_lines: 2,
                max_size: h * 0.2,
                arrow: (-1.0, 0.0),
            },
            _ => Layout {
                main: at(0.7, 0.34, 0.58),
                second: at(0.2, 0.30, 0.34),
                text: frame(0.04, 0.62, 0.92, 0.35),
                align: HAlign::Center,
                max_lines: 2,
                max_size: h * 0.17,
                arrow: (-0.98, 0.2),
            },
        }
    }
}

/// One thing the picture shows.
enum Subject<'a> {
    Person(&'a DynamicImage),
    Emoji(&'static str),
}

/// Renders a thumbnail. Pure: the same spec gives the same pixels.
pub fn render(spec: &RenderSpec<'_>) -> Result<RgbImage, RenderError> {
    let (width, height) = (spec.width, spec.height);
    let mut pixmap = Pixmap::new(width, height).ok_or(RenderError::Size(width, height))?;
    let (w, h) = (width as f32, height as f32);
    let mut rng = seeded_rng(spec.prompt, spec.variation);
    let scene = Scene::read(spec.prompt);

    let written = spec
        .headline
        .map(prompt::shorten)
        .unwrap_or_else(|| headline_from_prompt(spec.prompt));
    let headline = prompt::without_emoji(&written);
    let mut subjects: Vec<Subject<'_>> = spec.people.iter().take(1).map(Subject::Person).collect();
    let mut emoji = prompt::emoji_in(&written);
    for e in &scene.subjects {
        if !emoji.contains(e) {
            emoji.push(e);
        }
    }
    subjects.extend(emoji.into_iter().map(Subject::Emoji));
    subjects.truncate(2);
    if headline.is_empty() && subjects.is_empty() {
        // Nothing a font or Twemoji can draw: say so rather than succeed
        // with a blank picture.
        return Err(NoFont(written.trim().to_owned()).into());
    }

    // Picked even when something else decides, so the seeded choices that
    // follow stay the same.
    let seeded = Palette::pick(&mut rng, spec.variation);
    let palette = match (
        spec.style,
        spec.inspirations.first(),
        scene.colour,
        scene.setting,
    ) {
        (Some(style), ..) => Palette::from_style(style),
        (None, Some(image), ..) => Palette::from_image(image),
        (None, None, Some(colour), _) => Palette::from_colour(colour),
        (None, None, None, Some(setting)) => Palette::from_setting(setting),
        (None, None, None, None) => seeded,
    };
    let layout = Layout::pick(
        spec.variation,
        w,
        h,
        !subjects.is_empty(),
        !headline.is_empty(),
    );

    match (spec.background, spec.inspirations.first()) {
        (Some(reference), _) => draw::photo(&mut pixmap, reference, 0.45, false),
        (None, Some(inspiration)) if spec.variation % 2 == 1 => {
            draw::photo(&mut pixmap, inspiration, 0.3, true)
        }
        _ => draw::background(
            &mut pixmap,
            &palette,
            scene.setting,
            layout.main.0,
            &mut rng,
        ),
    }

    let accent = scene.accent.unwrap_or(
        [Accent::Arrow, Accent::Circle, Accent::Burst, Accent::Arrow][spec.variation as usize % 4],
    );
    let mark = scene
        .accent_colour
        .unwrap_or(if palette.to[0] > 150.0 && palette.to[2] < 120.0 {
            YELLOW
        } else {
            RED
        });
    let ((centre, size), (second_at, second_size)) = (layout.main, layout.second);
    if !subjects.is_empty() && accent == Accent::Burst {
        draw::burst(&mut pixmap, centre, size * 0.62, palette.accent, &mut rng);
    }
    for (i, subject) in subjects.iter().enumerate() {
        let (at, size) = if i == 0 {
            (centre, size)
        } else {
            (second_at, second_size)
        };
        let tilt = rng.random_range(-7.0..7.0);
        match subject {
            Subject::Person(image) => draw::face(&mut pixmap, image, at, size),
            Subject::Emoji(e) => draw::sticker(&mut pixmap, e, at, size, tilt),
        }
    }
    if !subjects.is_empty() && accent == Accent::Circle {
        draw::ring(&mut pixmap, centre, size * 0.6, size * 0.045, mark);
    }
    if !subjects.is_empty() && accent == Accent::Arrow {
        // From the free space beside the subject to its edge; the headline
        // is drawn over it.
        let (dx, dy) = layout.arrow;
        let from = (centre.0 + dx * size * 0.9, centre.1 + dy * size * 0.9);
        let to = (centre.0 + dx * size * 0.5, centre.1 + dy * size * 0.5);
        draw::arrow(&mut pixmap, from, to, size * 0.07, mark);
    }

    if !headline.is_empty() {
        let uppercase = spec.style.is_none_or(|s| s.uppercase);
        let text = if uppercase {
            headline.to_uppercase()
        } else {
            headline.clone()
        };
        let set = text::set(
            &text,
            layout.text,
            layout.max_lines,
            layout.max_size,
            layout.align,
            emphasis(&text),
        )?;
        let ink = Ink {
            fill: [255, 255, 255],
            accent: palette.accent.map(|c| c.clamp(0.0, 255.0) as u8),
            outline: [12, 10, 18],
            weight: spec.style.map_or(Outline::Thick, |s| s.outline).weight(),
        };
        text::paint(&mut pixmap, &set, ink);
    }
    Ok(draw::to_rgb(&pixmap))
}

/// The longest word of a headline of several, drawn in the accent colour.
fn emphasis(text: &str) -> Option<(usize, usize)> {
    let words: Vec<(usize, &str)> = text
        .split_whitespace()
        .map(|word| (word.as_ptr() as usize - text.as_ptr() as usize, word))
        .collect();
    if words.len() < 2 {
        return None;
    }
    words
        .iter()
        .max_by_key(|(_, word)| word.chars().count())
        .map(|&(start, word)| (start, start + word.len()))
}

/// Fits any image to exactly `width`x`height`: scaled to cover, then
/// centre-cropped. Providers return many sizes; clients always get the target.
/// `fast_image_resize` (SIMD) rather than the image crate's resize: the same
/// Catmull-Rom filter in a fraction of the time (docs/benchmarks.md). Takes
/// the image by value, so a picture already in 8-bit RGB at the target size
/// (what the adapters ask providers for) is returned without a copy.
pub fn normalize(image: DynamicImage, width: u32, height: u32) -> RgbImage {
    let source = image.into_rgb8();
    if source.dimensions() == (width, height) {
        return source;
    }
    let mut fitted = RgbImage::new(width, height);
    let options = ResizeOptions::new()
        .resize_alg(ResizeAlg::Convolution(
            fast_image_resize::FilterType::CatmullRom,
        ))
        .fit_into_destination(None);
    // Both are 8-bit RGB of nonzero size, the one case resize refuses.
    if Resizer::new()
        .resize(&source, &mut fitted, &options)
        .is_err()
    {
        return DynamicImage::ImageRgb8(source)
            .resize_to_fill(width, height, imageops::FilterType::CatmullRom)
            .to_rgb8();
    }
    fitted
}

/// The free plan's overlay: staggered rows of translucent text across the
/// whole picture and a solid badge in the corner, so the image is usable as a
/// preview but not as a finished thumbnail.
pub fn apply_watermark(image: &mut RgbImage) {
    if let Some(mut pixmap) = draw::from_rgb(image) {
        text::draw_watermark(&mut pixmap);
        *image = draw::to_rgb(&pixmap);
    }
}

fn seeded_rng(prompt: &str, variation: u32) -> rand_chacha::ChaCha8Rng {
    use rand::SeedableRng;
    use sha2::Digest;
    let mut hasher = sha2::Sha256::new();
    hasher.update(prompt.as_bytes());
    hasher.update(variation.to_le_bytes());
    rand_chacha::ChaCha8Rng::from_seed(hasher.finalize().into())
}

#[cfg(test)]
mod tests {
    use image::Rgb;

    use super::*;

    fn spec(prompt: &str, variation: u32) -> RenderSpec<'_> {
        RenderSpec {
            variation,
            ..RenderSpec::new(1280, 720, prompt)
        }
    }

    fn draw(spec: RenderSpec<'_>) -> RgbImage {
        render(&spec).expect("renders")
    }

    /// Pixels within a box whose channels sum above `light` / below `dark`.
    fn count(img: &RgbImage, area: (u32, u32, u32, u32), test: impl Fn([u8; 3]) -> bool) -> usize {
        let (x0, y0, x1, y1) = area;
        (y0..y1)
            .flat_map(|y| (x0..x1).map(move |x| (x, y)))
            .filter(|&(x, y)| test(img.get_pixel(x, y).0))
            .count()
    }

    fn white(p: [u8; 3]) -> bool {
        p.iter().all(|&c| c > 235)
    }

    fn near_black(p: [u8; 3]) -> bool {
        p.iter().map(|&c| u32::from(c)).sum::<u32>() < 80
    }

    /// Mean absolute difference per channel.
    fn distance(a: &RgbImage, b: &RgbImage) -> f64 {
        let total: u64 = a
            .as_raw()
            .iter()
            .zip(b.as_raw())
            .map(|(&x, &y)| u64::from(x.abs_diff(y)))
            .sum();
        total as f64 / a.as_raw().len() as f64
    }

    #[test]
    fn renders_the_requested_size_deterministically() {
        let a = draw(spec("I tried 100 days of rust", 0));
        let b = draw(spec("I tried 100 days of rust", 0));
        assert_eq!(a.dimensions(), (1280, 720));
        assert_eq!(a.as_raw(), b.as_raw());
    }

    #[test]
    fn the_four_variants_differ_meaningfully() {
        let prompt = "Close-up of a shocked face, red arrow pointing at a laptop";
        let variants: Vec<RgbImage> = (0..4).map(|v| draw(spec(prompt, v))).collect();
        for i in 0..4 {
            for j in i + 1..4 {
                let d = distance(&variants[i], &variants[j]);
                // Different layouts and palettes, not a shifted gradient.
                assert!(d > 25.0, "variants {i} and {j} differ by {d:.1}");
            }
        }
    }

    #[test]
    fn headline_is_drawn_with_light_fill_and_dark_outline() {
        // No subject in this prompt: the headline fills the middle.
        let img = draw(spec("\"BIG NEWS\" about something", 0));
        let band = (200, 240, 1080, 480);
        assert!(count(&img, band, white) > 2000, "fill");
        assert!(count(&img, band, near_black) > 2000, "outline");
    }

    #[test]
    fn a_descriptive_prompt_draws_its_subject_and_accent() {
        // 😱 as a sticker with a white outline on the right; the arrow is red.
        let img = draw(spec(
            "Close-up of MrBeast-style shocked face, red arrow pointing at a laptop",
            0,
        ));
        let right = (620, 60, 1270, 700);
        assert!(count(&img, right, white) > 3000, "sticker outline");
        let red = |p: [u8; 3]| p[0] > 200 && p[1] < 60 && p[2] < 80;
        assert!(count(&img, (0, 0, 1280, 720), red) > 1500, "red arrow");
    }

    #[test]
    fn emoji_only_prompts_draw_the_emoji_and_never_a_blank_picture() {
        let img = draw(spec("🔥🚀", 0));
        assert!(count(&img, (200, 60, 1080, 700), white) > 3000);
        // Nothing drawable at all is an error, not a success.
        let nothing = render(&RenderSpec {
            headline: Some("\u{e000}\u{e001}"),
            ..spec("\u{e000}", 0)
        });
        assert!(
            matches!(nothing, Err(RenderError::NoFont(_))),
            "{nothing:?}"
        );
    }

    #[test]
    fn headlines_in_other_scripts_are_drawn() {
        // The system's Noto fonts: CJK, Arabic (joined, right to left),
        // Devanagari, Cyrillic.
        for title in [
            "日本語で説明します",
            "مرحبا بالعالم",
            "नमस्ते दुनिया",
            "Привет мир",
        ] {
            let img = render(&RenderSpec {
                headline: Some(title),
                ..spec("x", 0)
            })
            .unwrap_or_else(|e| panic!("{title}: {e}"));
            assert!(count(&img, (0, 0, 1280, 720), white) > 3000, "{title}");
        }
    }

    #[test]
    fn other_aspect_ratios_and_long_titles_fit() {
        let long =
            "an extremely long title that goes on and on about every single detail of the video";
        for (w, h) in [(960, 720), (720, 720)] {
            for v in 0..4 {
                let img = draw(RenderSpec {
                    width: w,
                    height: h,
                    ..spec(long, v)
                });
                assert_eq!(img.dimensions(), (w, h));
            }
        }
    }

    #[test]
    fn a_person_appears_as_a_face_cut_out() {
        let person = DynamicImage::ImageRgb8(RgbImage::from_pixel(300, 400, Rgb([20, 200, 40])));
        let img = draw(RenderSpec {
            people: std::slice::from_ref(&person),
            ..spec("my reaction to the news", 0)
        });
        // Layout 0 puts the subject on the right, centred at 0.735w.
        let centre = img.get_pixel(941, 374).0;
        assert!(centre[1] > 150 && centre[0] < 80, "face: {centre:?}");
    }

    #[test]
    fn an_inspiration_steers_the_palette() {
        let blue = DynamicImage::ImageRgb8(RgbImage::from_pixel(64, 64, Rgb([10, 60, 230])));
        let img = draw(RenderSpec {
            inspirations: std::slice::from_ref(&blue),
            ..spec("plain words here", 0)
        });
        let [r, _, b] = img.get_pixel(640, 40).0;
        assert!(b > r, "{:?}", img.get_pixel(640, 40).0);
    }

    #[test]
    fn watermark_changes_the_image_visibly() {
        let clean = draw(spec("watermark me", 0));
        let mut marked = clean.clone();
        apply_watermark(&mut marked);
        let changed = clean
            .pixels()
            .zip(marked.pixels())
            .filter(|(a, b)| a != b)
            .count();
        // Rows of text over the whole picture, not a corner dot.
        assert!(changed > 1280 * 720 / 20, "changed pixels: {changed}");
    }

    #[test]
    fn reference_background_is_cover_cropped_and_darkened() {
        let reference =
            DynamicImage::ImageRgb8(RgbImage::from_pixel(400, 400, Rgb([250, 250, 250])));
        let img = draw(RenderSpec {
            background: Some(&reference),
            ..spec("x", 0)
        });
        assert_eq!(img.dimensions(), (1280, 720));
        let corner = img.get_pixel(5, 5).0;
        assert!(corner.iter().all(|&c| c < 200), "darkened: {corner:?}");
    }

    #[test]
    fn a_style_sets_the_palette_and_the_headline_treatment() {
        let red = Style {
            background_from: [200, 20, 20],
            background_to: [250, 60, 40],
            accent: [255, 255, 0],
            uppercase: true,
            outline: Outline::Thick,
        };
        let blue = Style {
            background_from: [10, 20, 200],
            background_to: [20, 60, 250],
            ..red
        };
        let reds = draw(RenderSpec {
            style: Some(&red),
            ..spec("same words", 0)
        });
        let blues = draw(RenderSpec {
            style: Some(&blue),
            ..spec("same words", 0)
        });
        let [r, _, b] = reds.get_pixel(4, 4).0;
        assert!(r > b, "red style: {:?}", reds.get_pixel(4, 4).0);
        let [r, _, b] = blues.get_pixel(4, 4).0;
        assert!(b > r, "blue style: {:?}", blues.get_pixel(4, 4).0);
        let flat = draw(RenderSpec {
            style: Some(&Style {
                outline: Outline::None,
                uppercase: false,
                ..red
            }),
            ..spec("same words", 0)
        });
        assert_ne!(flat, reds, "outline and case change the headline");
    }

    #[test]
    fn normalize_covers_and_crops_the_centre() {
        // Three bands across 2000x720: fitting to 1280x720 keeps the middle
        // 1280 columns (360..1640), so both edges stay in the outer bands.
        let bands = DynamicImage::ImageRgb8(RgbImage::from_fn(2000, 720, |x, _| match x {
            0..667 => Rgb([255, 0, 0]),
            667..1333 => Rgb([0, 255, 0]),
            _ => Rgb([0, 0, 255]),
        }));
        let fitted = normalize(bands, 1280, 720);
        assert_eq!(fitted.get_pixel(2, 360).0, [255, 0, 0]);
        assert_eq!(fitted.get_pixel(640, 360).0, [0, 255, 0]);
        // Cropped, not squeezed: squeezing would put column 360 in red.
        assert_eq!(fitted.get_pixel(360, 360).0, [0, 255, 0]);
        assert_eq!(fitted.get_pixel(1277, 360).0, [0, 0, 255]);
        // A small square is scaled up to cover, not letterboxed.
        let small = DynamicImage::ImageRgb8(RgbImage::from_pixel(300, 300, Rgb([9, 9, 9])));
        let fitted = normalize(small, 1280, 720);
        assert_eq!(fitted.dimensions(), (1280, 720));
        assert!(fitted.pixels().all(|p| p.0 == [9, 9, 9]));
    }

    #[test]
    fn normalize_and_encode_give_an_exact_png() {
        let odd = DynamicImage::ImageRgb8(RgbImage::new(1536, 1024));
        let fitted = normalize(odd, 1280, 720);
        assert_eq!(fitted.dimensions(), (1280, 720));
        let png = encode_png(&fitted).expect("encode");
        let decoded = image::load_from_memory(&png).expect("decode");
        assert_eq!((decoded.width(), decoded.height()), (1280, 720));
    }
}
