//! Every machine-readable error code the API can answer with, in one enum.
//! Handlers name a variant, never a string, so docs/api.md's table and the
//! OpenAPI spec's enum can be checked against [`ErrorCode::iter`].

use serde::{Serialize, Serializer};

#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, strum::IntoStaticStr, strum::EnumIter, strum::Display,
)]
#[strum(serialize_all = "snake_case")]
pub enum ErrorCode {
    // The request itself.
    InvalidJson,
    MissingField,
    InvalidType,
    InvalidCharacter,
    InvalidQuery,
    InvalidMultipart,
    UnsupportedMediaType,
    PayloadTooLarge,
    MethodNotAllowed,
    NotFound,
    // Authentication and permission.
    MissingApiKey,
    InvalidApiKey,
    InsufficientScope,
    PlanRequired,
    ByokNotInPlan,
    InvalidSignature,
    UrlExpired,
    RateLimited,
    QueueFull,
    // Generate's fields.
    InvalidPrompt,
    InvalidCount,
    InvalidAspectRatio,
    InvalidFormat,
    InvalidTitle,
    InvalidLabel,
    UnknownModel,
    UnknownProvider,
    ModelNotConfigured,
    ModelNotOnProvider,
    ProviderNotConfigured,
    InvalidReferenceUrl,
    TooManyReferences,
    AssetNotFound,
    InvalidWebhookUrl,
    InvalidWebhookEvents,
    InvalidIdempotencyKey,
    IdempotencyKeyReused,
    IdempotencyKeyInProgress,
    InsufficientCredits,
    StorageQuotaExceeded,
    // Other resources.
    InvalidImage,
    InvalidAssetKind,
    InvalidStyle,
    InvalidApiKeyValue,
    InvalidCursor,
    InvalidStatus,
    InvalidLimit,
    JobNotDead,
    InvalidJobIds,
    JobNotDiscardable,
    YoutubeNotConfigured,
    YoutubeUnavailable,
    // The service.
    DatabaseUnavailable,
    QueueUnavailable,
    NotReady,
    InternalError,
}

impl ErrorCode {
    pub fn as_str(self) -> &'static str {
        self.into()
    }

    /// Every code, in declaration order.
    pub fn iter() -> impl Iterator<Item = ErrorCode> {
        <ErrorCode as strum::IntoEnumIterator>::iter()
    }
}

impl Serialize for ErrorCode {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_snake_case_and_distinct() {
        let codes: Vec<&str> = ErrorCode::iter().map(ErrorCode::as_str).collect();
        assert!(codes.contains(&"idempotency_key_in_progress"));
        assert!(codes.contains(&"invalid_json"));
        let unique: std::collections::HashSet<_> = codes.iter().collect();
        assert_eq!(unique.len(), codes.len());
        assert!(
            codes
                .iter()
                .all(|c| c.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'))
        );
    }
}
