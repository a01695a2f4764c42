//! The CPU path of one thumbnail from a remote model, for `just bench`:
//! `cargo run --release -p thumbforge-providers --example cpu_path [N]`.
//!
//! A worker decodes the provider's picture, fits it to 1280x720, encodes
//! it, and for a free plan watermarks and encodes a second copy. For each
//! source a provider sends (OpenAI's PNG at the size the adapter asks for,
//! nano-banana's 16:9, a JPEG, and the 2048x1152 the OpenAI adapter asked
//! for before) this prints the median of N runs of each stage, and as the
//! same-run baseline a bare PNG encode of the 1280x720 result. A PNG at the
//! target size is stored as it came, so its path is the decode alone
//! (`path_stored`). The source is photo-like (gradients under fine noise),
//! since a model's picture compresses far less than a flat test image.

use std::time::{Duration, Instant};

use image::{
    DynamicImage, ExtendedColorType, ImageEncoder, Rgb, RgbImage,
    codecs::{
        jpeg::JpegEncoder,
        png::{CompressionType, FilterType as PngFilter, PngEncoder},
    },
    imageops,
};
use thumbforge_providers::decode::{OUTPUT_LIMITS, decode_limited, storable_png};
use thumbforge_render::{apply_watermark, encode_png, normalize};

fn median(mut samples: Vec<Duration>) -> f64 {
    samples.sort();
    samples[samples.len() / 2].as_secs_f64() * 1000.0
}

/// A deterministic stand-in for a model's picture.
fn photo_like(width: u32, height: u32) -> RgbImage {
    let mut state = 0x2545_f491_4f6c_dd1d_u64;
    RgbImage::from_fn(width, height, |x, y| {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        let noise = (state % 24) as i32 - 12;
        let (fx, fy) = (x as f32 / width as f32, y as f32 / height as f32);
        let base = [
            60.0 + 150.0 * fx,
            40.0 + 120.0 * (1.0 - fy),
            90.0 + 100.0 * (fx * fy),
        ];
        Rgb(base.map(|c| (c as i32 + noise).clamp(0, 255) as u8))
    })
}

/// The sources a worker gets for a 1280x720 thumbnail, each encoded as the
/// provider's own encoder would (zlib level 6, or JPEG).
type Error = Box<dyn std::error::Error>;

fn sources() -> Result<Vec<(&'static str, Vec<u8>)>, Error> {
    let png = |w, h| -> Result<Vec<u8>, Error> {
        let mut out = Vec::new();
        PngEncoder::new_with_quality(&mut out, CompressionType::Level(6), PngFilter::Adaptive)
            .write_image(photo_like(w, h).as_raw(), w, h, ExtendedColorType::Rgb8)?;
        Ok(out)
    };
    let mut jpeg = Vec::new();
    JpegEncoder::new_with_quality(&mut jpeg, 92).encode_image(&photo_like(1280, 720))?;
    Ok(vec![
        ("openai 1280x720 png", png(1280, 720)?),
        ("nano-banana 1376x768 png", png(1376, 768)?),
        ("1280x720 jpeg q92", jpeg),
        ("2048x1152 png (openai before)", png(2048, 1152)?),
    ])
}

fn main() -> Result<(), Error> {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(20);
    println!(
        "runs={n} output=1280x720, medians in ms; ratio = path (what the worker spends on the clean copy) / a bare encode of the result"
    );
    let mut last_fitted = None;
    for (name, source) in sources()? {
        let (mut decode, mut fit, mut encode, mut watermark, mut bare) =
            (vec![], vec![], vec![], vec![], vec![]);
        let mut kept_at_target = false;
        for _ in 0..n {
            // The worker's decode: limits, and the PNG kept when it can be.
            let t = Instant::now();
            let (decoded, format) = decode_limited(&source, &OUTPUT_LIMITS)?;
            let kept = (format == image::ImageFormat::Png)
                .then(|| storable_png(source.clone()))
                .flatten();
            decode.push(t.elapsed());

            let decoded_size = (decoded.width(), decoded.height());
            let t = Instant::now();
            let fitted = normalize(decoded, 1280, 720);
            fit.push(t.elapsed());

            let t = Instant::now();
            std::hint::black_box(encode_png(&fitted)?);
            encode.push(t.elapsed());

            let t = Instant::now();
            let mut marked = fitted.clone();
            apply_watermark(&mut marked);
            std::hint::black_box(encode_png(&marked)?);
            watermark.push(t.elapsed());

            // The baseline: the finished 1280x720 image, encoded with
            // nothing else around it.
            let t = Instant::now();
            std::hint::black_box(encode_png(&fitted)?);
            bare.push(t.elapsed());
            kept_at_target = kept.is_some() && decoded_size == (1280, 720);
            last_fitted = Some(fitted);
        }
        let (decode, fit, encode, bare) =
            (median(decode), median(fit), median(encode), median(bare));
        // What the worker spends on the clean copy: a PNG at the target
        // size is kept as it came (thumbforge-worker's `encode`).
        let stored_as_is = kept_at_target;
        let path = decode + if stored_as_is { 0.0 } else { fit + encode };
        println!(
            "source={name:<30} bytes={:>8} decode={decode:5.1} fit={fit:4.1} encode={encode:4.1} watermark_and_encode={:4.1} bare={bare:4.1} path={path:5.1}{} ratio={:.2}",
            source.len(),
            median(watermark),
            if stored_as_is {
                " (stored as it came)"
            } else {
                ""
            },
            path / bare,
        );
    }
    // The image crate's own resize, which `normalize` used before.
    let big = DynamicImage::ImageRgb8(photo_like(2048, 1152));
    let mut old = vec![];
    for _ in 0..n.min(10) {
        let t = Instant::now();
        std::hint::black_box(big.resize_to_fill(1280, 720, imageops::FilterType::CatmullRom));
        old.push(t.elapsed());
    }
    println!(
        "fit 2048x1152 with the image crate's resize_to_fill: {:.1}",
        median(old)
    );
    // PNG compression levels on the same image: time and size.
    let fitted = last_fitted.ok_or("no runs")?;
    for (name, level) in [
        ("fast", CompressionType::Fast),
        ("level1", CompressionType::Level(1)),
        ("default", CompressionType::Default),
        ("level6", CompressionType::Level(6)),
        ("best", CompressionType::Best),
    ] {
        let mut times = vec![];
        let mut size = 0;
        for _ in 0..n.min(10) {
            let t = Instant::now();
            let mut out = Vec::new();
            PngEncoder::new_with_quality(&mut out, level, PngFilter::Adaptive).write_image(
                fitted.as_raw(),
                1280,
                720,
                ExtendedColorType::Rgb8,
            )?;
            times.push(t.elapsed());
            size = out.len();
        }
        println!("compression={name} ms={:.1} bytes={size}", median(times));
    }
    Ok(())
}
