//! Public model names. A name that parses is one the service knows; whether
//! this server can run it (a provider configured) is a separate, runtime
//! question answered by the providers crate.

use std::{fmt, str::FromStr};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ModelId {
    /// The built-in offline renderer. Always available.
    Local,
    /// FatThumb's `gemini-3-pro` (Google Gemini image model).
    Gemini3Pro,
    /// FatThumb's `gpt-image-2` (OpenAI Images).
    GptImage2,
    /// A scripted model for tests and drills: fails or sleeps on request.
    /// Only servers started with `models.enable_test_model` accept it.
    Test,
}

impl ModelId {
    pub const ALL: [ModelId; 4] = [
        ModelId::Local,
        ModelId::Gemini3Pro,
        ModelId::GptImage2,
        ModelId::Test,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ModelId::Local => "local",
            ModelId::Gemini3Pro => "gemini-3-pro",
            ModelId::GptImage2 => "gpt-image-2",
            ModelId::Test => "test",
        }
    }
}

impl FromStr for ModelId {
    type Err = ();
    fn from_str(s: &str) -> Result<Self, ()> {
        ModelId::ALL.into_iter().find(|m| m.as_str() == s).ok_or(())
    }
}

impl fmt::Display for ModelId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
