//! Render time per thumbnail, for `just bench`:
//! `cargo run --release -p thumbforge-render --example render_bench [N]`.
//! Prints the median of N runs for each stage, and, as a same-run baseline,
//! the time to fill and encode a flat image of the same size.

use std::time::{Duration, Instant};

use image::{Rgb, RgbImage};
use thumbforge_render::{RenderSpec, apply_watermark, encode_png, render};

fn median(mut samples: Vec<Duration>) -> f64 {
    samples.sort();
    samples[samples.len() / 2].as_secs_f64() * 1000.0
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(30);
    // Fonts load once per process, before the first thumbnail.
    thumbforge_render::warm_up();
    // A photo-like stand-in for a person asset and for an inspiration.
    let photo = image::DynamicImage::ImageRgb8(RgbImage::from_fn(800, 1000, |x, y| {
        Rgb([(x / 4) as u8, (y / 5) as u8, ((x + y) / 8) as u8])
    }));
    let people = std::slice::from_ref(&photo);
    let none: &[image::DynamicImage] = &[];
    // Prompt, title, a person, an inspiration: the English prompts with
    // stickers, a Japanese and an Arabic title (font fallback and
    // shaping), a face cut-out, and a blurred inspiration backdrop.
    let cases = [
        ("I built a Rust web service in 24 hours", None, none, none),
        (
            "\"NEVER do this\" with your sourdough starter",
            None,
            none,
            none,
        ),
        ("Budget travel in Japan: 7 days for $500", None, none, none),
        ("ramen tour", Some("東京で一番おいしいラーメン"), none, none),
        ("business secrets", Some("أسرار النجاح"), none, none),
        (
            "my reaction, shocked",
            Some("My honest reaction"),
            people,
            none,
        ),
        ("sunset timelapse", None, none, people),
    ];
    let (mut draw, mut wm, mut png, mut flat) = (vec![], vec![], vec![], vec![]);
    for i in 0..n {
        let (prompt, title, people, inspirations) = cases[i % cases.len()];
        let t = Instant::now();
        let mut image = render(&RenderSpec {
            headline: title,
            variation: i as u32 % 4,
            people,
            inspirations,
            ..RenderSpec::new(1280, 720, prompt)
        })?;
        draw.push(t.elapsed());
        let t = Instant::now();
        let bytes = encode_png(&image)?;
        png.push(t.elapsed());
        std::hint::black_box(bytes);
        let t = Instant::now();
        apply_watermark(&mut image);
        wm.push(t.elapsed());

        let t = Instant::now();
        let plain = RgbImage::from_pixel(1280, 720, Rgb([i as u8, 40, 90]));
        std::hint::black_box(encode_png(&plain)?);
        flat.push(t.elapsed());
    }
    let (draw, png) = (median(draw), median(png));
    println!("runs={n} size=1280x720 (median ms)");
    println!(
        "render={draw:.1} encode_png={png:.1} render/encode_png={:.2}x (target <= 4x) watermark={:.1} flat_fill_and_encode_baseline={:.1}",
        draw / png,
        median(wm),
        median(flat)
    );
    Ok(())
}
