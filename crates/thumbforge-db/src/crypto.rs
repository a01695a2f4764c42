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
    /// The secret before a rotation: opens what it sealed (never seals).
    previous: Option<XChaCha20Poly1305>,
}

impl std::fmt::Debug for Sealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Sealer(..)")
    }
}

/// What `reseal` did to one kind of sealed value.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Resealed {
    /// Opened with the previous secret and sealed again with the current.
    pub resealed: usize,
    /// Already sealed with the current secret.
    pub current: usize,
    /// Opened with neither secret (left as they are).
    pub unreadable: usize,
}

impl Resealed {
    /// Re-seals one value if it is not current: `Some(new)` to store.
    pub fn step(&mut self, sealer: &Sealer, sealed: &str, context: &str) -> Option<String> {
        if sealer.is_current(sealed, context) {
            self.current += 1;
            return None;
        }
        // Not current: only the previous secret can open it.
        let opened = sealer
            .previous
            .as_ref()
            .map(|previous| Sealer::open_with(previous, sealed, context));
        match opened.unwrap_or(Err(OpenError)) {
            Ok(plain) => {
                self.resealed += 1;
                Some(sealer.seal(&plain, context))
            }
            Err(_) => {
                self.unreadable += 1;
                None
            }
        }
    }
}

#[derive(Debug, thiserror::Error)]
#[error("a sealed value could not be opened (was the server secret changed?)")]
pub struct OpenError;

impl Sealer {
    pub fn from_secret(secret: &str) -> Sealer {
        Sealer {
            cipher: Self::cipher(secret),
            previous: None,
        }
    }

    /// Also opens values sealed under `previous` (a rotation in progress).
    pub fn with_previous(mut self, previous: Option<&str>) -> Sealer {
        self.previous = previous.map(Self::cipher);
        self
    }

    fn cipher(secret: &str) -> XChaCha20Poly1305 {
        // Domain-separated from the URL-signing use of the same secret.
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret.as_bytes())
            .expect("HMAC takes any key length");
        mac.update(b"thumbforge provider keys v1");
        XChaCha20Poly1305::new(&mac.finalize().into_bytes())
    }

    /// Whether `sealed` opens under the current secret (not the previous).
    pub fn is_current(&self, sealed: &str, context: &str) -> bool {
        Self::open_with(&self.cipher, sealed, context).is_ok()
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
        Self::open_with(&self.cipher, sealed, context).or_else(|e| match &self.previous {
            Some(previous) => Self::open_with(previous, sealed, context),
            None => Err(e),
        })
    }

    fn open_with(
        cipher: &XChaCha20Poly1305,
        sealed: &str,
        context: &str,
    ) -> Result<String, OpenError> {
        let bytes = STANDARD.decode(sealed).map_err(|_| OpenError)?;
        if bytes.len() < 24 {
            return Err(OpenError);
        }
        let (nonce, ciphertext) = bytes.split_at(24);
        let plain = cipher
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
        // During a rotation the new sealer still opens the old value, and
        // says it is not current; a reseal step makes it current.
        let old = sealer.seal("sk-rotation", "org/openai");
        let rotating = Sealer::from_secret("next secret").with_previous(Some("server secret"));
        assert_eq!(
            rotating.open(&old, "org/openai").expect("opens"),
            "sk-rotation"
        );
        assert!(!rotating.is_current(&old, "org/openai"));
        let mut report = Resealed::default();
        let new = report
            .step(&rotating, &old, "org/openai")
            .expect("re-sealed");
        assert!(
            Sealer::from_secret("next secret")
                .open(&new, "org/openai")
                .is_ok()
        );
        assert_eq!(report.step(&rotating, &new, "org/openai"), None);
        assert_eq!(report.step(&rotating, "garbage", "org/openai"), None);
        assert_eq!(
            (report.resealed, report.current, report.unreadable),
            (1, 1, 1)
        );
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
