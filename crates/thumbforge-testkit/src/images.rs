//! Hostile images for tests.

/// A 16x16 RGB PNG whose `iCCP` profile and `zTXt` text each inflate to
/// `inflated` bytes (zeros and letters compress about a thousandfold): the
/// shape of a decompression bomb in ancillary chunks.
pub fn chunk_bomb(inflated: usize) -> Vec<u8> {
    let mut info = png::Info::with_size(16, 16);
    info.color_type = png::ColorType::Rgb;
    info.bit_depth = png::BitDepth::Eight;
    info.icc_profile = Some(vec![0; inflated].into());
    let mut out = Vec::new();
    let mut encoder = png::Encoder::with_info(&mut out, info).expect("info");
    encoder
        .add_ztxt_chunk("Comment".to_owned(), "a".repeat(inflated))
        .expect("zTXt");
    let mut writer = encoder.write_header().expect("header");
    writer.write_image_data(&[90; 16 * 16 * 3]).expect("pixels");
    writer.finish().expect("finish");
    out
}
