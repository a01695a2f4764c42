//! Decoding untrusted image bytes with limits, so a small file that claims
//! huge dimensions (a decompression bomb) is refused before any large
//! allocation.

use std::io::Cursor;

use image::{DynamicImage, ImageFormat, ImageReader, Limits};

/// Limits on one decode.
#[derive(Debug, Clone, Copy)]
pub struct DecodeLimits {
    pub max_dimension: u32,
    pub max_alloc: u64,
}

/// What provider outputs may be: generous, since a model returns at most a
/// few megapixels.
pub const OUTPUT_LIMITS: DecodeLimits = DecodeLimits {
    max_dimension: 8192,
    max_alloc: 512 * 1024 * 1024,
};

/// The formats accepted from outside: PNG, JPEG and WebP.
pub fn allowed_format(format: ImageFormat) -> bool {
    matches!(
        format,
        ImageFormat::Png | ImageFormat::Jpeg | ImageFormat::WebP
    )
}

/// Decodes `bytes` (PNG, JPEG or WebP, by content) within `limits`.
pub fn decode_limited(
    bytes: &[u8],
    limits: &DecodeLimits,
) -> Result<(DynamicImage, ImageFormat), String> {
    let reader = ImageReader::new(Cursor::new(bytes))
        .with_guessed_format()
        .map_err(|e| format!("unreadable image: {e}"))?;
    let format = reader
        .format()
        .filter(|f| allowed_format(*f))
        .ok_or_else(|| "not a PNG, JPEG or WebP image".to_owned())?;
    // The header alone says how large the image claims to be.
    let (w, h) = ImageReader::with_format(Cursor::new(bytes), format)
        .into_dimensions()
        .map_err(|e| format!("unreadable image: {e}"))?;
    if w == 0 || h == 0 || w > limits.max_dimension || h > limits.max_dimension {
        return Err(format!(
            "image is {w}x{h}; the limit is {0}x{0}",
            limits.max_dimension
        ));
    }
    let mut reader = reader;
    let mut decode_limits = Limits::default();
    decode_limits.max_image_width = Some(limits.max_dimension);
    decode_limits.max_image_height = Some(limits.max_dimension);
    decode_limits.max_alloc = Some(limits.max_alloc);
    reader.limits(decode_limits);
    let image = reader
        .decode()
        .map_err(|e| format!("image could not be decoded: {e}"))?;
    Ok((image, format))
}

/// PNG bytes of `image` (what references are sent to providers as).
pub fn to_png(image: &DynamicImage) -> Result<Vec<u8>, String> {
    let mut out = Cursor::new(Vec::new());
    image
        .write_to(&mut out, ImageFormat::Png)
        .map_err(|e| format!("encoding PNG: {e}"))?;
    Ok(out.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn png(w: u32, h: u32) -> Vec<u8> {
        to_png(&DynamicImage::ImageRgb8(image::RgbImage::new(w, h))).expect("png")
    }

    #[test]
    fn small_images_decode_and_bombs_do_not() {
        let limits = DecodeLimits {
            max_dimension: 1000,
            max_alloc: 16 * 1024 * 1024,
        };
        let (img, format) = decode_limited(&png(64, 36), &limits).expect("decodes");
        assert_eq!(
            (img.width(), img.height(), format),
            (64, 36, ImageFormat::Png)
        );
        // 4000x4000 of zeros compresses to a few kilobytes.
        let bomb = png(4000, 4000);
        assert!(
            bomb.len() * 100 < 4000 * 4000 * 3,
            "bomb is small: {}",
            bomb.len()
        );
        assert!(decode_limited(&bomb, &limits).is_err());
        assert!(decode_limited(b"<html>not an image</html>", &limits).is_err());
    }
}
