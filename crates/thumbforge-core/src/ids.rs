//! Prefixed identifiers. The prefix tells a reader what an id names
//! (`gen_…` is a generation). A new id's body is a ULID: 26 characters of
//! Crockford base32 (digits and capitals, URL-safe without escaping), a
//! 48-bit millisecond timestamp and then 80 random bits. Ids made later
//! sort later, in byte order and in any collation that puts digits before
//! letters, so a new row's primary key lands on the right edge of its
//! index instead of on a random page: PostgreSQL then skips the descent
//! (its rightmost-leaf fast path) and splits fewer pages. Writing the
//! rows of submits cost PostgreSQL 35-38 µs per submit with such ids
//! against 46-55 µs with random ones (docs/decisions.md, "Ids that sort
//! by time"). Ids made before this change (`gen_` and 20 random
//! alphanumerics) stay valid: to a client every id is opaque.
//!
//! Other tokens (API keys, secrets) stay wholly random ([`random_token`]).

use std::fmt;

const ALPHABET: [char; 62] = [
    '0', '1', '2', '3', '4', '5', '6', '7', '8', '9', 'a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i',
    'j', 'k', 'l', 'm', 'n', 'o', 'p', 'q', 'r', 's', 't', 'u', 'v', 'w', 'x', 'y', 'z', 'A', 'B',
    'C', 'D', 'E', 'F', 'G', 'H', 'I', 'J', 'K', 'L', 'M', 'N', 'O', 'P', 'Q', 'R', 'S', 'T', 'U',
    'V', 'W', 'X', 'Y', 'Z',
];

/// A random alphanumeric string of `len` characters.
pub fn random_token(len: usize) -> String {
    nanoid::nanoid!(len, &ALPHABET)
}

macro_rules! prefixed_id {
    ($name:ident, $prefix:literal) => {
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(String);

        impl $name {
            pub const PREFIX: &'static str = $prefix;

            /// A new id: the prefix and a ULID (time first, then random).
            pub fn new() -> Self {
                Self(format!("{}{}", $prefix, ulid::Ulid::generate()))
            }

            /// The least new id made at or after `ms` (Unix milliseconds):
            /// a lower bound for a range of ids by time.
            pub fn first_at(ms: i64) -> String {
                let ms = u64::try_from(ms).unwrap_or(0);
                format!("{}{}", $prefix, ulid::Ulid::from_parts(ms, 0))
            }

            /// Accepts an id read back from storage or a path. Ids are
            /// opaque to clients, so anything printable and short is kept
            /// and simply fails to match a row when it is not ours.
            pub fn parse(raw: &str) -> Option<Self> {
                let ok = !raw.is_empty()
                    && raw.len() <= 64
                    && raw
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
                ok.then(|| Self(raw.to_owned()))
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }

            pub fn into_string(self) -> String {
                self.0
            }
        }

        impl Default for $name {
            fn default() -> Self {
                Self::new()
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

prefixed_id!(GenerationId, "gen_");
prefixed_id!(ThumbnailId, "thm_");
prefixed_id!(OrgId, "org_");
prefixed_id!(ApiKeyId, "key_");
prefixed_id!(AssetId, "ast_");

/// Prefix of every API key. Keys are `tfk_` and 40 random characters
/// (about 238 bits), shown once and stored only as a hash.
pub const API_KEY_PREFIX: &str = "tfk_";

pub fn new_api_key() -> String {
    format!("{API_KEY_PREFIX}{}", random_token(40))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_carry_their_prefix_and_are_unique() {
        let a = GenerationId::new();
        let b = GenerationId::new();
        assert!(a.as_str().starts_with("gen_"));
        assert_eq!(a.as_str().len(), 30);
        assert_ne!(a, b);
        let body = &a.as_str()[4..];
        assert!(
            body.bytes()
                .all(|c| c.is_ascii_digit() || c.is_ascii_uppercase()),
            "{a}"
        );
        assert!(GenerationId::parse(a.as_str()).is_some());
    }

    #[test]
    fn first_at_bounds_the_ids_made_from_then() {
        let before = ThumbnailId::new();
        std::thread::sleep(std::time::Duration::from_millis(2));
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("after 1970")
            .as_millis() as i64;
        let bound = ThumbnailId::first_at(now);
        let after = ThumbnailId::new();
        assert!(before.as_str() < bound.as_str(), "{before} < {bound}");
        assert!(bound.as_str() <= after.as_str(), "{bound} <= {after}");
    }

    #[test]
    fn ids_made_later_sort_later() {
        let earlier: Vec<ThumbnailId> = (0..50).map(|_| ThumbnailId::new()).collect();
        // The order is by millisecond; within one, it is random.
        std::thread::sleep(std::time::Duration::from_millis(2));
        let later: Vec<ThumbnailId> = (0..50).map(|_| ThumbnailId::new()).collect();
        for a in &earlier {
            for b in &later {
                assert!(a < b, "{a} should sort before {b}");
            }
        }
    }

    #[test]
    fn parse_rejects_path_tricks() {
        assert!(ThumbnailId::parse("thm_abc").is_some());
        assert!(ThumbnailId::parse("../etc/passwd").is_none());
        assert!(ThumbnailId::parse("").is_none());
        assert!(ThumbnailId::parse(&"a".repeat(65)).is_none());
    }

    #[test]
    fn api_keys_are_long_and_prefixed() {
        let k = new_api_key();
        assert!(k.starts_with(API_KEY_PREFIX));
        assert_eq!(k.len(), 44);
    }
}
