//! Writes the sample thumbnails shown in the README into `docs/img/`:
//! `cargo run -p thumbforge-render --example samples --release`.

use thumbforge_render::{RenderSpec, apply_watermark, encode_png, render};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let out = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/img");
    std::fs::create_dir_all(&out)?;
    let samples: [(&str, &str, u32, (u32, u32)); 4] = [
        (
            "sample-16x9",
            "I built a Rust web service in 24 hours",
            0,
            (1280, 720),
        ),
        (
            "sample-16x9-b",
            "\"NEVER do this\" with your sourdough starter",
            1,
            (1280, 720),
        ),
        (
            "sample-4x3",
            "Budget travel in Japan: 7 days for $500",
            2,
            (960, 720),
        ),
        ("sample-1x1", "Top 10 hidden gems", 3, (720, 720)),
    ];
    for (name, prompt, variation, (width, height)) in samples {
        let image = render(&RenderSpec {
            width,
            height,
            prompt,
            headline: None,
            variation,
            background: None,
            style: None,
        });
        std::fs::write(out.join(format!("{name}.png")), encode_png(&image)?)?;
        if name == "sample-16x9" {
            let mut marked = image.clone();
            apply_watermark(&mut marked);
            std::fs::write(
                out.join("sample-16x9-watermarked.png"),
                encode_png(&marked)?,
            )?;
        }
    }
    Ok(())
}
