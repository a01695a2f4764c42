//! What a stored thumbnail is: its file format, and the size YouTube
//! accepts. A generate request names the format (`png` unless asked); each
//! thumbnail row keeps it, so the worker encodes it and `/files` serves it
//! with the right type and extension.

use std::str::FromStr;

use crate::ValidationError;

/// YouTube refuses a custom thumbnail over 2 MB: no stored image is larger.
pub const MAX_OUTPUT_BYTES: usize = 2 * 1024 * 1024;

/// The file format of a stored thumbnail (`thumbnails.format`).
#[derive(
    Debug,
    Clone,
    Copy,
    Default,
    PartialEq,
    Eq,
    Hash,
    strum::Display,
    strum::IntoStaticStr,
    strum::EnumIter,
    serde::Serialize,
    serde::Deserialize,
)]
#[strum(serialize_all = "snake_case")]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "sea-orm", derive(sea_orm::DeriveValueType))]
#[cfg_attr(feature = "sea-orm", sea_orm(value_type = "String"))]
pub enum OutputFormat {
    /// Lossless; reduced to a palette when the full-colour file is over
    /// [`MAX_OUTPUT_BYTES`].
    #[default]
    Png,
    Jpeg,
    /// Lossy WebP.
    Webp,
}

impl OutputFormat {
    pub const ALL: [OutputFormat; 3] = [OutputFormat::Png, OutputFormat::Jpeg, OutputFormat::Webp];

    pub fn as_str(self) -> &'static str {
        self.into()
    }

    /// The storage key's and the file URL's extension.
    pub fn extension(self) -> &'static str {
        match self {
            OutputFormat::Png => "png",
            OutputFormat::Jpeg => "jpg",
            OutputFormat::Webp => "webp",
        }
    }

    /// The `Content-Type` a client is served.
    pub fn content_type(self) -> &'static str {
        match self {
            OutputFormat::Png => "image/png",
            OutputFormat::Jpeg => "image/jpeg",
            OutputFormat::Webp => "image/webp",
        }
    }
}

/// What a request may say: `png`, `jpeg` or `webp`, exactly. The stored
/// text reads back through this too.
impl FromStr for OutputFormat {
    type Err = ValidationError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        OutputFormat::ALL
            .into_iter()
            .find(|f| f.as_str() == s)
            .ok_or_else(|| ValidationError::UnknownFormat(s.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_parse_exactly_and_name_their_file() {
        assert_eq!("png".parse(), Ok(OutputFormat::Png));
        assert_eq!("jpeg".parse(), Ok(OutputFormat::Jpeg));
        assert_eq!("webp".parse(), Ok(OutputFormat::Webp));
        assert_eq!(
            "gif".parse::<OutputFormat>(),
            Err(ValidationError::UnknownFormat("gif".into()))
        );
        assert!("PNG".parse::<OutputFormat>().is_err());
        assert_eq!(OutputFormat::Jpeg.extension(), "jpg");
        assert_eq!(OutputFormat::Webp.content_type(), "image/webp");
        assert_eq!(OutputFormat::default(), OutputFormat::Png);
    }
}
