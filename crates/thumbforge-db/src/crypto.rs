//! Sealing secrets at rest (organisations' provider keys) with a key derived
//! from the server secret: XChaCha20-Poly1305 with a random 24-byte nonce,
//! and the row's identity (org and provider) as associated data, so a
//! sealed value copied to another row does not open.

use base64::{Engine, engine::general_purpose::STANDARD};
use chacha20poly1305::{
    XChaCha20Poly1305, XNonce,
    aead::{Aead, AeadCore, KeyInit, OsRng, Payload},
};
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// Seals and opens values with a key derived from the server secret.
/// Changing the secret makes every sealed value unreadable (the keys must
/// be set again); docs/providers.md says so.
#[derive(Clone)]
pub struct Sealer {
    cipher: XChaCha20Poly1305,
}

impl std::fmt::Debug for Sealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Sealer(..)")
    }
}

#[derive(Debug, thiserror::Error)]
#[error("a sealed value could not be opened (was the server secret changed?)")]
pub struct OpenError;

impl Sealer {
    pub fn from_secret(secret: &str) -> Sealer {
        // Domain-separated from the URL-signing use of the same secret.
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret.as_bytes())
            .expect("HMAC takes any key length");
        mac.update(b"thumbforge provider keys v1");
        let key = mac.finalize().into_bytes();
        Sealer {
            cipher: XChaCha20Poly1305::new(&key),
        }
    }

    pub fn seal(&self, plaintext: &str, context: &str) -> String {
        let nonce = XChaCha20Poly1305::generate_nonce(&mut OsRng);
        let ciphertext = self
            .cipher
            .encrypt(
                &nonce,
                Payload {
                    msg: plaintext.as_bytes(),
                    aad: context.as_bytes(),
                },
            )
            .expect("encryption of an in-memory buffer does not fail");
        let mut out = nonce.to_vec();
        out.extend_from_slice(&ciphertext);
        STANDARD.encode(out)
    }

    pub fn open(&self, sealed: &str, context: &str) -> Result<String, OpenError> {
        let bytes = STANDARD.decode(sealed).map_err(|_| OpenError)?;
        if bytes.len() < 24 {
            return Err(OpenError);
        }
        let (nonce, ciphertext) = bytes.split_at(24);
        let plain = self
            .cipher
            .decrypt(
                XNonce::from_slice(nonce),
                Payload {
                    msg: ciphertext,
                    aad: context.as_bytes(),
                },
            )
            .map_err(|_| OpenError)?;
        String::from_utf8(plain).map_err(|_| OpenError)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_values_open_only_with_the_same_secret_and_context() {
        let sealer = Sealer::from_secret("server secret");
        let sealed = sealer.seal("sk-live-123", "org_1/openai");
        assert!(!sealed.contains("sk-live"));
        assert_ne!(
            sealed,
            sealer.seal("sk-live-123", "org_1/openai"),
            "random nonce"
        );
        assert_eq!(
            sealer.open(&sealed, "org_1/openai").ok().as_deref(),
            Some("sk-live-123")
        );
        assert!(sealer.open(&sealed, "org_2/openai").is_err());
        assert!(
            Sealer::from_secret("other")
                .open(&sealed, "org_1/openai")
                .is_err()
        );
        assert!(sealer.open("bm90IHNlYWxlZA==", "org_1/openai").is_err());
    }
}
