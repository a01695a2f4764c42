//! Peak memory of one decode, measured by the allocator: a PNG whose
//! compressed ancillary chunks inflate to many megabytes (a decompression
//! bomb in a 16x16 image) must cost no more than its pixels do.
//!
//! One test in this binary, so no other test allocates while it measures.

use std::io::Cursor;

use peak_alloc::PeakAlloc;
use thumbforge_providers::decode::{DecodeLimits, decode_limited};

#[global_allocator]
static ALLOC: PeakAlloc = PeakAlloc;

const MIB: usize = 1024 * 1024;

/// Peak bytes allocated while `f` runs, above what was live before it.
fn peak_during<T>(f: impl FnOnce() -> T) -> (T, usize) {
    let before = ALLOC.current_usage();
    ALLOC.reset_peak_usage();
    let out = f();
    (out, ALLOC.peak_usage().saturating_sub(before))
}

#[test]
fn ancillary_chunk_bombs_cost_no_more_than_their_pixels() {
    let limits = DecodeLimits {
        max_dimension: 4096,
        max_alloc: 256 * MIB as u64,
    };

    // The measure sees a real decode: a 1280x720 RGBA image's pixels alone
    // are 3.5 MiB.
    let mut plain = Cursor::new(Vec::new());
    image::DynamicImage::ImageRgba8(image::RgbaImage::new(1280, 720))
        .write_to(&mut plain, image::ImageFormat::Png)
        .expect("png");
    let plain = plain.into_inner();
    let (decoded, peak) = peak_during(|| decode_limited(&plain, &limits));
    let (decoded, _) = decoded.expect("a plain PNG decodes");
    assert_eq!((decoded.width(), decoded.height()), (1280, 720));
    assert!(peak >= 1280 * 720 * 4, "peak {peak} B is below the pixels");
    drop(decoded);

    let bomb = thumbforge_testkit::chunk_bomb(64 * MIB);
    assert!(bomb.len() < MIB, "the bomb is {} bytes", bomb.len());
    let (decoded, peak) = peak_during(|| decode_limited(&bomb, &limits));
    let (decoded, _) = decoded.expect("the pixels are fine; the chunks are skipped");
    assert_eq!((decoded.width(), decoded.height()), (16, 16));
    assert!(
        peak < 2 * MIB,
        "decoding a {} KiB PNG peaked at {:.1} MiB",
        bomb.len() / 1024,
        peak as f64 / MIB as f64
    );
}
