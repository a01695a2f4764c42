//! Writes the sample thumbnails shown in the README into `docs/img/`:
//! `cargo run -p thumbforge-render --example samples --release`.
//!
//! A dozen prompts in several languages, two with a person asset and two
//! with an inspiration asset, put together on one contact sheet
//! (`samples.png`), plus the README's picture at full size with and without
//! the free plan's watermark. No photograph of a real person ships with the
//! project, so the person asset is a stand-in portrait drawn here.

use image::{DynamicImage, Rgb, RgbImage, imageops};
use thumbforge_render::{RenderSpec, apply_watermark, encode_png, render};

/// A stand-in portrait: a face-coloured oval on a studio backdrop.
fn portrait() -> DynamicImage {
    DynamicImage::ImageRgb8(RgbImage::from_fn(600, 800, |x, y| {
        let (dx, dy) = ((x as f32 - 300.0) / 170.0, (y as f32 - 330.0) / 220.0);
        let (hx, hy) = ((x as f32 - 300.0) / 190.0, (y as f32 - 250.0) / 170.0);
        let body = y > 560 && (x as f32 - 300.0).abs() < 260.0 - (y as f32 - 560.0) * -0.3;
        if dx * dx + dy * dy < 1.0 {
            let eye = [(235.0, 300.0), (365.0, 300.0)]
                .iter()
                .any(|&(ex, ey)| (x as f32 - ex).powi(2) + (y as f32 - ey).powi(2) < 420.0);
            let mouth = (y as f32 - 440.0).abs() < 18.0 && (x as f32 - 300.0).abs() < 70.0;
            if eye || mouth {
                Rgb([40, 25, 20])
            } else {
                Rgb([236, 188, 150])
            }
        } else if hx * hx + hy * hy < 1.0 && y < 260 {
            Rgb([60, 38, 25])
        } else if body {
            Rgb([30, 90, 200])
        } else {
            Rgb([70 + (y / 8) as u8, 70, 90])
        }
    }))
}

/// A stand-in inspiration: a sunset's colours.
fn sunset() -> DynamicImage {
    DynamicImage::ImageRgb8(RgbImage::from_fn(320, 180, |x, y| {
        let t = y as f32 / 180.0;
        let sun = ((x as f32 - 220.0).powi(2) + (y as f32 - 120.0).powi(2)).sqrt() < 30.0;
        if sun {
            Rgb([255, 220, 120])
        } else {
            Rgb([
                (250.0 - 60.0 * t) as u8,
                (90.0 + 40.0 * t) as u8,
                (60.0 + 100.0 * (1.0 - t)) as u8,
            ])
        }
    }))
}

struct Sample<'a> {
    prompt: &'a str,
    title: Option<&'a str>,
    variation: u32,
    person: bool,
    inspiration: bool,
}

const fn sample(prompt: &str, variation: u32) -> Sample<'_> {
    Sample {
        prompt,
        title: None,
        variation,
        person: false,
        inspiration: false,
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let out = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/img");
    std::fs::create_dir_all(&out)?;
    let person = [portrait()];
    let inspiration = [sunset()];
    let samples = [
        sample(
            "Close-up of MrBeast-style shocked face, red arrow pointing at a laptop with a burning server rack behind",
            0,
        ),
        sample("I built a Rust web service in 24 hours", 1),
        sample("\"NEVER do this\" with your sourdough starter", 2),
        sample("Budget travel in Japan: 7 days for $500", 3),
        Sample {
            title: Some("My honest reaction"),
            person: true,
            ..sample("my reaction to the new phone, shocked", 0)
        },
        Sample {
            title: Some("I quit my job"),
            person: true,
            ..sample("leaving the office forever", 3)
        },
        Sample {
            inspiration: true,
            ..sample("Sunset timelapse on the beach", 1)
        },
        Sample {
            inspiration: true,
            ..sample("Cozy cooking: the perfect pancakes", 2)
        },
        sample(
            "Warum ich nach zehn Jahren mit dem Programmieren aufhöre",
            0,
        ),
        sample("東京で一番おいしいラーメンを探してみた", 1),
        sample("\"أسرار النجاح\" في عالم الأعمال", 2),
        sample("🔥🚀", 3),
    ];
    let (cell_w, cell_h) = (427, 240);
    let mut sheet = RgbImage::from_pixel(cell_w * 3 + 8 * 4, cell_h * 4 + 8 * 5, Rgb([24, 24, 28]));
    for (i, s) in samples.iter().enumerate() {
        let image = render(&RenderSpec {
            headline: s.title,
            variation: s.variation,
            people: if s.person { &person } else { &[] },
            inspirations: if s.inspiration { &inspiration } else { &[] },
            ..RenderSpec::new(1280, 720, s.prompt)
        })?;
        let small = imageops::resize(&image, cell_w, cell_h, imageops::FilterType::Triangle);
        let (col, row) = (i as u32 % 3, i as u32 / 3);
        imageops::replace(
            &mut sheet,
            &small,
            i64::from(8 + col * (cell_w + 8)),
            i64::from(8 + row * (cell_h + 8)),
        );
        if i == 0 {
            std::fs::write(out.join("sample-16x9.png"), encode_png(&image)?)?;
            let mut marked = image.clone();
            apply_watermark(&mut marked);
            std::fs::write(
                out.join("sample-16x9-watermarked.png"),
                encode_png(&marked)?,
            )?;
        }
    }
    std::fs::write(out.join("samples.png"), encode_png(&sheet)?)?;
    Ok(())
}
