//! Signed, expiring image URLs. A URL names a thumbnail, an expiry and an
//! HMAC-SHA256 over both under the server secret. It cannot be guessed or
//! altered, and it does not let the holder choose a variant: the server
//! serves the watermarked file for watermarked thumbnails, always.

use hmac::{Hmac, Mac};
use secrecy::{ExposeSecret, SecretString};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// Expiries are rounded up to this step, so a client polling within one
/// window sees the same URL (and its HTTP cache works).
const EXPIRY_STEP_SECS: i64 = 300;
const SIG_BYTES: usize = 16;

#[derive(Clone)]
pub struct UrlSigner {
    secret: SecretString,
    /// The secret before a rotation: what it signed still verifies.
    previous: Option<SecretString>,
}

impl std::fmt::Debug for UrlSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("UrlSigner(..)")
    }
}

impl UrlSigner {
    pub fn new(secret: SecretString) -> UrlSigner {
        UrlSigner {
            secret,
            previous: None,
        }
    }

    /// Also verifies URLs signed under `previous` (a rotation in progress).
    pub fn with_previous(mut self, previous: Option<SecretString>) -> UrlSigner {
        self.previous = previous;
        self
    }

    fn mac(&self, thumbnail_id: &str, expires: i64) -> HmacSha256 {
        Self::mac_with(&self.secret, thumbnail_id, expires)
    }

    fn mac_with(secret: &SecretString, thumbnail_id: &str, expires: i64) -> HmacSha256 {
        let mut mac = HmacSha256::new_from_slice(secret.expose_secret().as_bytes())
            .expect("HMAC accepts keys of any length");
        mac.update(thumbnail_id.as_bytes());
        mac.update(b":");
        mac.update(expires.to_string().as_bytes());
        mac
    }

    /// The expiry `sign` uses: the same for every call within one step.
    pub fn expiry(now_secs: i64, ttl_secs: i64) -> i64 {
        (now_secs + ttl_secs).div_euclid(EXPIRY_STEP_SECS) * EXPIRY_STEP_SECS + EXPIRY_STEP_SECS
    }

    /// `(expires, signature)` for a URL valid at least `ttl_secs` from `now_secs`.
    pub fn sign(&self, thumbnail_id: &str, now_secs: i64, ttl_secs: i64) -> (i64, String) {
        let expires = Self::expiry(now_secs, ttl_secs);
        let tag = self.mac(thumbnail_id, expires).finalize().into_bytes();
        (expires, hex::encode(&tag[..SIG_BYTES]))
    }

    /// Checks a signature in constant time.
    pub fn verify(&self, thumbnail_id: &str, expires: i64, signature: &str) -> bool {
        let Ok(sig) = hex::decode(signature) else {
            return false;
        };
        sig.len() == SIG_BYTES
            && std::iter::once(&self.secret)
                .chain(self.previous.as_ref())
                .any(|secret| {
                    Self::mac_with(secret, thumbnail_id, expires)
                        .verify_truncated_left(&sig)
                        .is_ok()
                })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_verify_and_bind_id_and_expiry() {
        let signer = UrlSigner::new(SecretString::from("s3cret"));
        let (exp, sig) = signer.sign("thm_a", 1_000_000, 3600);
        assert!(exp >= 1_000_000 + 3600);
        assert!(signer.verify("thm_a", exp, &sig));
        assert!(!signer.verify("thm_b", exp, &sig));
        assert!(!signer.verify("thm_a", exp + 1, &sig));
        assert!(!signer.verify("thm_a", exp, "zz"));
        let rotated = UrlSigner::new(SecretString::from("next"))
            .with_previous(Some(SecretString::from("s3cret")));
        assert!(
            rotated.verify("thm_a", exp, &sig),
            "the previous secret's URLs still verify"
        );
        let other = UrlSigner::new(SecretString::from("other"));
        assert!(!other.verify("thm_a", exp, &sig));
    }
}
