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

/// Decodes `bytes` (PNG, JPEG or WebP, by content) within `limits`. Every
/// read of the file, the header probe included, runs under these limits.
pub fn decode_limited(
    bytes: &[u8],
    limits: &DecodeLimits,
) -> Result<(DynamicImage, ImageFormat), String> {
    let format = image::guess_format(bytes)
        .ok()
        .filter(|f| allowed_format(*f))
        .ok_or_else(|| "not a PNG, JPEG or WebP image".to_owned())?;
    let image = match format {
        ImageFormat::Png => decode_png(bytes, limits)?,
        _ => {
            let reader = || {
                let mut reader = ImageReader::with_format(Cursor::new(bytes), format);
                reader.limits(limits.to_image_limits());
                reader
            };
            // The header alone says how large the image claims to be.
            let (w, h) = reader()
                .into_dimensions()
                .map_err(|e| format!("unreadable image: {e}"))?;
            limits.check(w, h)?;
            reader()
                .decode()
                .map_err(|e| format!("image could not be decoded: {e}"))?
        }
    };
    Ok((image, format))
}

impl DecodeLimits {
    fn to_image_limits(self) -> Limits {
        let mut out = Limits::default();
        out.max_image_width = Some(self.max_dimension);
        out.max_image_height = Some(self.max_dimension);
        out.max_alloc = Some(self.max_alloc);
        out
    }

    fn check(&self, w: u32, h: u32) -> Result<(), String> {
        if w == 0 || h == 0 || w > self.max_dimension || h > self.max_dimension {
            return Err(format!(
                "image is {w}x{h}; the limit is {0}x{0}",
                self.max_dimension
            ));
        }
        Ok(())
    }
}

/// PNG through the `png` crate itself, which the `image` crate wraps
/// without a way to skip ancillary chunks: the compressed ones (`iCCP`,
/// `zTXt`, `iTXt`) would otherwise be inflated, up to the allocation limit,
/// while merely reading the header. A colour profile or text is never used
/// here, so they are skipped unread; `eXIf` is stored uncompressed and is
/// bounded by the file's size.
fn decode_png(bytes: &[u8], limits: &DecodeLimits) -> Result<DynamicImage, String> {
    let max_bytes = usize::try_from(limits.max_alloc).unwrap_or(usize::MAX);
    let mut decoder =
        png::Decoder::new_with_limits(Cursor::new(bytes), png::Limits { bytes: max_bytes });
    decoder.set_ignore_iccp_chunk(true);
    decoder.set_ignore_text_chunk(true);
    decoder.set_transformations(png::Transformations::normalize_to_color8());
    let mut reader = decoder
        .read_info()
        .map_err(|e| format!("unreadable image: {e}"))?;
    let (w, h) = (reader.info().width, reader.info().height);
    limits.check(w, h)?;
    let size = reader
        .output_buffer_size()
        .filter(|&n| n <= max_bytes)
        .ok_or_else(|| format!("image of {w}x{h} needs more memory than allowed"))?;
    let mut buf = vec![0; size];
    let frame = reader
        .next_frame(&mut buf)
        .map_err(|e| format!("image could not be decoded: {e}"))?;
    buf.truncate(frame.buffer_size());
    let (color, _) = reader.output_color_type();
    let image = match color {
        png::ColorType::Grayscale => image::GrayImage::from_raw(w, h, buf).map(DynamicImage::from),
        png::ColorType::GrayscaleAlpha => {
            image::GrayAlphaImage::from_raw(w, h, buf).map(DynamicImage::from)
        }
        png::ColorType::Rgb => image::RgbImage::from_raw(w, h, buf).map(DynamicImage::from),
        png::ColorType::Rgba => image::RgbaImage::from_raw(w, h, buf).map(DynamicImage::from),
        // normalize_to_color8 expands palettes, so none is left.
        png::ColorType::Indexed => None,
    };
    image.ok_or_else(|| "image could not be decoded: unexpected pixel layout".to_owned())
}

/// `bytes`, a PNG that [`decode_limited`] has read, cut to its critical
/// chunks (`IHDR`, `IDAT`, `IEND`), when it is 8-bit RGB without
/// interlacing: a file that shows exactly the decoded pixels, like the
/// worker's own encode, with every chunk's CRC checked and nothing after
/// `IEND`. `None` for any other layout, or if the chunks do not parse.
pub fn storable_png(bytes: Vec<u8>) -> Option<Vec<u8>> {
    let mut png = img_parts::png::Png::from_bytes(bytes.into()).ok()?;
    let header = png.chunk_by_type(*b"IHDR")?.contents();
    // Width and height (8 bytes), then depth, colour type, compression,
    // filter and interlace: 8-bit truecolour, not interlaced.
    if header.get(8..13) != Some(&[8, 2, 0, 0, 0]) {
        return None;
    }
    png.chunks_mut()
        .retain(|c| matches!(&c.kind(), b"IHDR" | b"IDAT" | b"IEND"));
    Some(png.encoder().bytes().to_vec())
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

    #[test]
    fn every_png_layout_decodes_to_its_own_pixels() {
        let limits = OUTPUT_LIMITS;
        let gray = DynamicImage::ImageLuma8(image::GrayImage::from_pixel(3, 2, image::Luma([7])));
        let rgba = DynamicImage::ImageRgba8(image::RgbaImage::from_pixel(
            3,
            2,
            image::Rgba([1, 2, 3, 4]),
        ));
        let rgb16 = DynamicImage::ImageRgb16(image::ImageBuffer::from_pixel(
            3,
            2,
            image::Rgb([0xffff, 0, 0x8080]),
        ));
        for (source, expect) in [
            (gray, [7, 7, 7, 255]),
            (rgba, [1, 2, 3, 4]),
            (rgb16, [255, 0, 128, 255]),
        ] {
            let (decoded, _) =
                decode_limited(&to_png(&source).expect("png"), &limits).expect("decodes");
            assert_eq!((decoded.width(), decoded.height()), (3, 2));
            assert_eq!(decoded.to_rgba8().get_pixel(2, 1).0, expect);
        }
    }

    #[test]
    fn only_plain_rgb_pngs_are_kept_and_then_with_critical_chunks_only() {
        // An 8-bit RGB PNG with a text chunk and junk after IEND.
        let pixels =
            image::RgbImage::from_fn(5, 3, |x, y| image::Rgb([x as u8 * 40, y as u8 * 80, 9]));
        let mut file = Vec::new();
        {
            let mut encoder = png::Encoder::new(&mut file, 5, 3);
            encoder.set_color(png::ColorType::Rgb);
            encoder.set_depth(png::BitDepth::Eight);
            encoder
                .add_text_chunk("Comment".to_owned(), "kept nowhere".to_owned())
                .expect("text");
            let mut writer = encoder.write_header().expect("header");
            writer.write_image_data(pixels.as_raw()).expect("data");
        }
        file.extend_from_slice(b"<html>after the end</html>");
        let kept = storable_png(file.clone()).expect("plain RGB is kept");
        let chunk_kinds = img_parts::png::Png::from_bytes(kept.clone().into())
            .expect("parses")
            .chunks()
            .iter()
            .map(|c| c.kind())
            .collect::<Vec<_>>();
        assert_eq!(chunk_kinds, [*b"IHDR", *b"IDAT", *b"IEND"]);
        assert!(!kept.windows(6).any(|w| w == b"<html>"));
        let (decoded, _) = decode_limited(&kept, &OUTPUT_LIMITS).expect("decodes");
        assert_eq!(decoded.to_rgb8(), pixels);

        // A bad CRC anywhere, or any other layout, is not kept.
        let text_at = file
            .windows(4)
            .position(|w| w == b"tEXt")
            .expect("text chunk");
        let mut corrupt = file.clone();
        corrupt[text_at + 5] ^= 1;
        assert_eq!(storable_png(corrupt), None);
        let rgba = DynamicImage::ImageRgba8(image::RgbaImage::new(4, 4));
        let rgb16 = DynamicImage::ImageRgb16(image::ImageBuffer::new(4, 4));
        let gray = DynamicImage::ImageLuma8(image::GrayImage::new(4, 4));
        for other in [rgba, rgb16, gray] {
            assert_eq!(storable_png(to_png(&other).expect("png")), None);
        }
        assert_eq!(storable_png(b"not a png".to_vec()), None);
    }
}
