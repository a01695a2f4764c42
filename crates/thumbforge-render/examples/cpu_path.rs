//! The CPU path of one thumbnail from a remote model, for `just bench`:
//! `cargo run --release -p thumbforge-render --example cpu_path [N]`.
//!
//! A worker decodes the provider's PNG (2048x1152, the size the OpenAI
//! adapter asks for 16:9), fits it to 1280x720, encodes it, and for a free plan watermarks
//! and encodes a second copy. Prints the median of N runs of each stage,
//! and as the same-run baseline a bare PNG encode of the 1280x720 result.
//! The source is photo-like (gradients under fine noise), since a model's
//! picture compresses far less than a flat test image.

use std::time::{Duration, Instant};

use image::{
    DynamicImage, ExtendedColorType, ImageEncoder, ImageFormat, Rgb, RgbImage,
    codecs::png::{CompressionType, FilterType as PngFilter, PngEncoder},
    imageops,
};
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

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(20);
    let provider_png = encode_png(&photo_like(2048, 1152))?;
    let (mut decode, mut fit, mut fit_image_crate, mut encode, mut watermark, mut bare) =
        (vec![], vec![], vec![], vec![], vec![], vec![]);
    let mut sizes = (0, 0);
    for _ in 0..n {
        let t = Instant::now();
        let decoded = image::load_from_memory_with_format(&provider_png, ImageFormat::Png)?;
        decode.push(t.elapsed());

        let t = Instant::now();
        let fitted = normalize(&decoded, 1280, 720);
        fit.push(t.elapsed());

        // The image crate's own resize, which `normalize` used before.
        let t = Instant::now();
        let old: RgbImage = DynamicImage::ImageRgb8(decoded.to_rgb8())
            .resize_to_fill(1280, 720, imageops::FilterType::CatmullRom)
            .to_rgb8();
        fit_image_crate.push(t.elapsed());
        std::hint::black_box(old);

        let t = Instant::now();
        let clean = encode_png(&fitted)?;
        encode.push(t.elapsed());

        let t = Instant::now();
        let mut marked = fitted.clone();
        apply_watermark(&mut marked);
        let marked = encode_png(&marked)?;
        watermark.push(t.elapsed());
        sizes = (clean.len(), marked.len());

        // The baseline: the finished 1280x720 image, encoded with nothing
        // else around it.
        let t = Instant::now();
        std::hint::black_box(encode_png(&fitted)?);
        bare.push(t.elapsed());
    }
    let (decode, fit, encode, bare) = (median(decode), median(fit), median(encode), median(bare));
    let path = decode + fit + encode;
    println!(
        "runs={n} source=2048x1152 png ({} bytes) output=1280x720 (median ms)",
        provider_png.len()
    );
    println!(
        "decode={decode:.1} fit={fit:.1} (image crate {:.1}) encode={encode:.1} watermark_and_encode={:.1}",
        median(fit_image_crate),
        median(watermark),
    );
    println!(
        "path={path:.1} bare_encode_baseline={bare:.1} ratio={:.2} png_bytes={} watermarked_bytes={}",
        path / bare,
        sizes.0,
        sizes.1
    );
    // PNG compression levels on the same image: time and size.
    let fitted = normalize(
        &image::load_from_memory_with_format(&provider_png, ImageFormat::Png)?,
        1280,
        720,
    );
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
