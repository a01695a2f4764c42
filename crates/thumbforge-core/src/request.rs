//! The generate request as the domain sees it. Wire formats (FatThumb's
//! camelCase today, Flokan's snake_case later) are turned into these types
//! through `TryFrom`/constructors, so a value that exists is valid and no
//! handler re-checks it.

use std::{fmt, str::FromStr};

use crate::{
    ErrorCode,
    model::{ModelId, ProviderChoice},
};

/// Why a request was refused. Each variant has a stable machine-readable
/// code; the HTTP layer chooses the status.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ValidationError {
    #[error("prompt must not be empty")]
    EmptyPrompt,
    #[error("prompt must be at most {max} characters (got {got})")]
    PromptTooLong { max: usize, got: usize },
    #[error("count must be an integer from 1 to 4 (got {0})")]
    CountOutOfRange(i64),
    #[error("unknown aspect ratio `{0}`; supported: 16:9, 4:3, 1:1")]
    UnknownAspectRatio(String),
    #[error(
        "unknown model `{0}`; known models: local, gemini-3-pro, gpt-image-2, pro, standard, creative"
    )]
    UnknownModel(String),
    #[error("video_title must be 1 to 500 characters (got {got})")]
    InvalidTitle { got: usize },
    #[error("`{field}` must be 1 to 64 letters, digits, `-` or `_`")]
    InvalidLabel { field: &'static str },
    #[error("invalid style: {0}")]
    InvalidStyle(String),
    #[error("unknown format `{0}`; supported: png, jpeg, webp")]
    UnknownFormat(String),
    #[error("webhookUrl must be an http(s) URL")]
    InvalidWebhookUrl,
    #[error("webhookEvents must be `completed` or `all` (got `{0}`)")]
    InvalidWebhookEvents(String),
    #[error("unknown provider `{0}`; expected platform, openai, google, fal or kie")]
    UnknownProvider(String),
    #[error("`{field}` is not an http(s) URL: {url}")]
    InvalidReferenceUrl { field: &'static str, url: String },
    #[error("at most {max} {field} may be given (got {got})")]
    TooManyReferences {
        field: &'static str,
        max: usize,
        got: usize,
    },
    #[error("`{field}` must not contain the NUL character (U+0000)")]
    NulCharacter { field: &'static str },
}

impl ValidationError {
    pub fn code(&self) -> ErrorCode {
        match self {
            ValidationError::EmptyPrompt | ValidationError::PromptTooLong { .. } => {
                ErrorCode::InvalidPrompt
            }
            ValidationError::CountOutOfRange(_) => ErrorCode::InvalidCount,
            ValidationError::UnknownAspectRatio(_) => ErrorCode::InvalidAspectRatio,
            ValidationError::UnknownFormat(_) => ErrorCode::InvalidFormat,
            ValidationError::UnknownModel(_) => ErrorCode::UnknownModel,
            ValidationError::UnknownProvider(_) => ErrorCode::UnknownProvider,
            ValidationError::InvalidTitle { .. } => ErrorCode::InvalidTitle,
            ValidationError::InvalidWebhookUrl => ErrorCode::InvalidWebhookUrl,
            ValidationError::InvalidStyle(_) => ErrorCode::InvalidStyle,
            ValidationError::InvalidWebhookEvents(_) => ErrorCode::InvalidWebhookEvents,
            ValidationError::InvalidLabel { .. } => ErrorCode::InvalidLabel,
            ValidationError::InvalidReferenceUrl { .. } => ErrorCode::InvalidReferenceUrl,
            ValidationError::TooManyReferences { .. } => ErrorCode::TooManyReferences,
            ValidationError::NulCharacter { .. } => ErrorCode::InvalidCharacter,
        }
    }
}

/// Refuses U+0000 in a text that will be stored: PostgreSQL cannot hold it
/// (SQLite can), so both backends refuse it here alike.
pub fn refuse_nul(field: &'static str, text: &str) -> Result<(), ValidationError> {
    if text.contains('\0') {
        return Err(ValidationError::NulCharacter { field });
    }
    Ok(())
}

/// A non-empty prompt of bounded length, trimmed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Prompt(String);

impl Prompt {
    /// Flokan's documented limit (FatThumb documents none).
    pub const MAX_CHARS: usize = 10_000;

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for Prompt {
    type Error = ValidationError;
    fn try_from(raw: String) -> Result<Self, Self::Error> {
        refuse_nul("prompt", &raw)?;
        let trimmed = raw.trim();
        if trimmed.is_empty() {
            return Err(ValidationError::EmptyPrompt);
        }
        let chars = trimmed.chars().count();
        if chars > Self::MAX_CHARS {
            return Err(ValidationError::PromptTooLong {
                max: Self::MAX_CHARS,
                got: chars,
            });
        }
        Ok(Prompt(trimmed.to_owned()))
    }
}

/// How many variations one generation makes: 1 to 4.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ThumbnailCount(u8);

impl ThumbnailCount {
    pub const MAX: u8 = 4;

    pub fn get(self) -> u8 {
        self.0
    }
}

impl Default for ThumbnailCount {
    fn default() -> Self {
        ThumbnailCount(1)
    }
}

impl TryFrom<i64> for ThumbnailCount {
    type Error = ValidationError;
    fn try_from(n: i64) -> Result<Self, Self::Error> {
        match u8::try_from(n) {
            Ok(v) if (1..=Self::MAX).contains(&v) => Ok(ThumbnailCount(v)),
            _ => Err(ValidationError::CountOutOfRange(n)),
        }
    }
}

/// The supported output shapes and their pixel sizes. 16:9 is YouTube's
/// 1280x720; the others keep the 720-pixel height.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AspectRatio {
    #[default]
    Landscape16x9,
    Standard4x3,
    Square1x1,
}

impl AspectRatio {
    pub const ALL: [AspectRatio; 3] = [
        AspectRatio::Landscape16x9,
        AspectRatio::Standard4x3,
        AspectRatio::Square1x1,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            AspectRatio::Landscape16x9 => "16:9",
            AspectRatio::Standard4x3 => "4:3",
            AspectRatio::Square1x1 => "1:1",
        }
    }

    /// Output size in pixels (width, height).
    pub fn dimensions(self) -> (u32, u32) {
        match self {
            AspectRatio::Landscape16x9 => (1280, 720),
            AspectRatio::Standard4x3 => (960, 720),
            AspectRatio::Square1x1 => (720, 720),
        }
    }
}

impl FromStr for AspectRatio {
    type Err = ValidationError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        AspectRatio::ALL
            .into_iter()
            .find(|a| a.as_str() == s.trim())
            .ok_or_else(|| ValidationError::UnknownAspectRatio(s.to_owned()))
    }
}

impl fmt::Display for AspectRatio {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Reference ids (FatThumb's `personIds`/`inspirationIds`), bounded.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ReferenceIds(Vec<String>);

impl ReferenceIds {
    pub const MAX: usize = 8;

    pub fn parse(field: &'static str, ids: Vec<String>) -> Result<Self, ValidationError> {
        if ids.len() > Self::MAX {
            return Err(ValidationError::TooManyReferences {
                field,
                max: Self::MAX,
                got: ids.len(),
            });
        }
        for id in &ids {
            refuse_nul(field, id)?;
        }
        Ok(ReferenceIds(ids))
    }

    pub fn as_slice(&self) -> &[String] {
        &self.0
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// Reference image URLs the worker fetches (Flokan's `reference_image_url`
/// and `youtube_references`), the primary one first.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ReferenceUrls(Vec<String>);

impl ReferenceUrls {
    /// Flokan's limit on `youtube_references`.
    pub const MAX_YOUTUBE: usize = 6;
    const MAX_URL_CHARS: usize = 2048;

    /// `reference_image_url` takes precedence over `youtube_references[0]`
    /// as the primary reference; the rest follow in order.
    pub fn parse(
        reference_image_url: Option<String>,
        youtube_references: Vec<String>,
    ) -> Result<Self, ValidationError> {
        if youtube_references.len() > Self::MAX_YOUTUBE {
            return Err(ValidationError::TooManyReferences {
                field: "youtube_references",
                max: Self::MAX_YOUTUBE,
                got: youtube_references.len(),
            });
        }
        let mut urls = Vec::with_capacity(youtube_references.len() + 1);
        if let Some(url) = reference_image_url {
            urls.push(Self::check("reference_image_url", url)?);
        }
        for url in youtube_references {
            urls.push(Self::check("youtube_references", url)?);
        }
        Ok(ReferenceUrls(urls))
    }

    fn check(field: &'static str, url: String) -> Result<String, ValidationError> {
        let url = url.trim().to_owned();
        let lower = url.to_ascii_lowercase();
        let has_host = lower
            .split_once("://")
            .is_some_and(|(_, rest)| !rest.is_empty() && !rest.starts_with('/'));
        if !(lower.starts_with("https://") || lower.starts_with("http://"))
            || !has_host
            || url.len() > Self::MAX_URL_CHARS
            || url.chars().any(|c| c.is_whitespace() || c.is_control())
        {
            return Err(ValidationError::InvalidReferenceUrl { field, url });
        }
        Ok(url)
    }

    pub fn from_stored(urls: Vec<String>) -> Self {
        ReferenceUrls(urls)
    }

    pub fn as_slice(&self) -> &[String] {
        &self.0
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

pub fn parse_provider(raw: &str) -> Result<ProviderChoice, ValidationError> {
    raw.trim()
        .parse()
        .map_err(|()| ValidationError::UnknownProvider(raw.to_owned()))
}

/// A fully parsed generate request. `model` is `None` when the client named
/// none, so the server's configured default applies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GenerateRequest {
    pub prompt: Prompt,
    pub model: Option<ModelName>,
    pub count: ThumbnailCount,
    pub aspect_ratio: AspectRatio,
    pub person_ids: ReferenceIds,
    pub inspiration_ids: ReferenceIds,
    /// Image URLs the worker fetches, primary first.
    pub reference_urls: ReferenceUrls,
    /// Whose key pays: the platform's or the org's own.
    pub provider: ProviderChoice,
    /// The video's title (Flokan's `video_title`): the headline drawn.
    pub title: Option<Title>,
    /// An opaque org-scoped label to filter by (Flokan's `card_id`).
    pub card_id: Option<Label>,
    /// Where to POST the generation's events.
    pub webhook: Option<Webhook>,
    /// The style preset to draw with (resolved from its id by the API).
    pub style: Option<crate::style::StyleSpec>,
    /// The file format every thumbnail is stored in.
    pub format: crate::OutputFormat,
}

/// A webhook a generation reports to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Webhook {
    pub url: String,
    /// Every thumbnail's outcome too, not only the generation's end.
    pub all_events: bool,
}

impl Webhook {
    /// What `webhookEvents` may say: the generation's end only, or each
    /// thumbnail's end too.
    pub const EVENTS: [&'static str; 2] = ["completed", "all"];

    pub fn parse(url: String, events: Option<&str>) -> Result<Webhook, ValidationError> {
        let all_events = match events.unwrap_or("completed") {
            "completed" => false,
            "all" => true,
            other => return Err(ValidationError::InvalidWebhookEvents(other.to_owned())),
        };
        let url = ReferenceUrls::parse(Some(url), Vec::new())
            .map_err(|_| ValidationError::InvalidWebhookUrl)?
            .0
            .remove(0);
        Ok(Webhook { url, all_events })
    }

    pub fn events(&self) -> &'static str {
        if self.all_events { "all" } else { "completed" }
    }
}

/// A video title: 1 to 500 characters after trimming.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Title(String);

impl Title {
    pub const MAX_CHARS: usize = 500;

    pub fn parse(raw: &str) -> Result<Title, ValidationError> {
        refuse_nul("title", raw)?;
        let trimmed = raw.trim();
        let chars = trimmed.chars().count();
        if chars == 0 || chars > Self::MAX_CHARS {
            return Err(ValidationError::InvalidTitle { got: chars });
        }
        Ok(Title(trimmed.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// An opaque client label (Flokan's `card_id`): 1 to 64 characters of
/// letters, digits, `-` and `_`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Label(String);

impl Label {
    pub fn parse(field: &'static str, raw: &str) -> Result<Label, ValidationError> {
        let ok = !raw.is_empty()
            && raw.len() <= 64
            && raw
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if !ok {
            return Err(ValidationError::InvalidLabel { field });
        }
        Ok(Label(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A model name as a request gives it. Which models exist is the server's
/// catalogue's business: the submit resolves the name there.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ModelName(String);

impl ModelName {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for ModelName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<ModelId> for ModelName {
    fn from(model: ModelId) -> ModelName {
        ModelName(model.as_str().to_owned())
    }
}

/// A name no catalogue could hold is refused here; one this server does
/// not know, when it is resolved.
pub fn parse_model(raw: &str) -> Result<ModelName, ValidationError> {
    let name = raw.trim();
    if crate::model::valid_name(name) {
        Ok(ModelName(name.to_owned()))
    } else {
        Err(ValidationError::UnknownModel(raw.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn count_accepts_one_to_four_only() {
        for n in 1..=4 {
            assert_eq!(ThumbnailCount::try_from(n).map(|c| c.get() as i64), Ok(n));
        }
        for n in [0, 5, -1, 256, i64::MAX] {
            assert_eq!(
                ThumbnailCount::try_from(n),
                Err(ValidationError::CountOutOfRange(n))
            );
        }
    }

    #[test]
    fn prompt_is_trimmed_and_bounded() {
        assert_eq!(
            Prompt::try_from("  hi ".to_owned()).map(|p| p.0),
            Ok("hi".into())
        );
        assert_eq!(
            Prompt::try_from("   ".to_owned()),
            Err(ValidationError::EmptyPrompt)
        );
        assert!(matches!(
            Prompt::try_from("x".repeat(10_001)),
            Err(ValidationError::PromptTooLong { got: 10_001, .. })
        ));
    }

    #[test]
    fn aspect_ratios_map_to_documented_sizes() {
        assert_eq!(
            "16:9".parse::<AspectRatio>().map(|a| a.dimensions()),
            Ok((1280, 720))
        );
        assert_eq!(
            "4:3".parse::<AspectRatio>().map(|a| a.dimensions()),
            Ok((960, 720))
        );
        assert_eq!(
            "1:1".parse::<AspectRatio>().map(|a| a.dimensions()),
            Ok((720, 720))
        );
        assert_eq!(
            "21:9".parse::<AspectRatio>().map_err(|e| e.code().as_str()),
            Err("invalid_aspect_ratio")
        );
    }

    #[test]
    fn reference_urls_put_the_explicit_one_first() {
        let urls = ReferenceUrls::parse(
            Some("https://img.example/a.png".into()),
            vec!["https://i.ytimg.com/vi/x/hqdefault.jpg".into()],
        )
        .expect("valid");
        assert_eq!(urls.as_slice()[0], "https://img.example/a.png");
        assert_eq!(urls.as_slice().len(), 2);
        for bad in [
            "ftp://x/y.png",
            "https://",
            "file:///etc/passwd",
            "not a url",
        ] {
            assert_eq!(
                ReferenceUrls::parse(Some(bad.into()), vec![]).map_err(|e| e.code().as_str()),
                Err("invalid_reference_url"),
                "{bad}"
            );
        }
        assert_eq!(
            ReferenceUrls::parse(None, vec!["https://a/b".into(); 7])
                .map_err(|e| e.code().as_str()),
            Err("too_many_references")
        );
    }

    #[test]
    fn models_parse_by_public_name() {
        assert_eq!(
            parse_model(" gpt-image-2").map(|m| m.as_str().to_owned()),
            Ok("gpt-image-2".to_owned())
        );
        assert_eq!(parse_model("local"), Ok(ModelName::from(ModelId::LOCAL)));
        assert_eq!(
            parse_model("DALL·E 3").map_err(|e| e.code().as_str()),
            Err("unknown_model")
        );
    }
}
