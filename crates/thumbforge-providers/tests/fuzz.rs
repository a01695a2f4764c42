//! Fuzz targets for what this crate reads from outside: image bytes
//! (uploads, references, provider outputs) and the addresses a fetch may
//! reach. A bounded pass runs in the suite (`PROPTEST_CASES`, 256 by
//! default); the corpus is `fuzz/corpus/images/`, and the harness is
//! described in `thumbforge_testkit::fuzz`.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use proptest::prelude::*;
use thumbforge_providers::{
    decode::{DecodeLimits, decode_limited},
    fetch::is_public,
};
use thumbforge_testkit::fuzz::{corpus, mutated};

const LIMITS: DecodeLimits = DecodeLimits {
    max_dimension: 512,
    max_alloc: 8 * 1024 * 1024,
};

const IMAGE_TOKENS: &[&[u8]] = &[
    b"\x89PNG\r\n\x1a\n",
    b"IHDR",
    b"IDAT",
    b"IEND",
    b"iCCP",
    b"zTXt",
    b"iTXt",
    b"eXIf",
    b"acTL",
    b"fcTL",
    b"\xff\xd8\xff",
    b"\xff\xc0",
    b"\xff\xda",
    b"RIFF",
    b"WEBPVP8 ",
    b"VP8L",
    b"\x00\x00\xff\xff",
    b"\xff\xff\xff\xff",
];

fn images() -> Vec<(String, Vec<u8>)> {
    corpus(concat!(env!("CARGO_MANIFEST_DIR"), "/fuzz/corpus/images"))
}

/// What every decode must hold to: no panic, and an image only within the
/// limits.
fn decode_holds(bytes: &[u8]) -> Result<(), TestCaseError> {
    if let Ok((image, _)) = decode_limited(bytes, &LIMITS) {
        prop_assert!(image.width() <= LIMITS.max_dimension);
        prop_assert!(image.height() <= LIMITS.max_dimension);
        prop_assert!(image.width() > 0 && image.height() > 0);
    }
    Ok(())
}

#[test]
fn the_image_corpus_decodes_as_expected() {
    for (name, bytes) in images() {
        let decoded = decode_limited(&bytes, &LIMITS);
        let refused = name.starts_with("huge-");
        assert_eq!(decoded.is_err(), refused, "{name}: {:?}", decoded.err());
    }
}

proptest! {
    #[test]
    fn mutated_images_decode_within_limits_or_are_refused(
        bytes in mutated(images().into_iter().map(|(_, b)| b).collect(), IMAGE_TOKENS)
    ) {
        decode_holds(&bytes)?;
    }

    #[test]
    fn every_ipv6_form_of_a_non_public_ipv4_is_refused(v4 in any::<u32>(), tail in any::<u64>()) {
        let v4 = Ipv4Addr::from(v4);
        let [a, b, c, d] = v4.octets();
        let hi = u16::from_be_bytes([a, b]);
        let lo = u16::from_be_bytes([c, d]);
        let t = tail.to_be_bytes();
        let word = |i: usize| u16::from_be_bytes([t[i], t[i + 1]]);
        let embedded = [
            v4.to_ipv6_mapped(),
            Ipv6Addr::new(0x64, 0xff9b, 0, 0, 0, 0, hi, lo),
            Ipv6Addr::new(0x2002, hi, lo, word(0), word(2), word(4), word(6), 1),
        ];
        for v6 in embedded {
            prop_assert_eq!(
                is_public(IpAddr::V6(v6)),
                is_public(IpAddr::V4(v4)),
                "{} embeds {}", v6, v4
            );
        }
        // Deprecated or local-use forms are refused whatever they carry.
        for v6 in [
            v4.to_ipv6_compatible(),
            Ipv6Addr::new(0x64, 0xff9b, 1, word(0), word(2), word(4), hi, lo),
            Ipv6Addr::new(0x2001, 0, word(0), word(2), word(4), word(6), hi, lo),
        ] {
            prop_assert!(!is_public(IpAddr::V6(v6)), "{} must be refused", v6);
        }
    }

    #[test]
    fn only_global_unicast_ipv6_can_be_public(bits in any::<u128>()) {
        let v6 = Ipv6Addr::from(bits);
        let s = v6.segments();
        let global_unicast = (s[0] & 0xe000) == 0x2000;
        let embeds_v4 = v6.to_ipv4_mapped().is_some()
            || (s[0] == 0x64 && s[1] == 0xff9b && s[2..6].iter().all(|&x| x == 0));
        if !global_unicast && !embeds_v4 {
            prop_assert!(!is_public(IpAddr::V6(v6)), "{} is outside 2000::/3", v6);
        }
    }
}
