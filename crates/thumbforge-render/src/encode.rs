//! Every stored thumbnail is encoded here, and every one is YouTube-ready:
//! at most [`MAX_OUTPUT_BYTES`], whatever the model returned.
//!
//! - **PNG** (the default) is lossless while it fits: the usual encode, then
//!   the strongest deflate. A photographic 1280x720 picture can still be
//!   over 2 MB; it is then reduced to a 256-colour palette (NeuQuant, the
//!   `color_quant` crate, with Floyd–Steinberg dithering), at most one byte
//!   a pixel, which always fits the supported sizes.
//! - **JPEG** steps its quality down from 90 until the file fits.
//! - **WebP** is lossy (libwebp through the `webp` crate): the `image`
//!   crate's WebP encoder is lossless only, and a lossless photo is as large
//!   as its PNG. Its quality steps down like JPEG's.

use std::io::Cursor;

use image::{
    ImageEncoder, RgbImage,
    codecs::{
        jpeg::JpegEncoder,
        png::{CompressionType, FilterType, PngEncoder},
    },
};
use thumbforge_core::{MAX_OUTPUT_BYTES, OutputFormat};

/// Why a picture could not be stored.
#[derive(Debug, thiserror::Error)]
pub enum EncodeError {
    #[error("encoding the image: {0}")]
    Image(#[from] image::ImageError),
    #[error("encoding WebP: {0}")]
    Webp(String),
    /// No setting brought the file within [`MAX_OUTPUT_BYTES`].
    #[error("the {0} file does not fit in 2 MB")]
    TooLarge(OutputFormat),
}

/// A stored file's bytes and format.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Encoded {
    pub bytes: Vec<u8>,
    pub format: OutputFormat,
}

/// The lossy qualities tried in turn, best first; the first that fits wins.
const QUALITIES: [u8; 9] = [90, 85, 80, 75, 70, 60, 50, 40, 30];

/// Encodes `image` as `format`, within [`MAX_OUTPUT_BYTES`].
pub fn encode(image: &RgbImage, format: OutputFormat) -> Result<Encoded, EncodeError> {
    let bytes = match format {
        OutputFormat::Png => fit_png(image)?,
        OutputFormat::Jpeg => first_fit(|q| encode_jpeg(image, q))?,
        OutputFormat::Webp => first_fit(|q| encode_webp(image, q))?,
    };
    match bytes {
        Some(bytes) => Ok(Encoded { bytes, format }),
        None => Err(EncodeError::TooLarge(format)),
    }
}

/// Whether a file may be stored as it is.
pub fn fits(bytes: &[u8]) -> bool {
    bytes.len() <= MAX_OUTPUT_BYTES
}

/// Encodes as PNG (8-bit RGB) at the encoder's fast level (fdeflate):
/// `CompressionType::Default` is zlib's level 6, ten times the time for a
/// few percent of size (docs/benchmarks-history.md).
pub fn encode_png(image: &RgbImage) -> Result<Vec<u8>, EncodeError> {
    png_with(image, CompressionType::Fast, FilterType::Adaptive)
}

fn png_with(
    image: &RgbImage,
    compression: CompressionType,
    filter: FilterType,
) -> Result<Vec<u8>, EncodeError> {
    let mut out = Vec::with_capacity((image.width() * image.height()) as usize);
    PngEncoder::new_with_quality(Cursor::new(&mut out), compression, filter).write_image(
        image.as_raw(),
        image.width(),
        image.height(),
        image::ExtendedColorType::Rgb8,
    )?;
    Ok(out)
}

/// Full colour while it fits, then a palette.
fn fit_png(image: &RgbImage) -> Result<Option<Vec<u8>>, EncodeError> {
    let png = encode_png(image)?;
    if fits(&png) {
        return Ok(Some(png));
    }
    // Slower, and only for the pictures that need it.
    let png = png_with(image, CompressionType::Best, FilterType::Adaptive)?;
    if fits(&png) {
        return Ok(Some(png));
    }
    // 256 colours is at most a byte a pixel, under 1 MB at 1280x720; fewer
    // colours only for a canvas larger than any aspect ratio makes today.
    for colours in [256, 64] {
        let png = palette_png(image, colours)?;
        if fits(&png) {
            return Ok(Some(png));
        }
    }
    Ok(None)
}

/// The picture reduced to `colours` (NeuQuant), dithered, as an indexed PNG.
fn palette_png(image: &RgbImage, colours: usize) -> Result<Vec<u8>, EncodeError> {
    let (width, height) = image.dimensions();
    let rgba: Vec<u8> = image
        .pixels()
        .flat_map(|p| [p.0[0], p.0[1], p.0[2], 255])
        .collect();
    // Sample factor 10: one pixel in ten trains the network, NeuQuant's
    // recommended balance of speed and quality.
    let quant = color_quant::NeuQuant::new(10, colours, &rgba);
    let indices = dither(image, &quant);
    let mut out = Vec::with_capacity(indices.len());
    {
        let mut encoder = png::Encoder::new(Cursor::new(&mut out), width, height);
        encoder.set_color(png::ColorType::Indexed);
        encoder.set_depth(png::BitDepth::Eight);
        encoder.set_palette(quant.color_map_rgb());
        encoder.set_compression(png::Compression::High);
        let mut writer = encoder.write_header().map_err(png_error)?;
        writer.write_image_data(&indices).map_err(png_error)?;
        writer.finish().map_err(png_error)?;
    }
    Ok(out)
}

fn png_error(e: png::EncodingError) -> EncodeError {
    EncodeError::Image(image::ImageError::Encoding(
        image::error::EncodingError::new(image::ImageFormat::Png.into(), e),
    ))
}

/// Palette indices for every pixel, Floyd–Steinberg: each pixel's error
/// spreads to its unvisited neighbours, so gradients keep their tone
/// instead of banding.
fn dither(image: &RgbImage, quant: &color_quant::NeuQuant) -> Vec<u8> {
    let (width, height) = (image.width() as usize, image.height() as usize);
    let palette = quant.color_map_rgb();
    // The error carried into this row and the next, per channel.
    let mut current = vec![[0i32; 3]; width + 2];
    let mut next = vec![[0i32; 3]; width + 2];
    let mut indices = Vec::with_capacity(width * height);
    for y in 0..height {
        for x in 0..width {
            let pixel = image.get_pixel(x as u32, y as u32).0;
            let mut wanted = [0u8; 4];
            for c in 0..3 {
                wanted[c] = (i32::from(pixel[c]) + current[x + 1][c] / 16).clamp(0, 255) as u8;
            }
            wanted[3] = 255;
            let index = quant.index_of(&wanted);
            indices.push(index as u8);
            for c in 0..3 {
                let error = i32::from(wanted[c]) - i32::from(palette[index * 3 + c]);
                current[x + 2][c] += error * 7;
                next[x][c] += error * 3;
                next[x + 1][c] += error * 5;
                next[x + 2][c] += error;
            }
        }
        std::mem::swap(&mut current, &mut next);
        next.iter_mut().for_each(|e| *e = [0; 3]);
    }
    indices
}

/// The first of [`QUALITIES`] whose file fits.
fn first_fit(
    mut encode: impl FnMut(u8) -> Result<Vec<u8>, EncodeError>,
) -> Result<Option<Vec<u8>>, EncodeError> {
    for quality in QUALITIES {
        let bytes = encode(quality)?;
        if fits(&bytes) {
            return Ok(Some(bytes));
        }
    }
    Ok(None)
}

fn encode_jpeg(image: &RgbImage, quality: u8) -> Result<Vec<u8>, EncodeError> {
    let mut out = Vec::new();
    JpegEncoder::new_with_quality(&mut out, quality).write_image(
        image.as_raw(),
        image.width(),
        image.height(),
        image::ExtendedColorType::Rgb8,
    )?;
    Ok(out)
}

fn encode_webp(image: &RgbImage, quality: u8) -> Result<Vec<u8>, EncodeError> {
    webp::Encoder::from_rgb(image.as_raw(), image.width(), image.height())
        .encode_simple(false, f32::from(quality))
        .map(|memory| memory.to_vec())
        .map_err(|e| EncodeError::Webp(format!("{e:?}")))
}

#[cfg(test)]
mod tests {
    use image::{DynamicImage, ImageFormat, Rgb};
    use rand::{Rng, SeedableRng};

    use super::*;

    /// A "photograph" no lossless encoder can shrink: a gradient under
    /// seeded noise, 1280x720.
    fn noisy_photo() -> RgbImage {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(26);
        RgbImage::from_fn(1280, 720, |x, y| {
            let base = [(x * 255 / 1280) as i32, (y * 255 / 720) as i32, 128];
            Rgb(base.map(|b| (b + rng.random_range(-80..=80)).clamp(0, 255) as u8))
        })
    }

    fn decoded(encoded: &Encoded, format: ImageFormat) -> DynamicImage {
        image::load_from_memory_with_format(&encoded.bytes, format).expect("decodes")
    }

    #[test]
    fn a_noisy_photo_is_over_2_mb_as_a_plain_png() {
        // What the other tests rely on: the input really is too big.
        let png = encode_png(&noisy_photo()).expect("encode");
        assert!(png.len() > MAX_OUTPUT_BYTES, "{} bytes", png.len());
    }

    #[test]
    fn a_noisy_photo_fits_as_png() {
        let photo = noisy_photo();
        let encoded = encode(&photo, OutputFormat::Png).expect("encode");
        assert_eq!(encoded.format, OutputFormat::Png);
        assert!(
            encoded.bytes.len() <= MAX_OUTPUT_BYTES,
            "{} bytes",
            encoded.bytes.len()
        );
        let image = decoded(&encoded, ImageFormat::Png).to_rgb8();
        assert_eq!(image.dimensions(), (1280, 720));
        // Still the picture: the mean colour of the palette image is the
        // photo's, within a few levels.
        let mean = |img: &RgbImage, c: usize| {
            img.pixels().map(|p| u64::from(p.0[c])).sum::<u64>() / (1280 * 720)
        };
        for c in 0..3 {
            assert!(
                mean(&image, c).abs_diff(mean(&photo, c)) <= 4,
                "channel {c}"
            );
        }
    }

    #[test]
    fn a_noisy_photo_fits_as_jpeg_and_webp() {
        for (format, read) in [
            (OutputFormat::Jpeg, ImageFormat::Jpeg),
            (OutputFormat::Webp, ImageFormat::WebP),
        ] {
            let encoded = encode(&noisy_photo(), format).expect("encode");
            assert_eq!(encoded.format, format);
            assert!(
                encoded.bytes.len() <= MAX_OUTPUT_BYTES,
                "{format:?}: {} bytes",
                encoded.bytes.len()
            );
            let image = decoded(&encoded, read);
            assert_eq!((image.width(), image.height()), (1280, 720));
        }
    }

    #[test]
    fn a_picture_that_fits_stays_full_colour_png() {
        let flat = RgbImage::from_fn(1280, 720, |x, _| Rgb([(x % 256) as u8, 40, 200]));
        let encoded = encode(&flat, OutputFormat::Png).expect("encode");
        assert_eq!(encoded.bytes, encode_png(&flat).expect("encode"));
        assert_eq!(decoded(&encoded, ImageFormat::Png).to_rgb8(), flat);
    }
}
