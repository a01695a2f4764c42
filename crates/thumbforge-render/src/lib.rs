#![doc = include_str!("../README.md")]

mod background;
mod text;

use std::io::Cursor;

use fast_image_resize::{ResizeAlg, ResizeOptions, Resizer};
use image::{DynamicImage, ImageEncoder, Rgb, RgbImage, codecs::png::PngEncoder, imageops};

pub use text::headline_from_prompt;

#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    #[error("encoding PNG: {0}")]
    Encode(#[from] image::ImageError),
}

/// What to draw. `variation` makes the thumbnails of one generation differ
/// (palette, light, layout) while staying deterministic.
#[derive(Debug, Clone, Copy)]
pub struct RenderSpec<'a> {
    pub width: u32,
    pub height: u32,
    pub prompt: &'a str,
    /// The headline to draw; derived from the prompt when `None`.
    pub headline: Option<&'a str>,
    pub variation: u32,
    /// A reference image, cover-cropped and darkened under the headline.
    pub background: Option<&'a DynamicImage>,
    /// A style preset: palette and headline treatment.
    pub style: Option<&'a Style>,
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
    /// Stroke width as a share of the font size.
    fn weight(self) -> f32 {
        match self {
            Outline::Thick => 0.085,
            Outline::Thin => 0.04,
            Outline::None => 0.0,
        }
    }
}

/// Renders a thumbnail. Pure: the same spec gives the same pixels.
pub fn render(spec: &RenderSpec<'_>) -> RgbImage {
    let mut rng = seeded_rng(spec.prompt, spec.variation);
    // Picked even with a style, so a style changes colours, not layout.
    let mut palette = background::Palette::pick(&mut rng, spec.variation);
    if let Some(style) = spec.style {
        palette = background::Palette::from_style(style);
    }
    let mut canvas = match spec.background {
        Some(reference) => background::from_reference(reference, spec.width, spec.height),
        None => background::generate(spec.width, spec.height, &palette, &mut rng),
    };
    let headline = spec
        .headline
        .map(str::to_owned)
        .unwrap_or_else(|| headline_from_prompt(spec.prompt));
    let align = if spec.variation.is_multiple_of(2) {
        text::Align::Center
    } else {
        text::Align::Left
    };
    let (uppercase, outline) = spec
        .style
        .map_or((true, Outline::Thick), |s| (s.uppercase, s.outline));
    text::draw_headline(
        &mut canvas,
        &headline,
        &palette,
        align,
        uppercase,
        outline.weight(),
    );
    canvas
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
    text::draw_watermark(image);
}

/// Encodes as PNG (8-bit RGB).
pub fn encode_png(image: &RgbImage) -> Result<Vec<u8>, RenderError> {
    let mut out = Vec::with_capacity((image.width() * image.height()) as usize);
    PngEncoder::new(Cursor::new(&mut out)).write_image(
        image.as_raw(),
        image.width(),
        image.height(),
        image::ExtendedColorType::Rgb8,
    )?;
    Ok(out)
}

fn seeded_rng(prompt: &str, variation: u32) -> rand_chacha::ChaCha8Rng {
    use rand::SeedableRng;
    use sha2::Digest;
    let mut hasher = sha2::Sha256::new();
    hasher.update(prompt.as_bytes());
    hasher.update(variation.to_le_bytes());
    rand_chacha::ChaCha8Rng::from_seed(hasher.finalize().into())
}

fn lerp_rgb(a: Rgb<u8>, b: [f32; 3], t: f32) -> Rgb<u8> {
    let t = t.clamp(0.0, 1.0);
    Rgb(std::array::from_fn(|i| {
        (a.0[i] as f32 + (b[i] - a.0[i] as f32) * t).round() as u8
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(prompt: &str, variation: u32) -> RenderSpec<'_> {
        RenderSpec {
            width: 1280,
            height: 720,
            prompt,
            headline: None,
            variation,
            background: None,
            style: None,
        }
    }

    #[test]
    fn renders_the_requested_size_deterministically() {
        let a = render(&spec("I tried 100 days of rust", 0));
        let b = render(&spec("I tried 100 days of rust", 0));
        assert_eq!(a.dimensions(), (1280, 720));
        assert_eq!(a.as_raw(), b.as_raw());
    }

    #[test]
    fn variations_and_prompts_differ() {
        let a = render(&spec("I tried 100 days of rust", 0));
        let b = render(&spec("I tried 100 days of rust", 1));
        let c = render(&spec("Cooking the perfect steak", 0));
        assert_ne!(a.as_raw(), b.as_raw());
        assert_ne!(a.as_raw(), c.as_raw());
    }

    #[test]
    fn headline_is_drawn_with_light_fill_and_dark_outline() {
        // The centre band holds the headline: it must contain both near-white
        // fill pixels and near-black outline pixels.
        let img = render(&spec("\"BIG NEWS\" about something", 0));
        let band = (300..420).flat_map(|y| (200..1080).map(move |x| (x, y)));
        let (mut light, mut dark) = (0, 0);
        for (x, y) in band {
            let p = img.get_pixel(x, y).0;
            let sum: u32 = p.iter().map(|&c| c as u32).sum();
            if sum > 700 {
                light += 1;
            }
            if sum < 80 {
                dark += 1;
            }
        }
        assert!(light > 2000, "light pixels: {light}");
        assert!(dark > 2000, "dark pixels: {dark}");
    }

    #[test]
    fn emoji_and_unknown_glyphs_do_not_break_rendering() {
        let a = render(&spec("🔥🔥 HOT TAKE 🔥", 0));
        assert_eq!(a.dimensions(), (1280, 720));
        // Only emoji: nothing drawable, still a valid image.
        let b = render(&spec("🔥🚀", 0));
        assert_eq!(b.dimensions(), (1280, 720));
    }

    #[test]
    fn other_aspect_ratios_and_long_titles_fit() {
        let long =
            "an extremely long title that goes on and on about every single detail of the video";
        for (w, h) in [(960, 720), (720, 720)] {
            let img = render(&RenderSpec {
                width: w,
                height: h,
                ..spec(long, 2)
            });
            assert_eq!(img.dimensions(), (w, h));
        }
    }

    #[test]
    fn watermark_changes_the_image_visibly() {
        let clean = render(&spec("watermark me", 0));
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
        let img = render(&RenderSpec {
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
        let reds = render(&RenderSpec {
            style: Some(&red),
            ..spec("same words", 0)
        });
        let blues = render(&RenderSpec {
            style: Some(&blue),
            ..spec("same words", 0)
        });
        let [r, _, b] = reds.get_pixel(4, 4).0;
        assert!(r > b, "red style: {:?}", reds.get_pixel(4, 4).0);
        let [r, _, b] = blues.get_pixel(4, 4).0;
        assert!(b > r, "blue style: {:?}", blues.get_pixel(4, 4).0);
        let flat = render(&RenderSpec {
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
