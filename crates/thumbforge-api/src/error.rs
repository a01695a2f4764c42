//! The HTTP error type and the rule for errors across thumbforge:
//!
//! - binaries and jobs use `anyhow`, with `.context()` on each fallible step;
//! - each library area has its own `thiserror` enum (`DbError`,
//!   `StorageError`, `QueueError`, `ProviderError`, `ValidationError`);
//! - at this boundary every failure becomes an `ApiError`, which picks the
//!   status code and a stable machine-readable `code`, renders RFC 9457
//!   `application/problem+json`, and logs a 5xx once, here. Clients never
//!   see internal detail. On Flokan's surface the same error is a
//!   `FlokanError`: Flokan's `{success: false, error}` envelope and status
//!   codes, with our `code` beside it.

use actix_web::{HttpResponse, ResponseError, http::StatusCode};
use serde::Serialize;
use thumbforge_core::{ErrorCode, ValidationError};
use thumbforge_db::DbError;
use thumbforge_providers::RouteError;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("the request body is not valid JSON: {0}")]
    MalformedJson(String),
    #[error("{detail}")]
    InvalidField { code: ErrorCode, detail: String },
    #[error("the request body must be JSON (Content-Type: application/json)")]
    UnsupportedMediaType,
    #[error("the request body is larger than {limit} bytes")]
    PayloadTooLarge { limit: usize },
    #[error(transparent)]
    Validation(#[from] ValidationError),
    #[error("{0}")]
    Route(#[from] RouteError),
    #[error("model `{0}` needs a paid plan")]
    PlanRequired(thumbforge_core::ModelId),
    #[error("this organisation's plan does not include bring-your-own-key")]
    ByokNotInPlan,
    #[error("this organisation has no {0} key configured; add one before using provider `{0}`")]
    ProviderNotConfigured(thumbforge_core::ProviderKind),
    #[error("no asset `{0}` exists in this organisation")]
    AssetNotFound(String),
    #[error(
        "the organisation's credit balance is too low for this request (it costs {needed} credits)"
    )]
    InsufficientCredits { needed: i32 },
    #[error(
        "the organisation's stored images exceed its plan's storage quota ({quota} bytes); delete generations or assets"
    )]
    StorageQuotaExceeded { quota: u64 },
    #[error("this API key lacks the `{0}` scope")]
    InsufficientScope(&'static str),
    #[error("Idempotency-Key must be 1 to 255 printable ASCII characters")]
    InvalidIdempotencyKey,
    #[error("this Idempotency-Key was already used with different parameters")]
    IdempotencyKeyReused,
    #[error("a request with this Idempotency-Key is still being processed; retry shortly")]
    IdempotencyInProgress,
    #[error("rate limit exceeded; retry after {} s", .0.reset_secs.max(1))]
    RateLimited(crate::ratelimit::RateInfo),
    #[error(
        "the organisation already has {waiting} thumbnails waiting in the queue (its plan allows {max}); retry after {retry_after_secs} s"
    )]
    QueueFull {
        waiting: u64,
        max: u64,
        retry_after_secs: u64,
    },
    #[error("YouTube search is not configured on this server (set YOUTUBE_API_KEY)")]
    YoutubeNotConfigured,
    #[error("{detail}")]
    Upstream { code: ErrorCode, detail: String },
    #[error("no API key given: send `Authorization: Bearer KEY` or `x-api-key: KEY`")]
    MissingApiKey,
    #[error("the API key is not valid")]
    InvalidApiKey,
    #[error("the image URL's signature is not valid")]
    InvalidSignature,
    #[error("the image URL has expired; poll the generation for a fresh one")]
    UrlExpired,
    #[error("{0} not found")]
    NotFound(&'static str),
    #[error("this method is not allowed here (allowed: {0})")]
    MethodNotAllowed(&'static str),
    #[error("the database is unreachable; try again shortly")]
    DatabaseUnavailable,
    #[error("the job queue is unreachable; try again shortly")]
    QueueUnavailable,
    #[error("the service is not ready: {0}")]
    NotReady(String),
    #[error("{detail}")]
    Conflict { code: ErrorCode, detail: String },
    #[error("internal error")]
    Internal(#[source] anyhow::Error),
}

impl ApiError {
    pub fn code(&self) -> ErrorCode {
        match self {
            ApiError::MalformedJson(_) => ErrorCode::InvalidJson,
            ApiError::InvalidField { code, .. } => *code,
            ApiError::UnsupportedMediaType => ErrorCode::UnsupportedMediaType,
            ApiError::PayloadTooLarge { .. } => ErrorCode::PayloadTooLarge,
            ApiError::Validation(e) => e.code(),
            ApiError::Route(RouteError::NotConfigured { .. }) => ErrorCode::ModelNotConfigured,
            ApiError::Route(RouteError::NotOnProvider { .. }) => ErrorCode::ModelNotOnProvider,
            ApiError::PlanRequired(_) => ErrorCode::PlanRequired,
            ApiError::ProviderNotConfigured(_) => ErrorCode::ProviderNotConfigured,
            ApiError::ByokNotInPlan => ErrorCode::ByokNotInPlan,
            ApiError::AssetNotFound(_) => ErrorCode::AssetNotFound,
            ApiError::InsufficientCredits { .. } => ErrorCode::InsufficientCredits,
            ApiError::InsufficientScope(_) => ErrorCode::InsufficientScope,
            ApiError::StorageQuotaExceeded { .. } => ErrorCode::StorageQuotaExceeded,
            ApiError::InvalidIdempotencyKey => ErrorCode::InvalidIdempotencyKey,
            ApiError::IdempotencyKeyReused => ErrorCode::IdempotencyKeyReused,
            ApiError::IdempotencyInProgress => ErrorCode::IdempotencyKeyInProgress,
            ApiError::RateLimited(_) => ErrorCode::RateLimited,
            ApiError::QueueFull { .. } => ErrorCode::QueueFull,
            ApiError::YoutubeNotConfigured => ErrorCode::YoutubeNotConfigured,
            ApiError::Upstream { code, .. } => *code,
            ApiError::MissingApiKey => ErrorCode::MissingApiKey,
            ApiError::InvalidApiKey => ErrorCode::InvalidApiKey,
            ApiError::InvalidSignature => ErrorCode::InvalidSignature,
            ApiError::UrlExpired => ErrorCode::UrlExpired,
            ApiError::NotFound(_) => ErrorCode::NotFound,
            ApiError::MethodNotAllowed(_) => ErrorCode::MethodNotAllowed,
            ApiError::DatabaseUnavailable => ErrorCode::DatabaseUnavailable,
            ApiError::QueueUnavailable => ErrorCode::QueueUnavailable,
            ApiError::NotReady(_) => ErrorCode::NotReady,
            ApiError::Conflict { code, .. } => *code,
            ApiError::Internal(_) => ErrorCode::InternalError,
        }
    }

    /// A field or a query parameter that is not as documented.
    pub fn invalid(code: ErrorCode, detail: impl Into<String>) -> ApiError {
        ApiError::InvalidField {
            code,
            detail: detail.into(),
        }
    }

    pub fn internal(e: impl Into<anyhow::Error>) -> ApiError {
        ApiError::Internal(e.into())
    }
}

impl From<DbError> for ApiError {
    fn from(e: DbError) -> ApiError {
        if e.is_unavailable() {
            tracing::warn!(error = %e, "database unavailable");
            ApiError::DatabaseUnavailable
        } else {
            ApiError::Internal(e.into())
        }
    }
}

/// RFC 9457 problem details with a `code` extension.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Problem<'a> {
    #[serde(rename = "type")]
    pub kind: &'a str,
    pub title: &'a str,
    pub status: u16,
    pub detail: String,
    pub code: &'a str,
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            ApiError::MalformedJson(_) => StatusCode::BAD_REQUEST,
            ApiError::InvalidField { .. }
            | ApiError::Validation(_)
            | ApiError::Route(_)
            | ApiError::ProviderNotConfigured(_)
            | ApiError::ByokNotInPlan
            | ApiError::AssetNotFound(_) => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::PlanRequired(_) | ApiError::InsufficientScope(_) => StatusCode::FORBIDDEN,
            ApiError::InsufficientCredits { .. } | ApiError::StorageQuotaExceeded { .. } => {
                StatusCode::PAYMENT_REQUIRED
            }
            ApiError::InvalidIdempotencyKey => StatusCode::BAD_REQUEST,
            ApiError::RateLimited(_) | ApiError::QueueFull { .. } => StatusCode::TOO_MANY_REQUESTS,
            ApiError::YoutubeNotConfigured => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Upstream { .. } => StatusCode::BAD_GATEWAY,
            ApiError::IdempotencyKeyReused => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::IdempotencyInProgress | ApiError::Conflict { .. } => StatusCode::CONFLICT,
            ApiError::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::MissingApiKey | ApiError::InvalidApiKey => StatusCode::UNAUTHORIZED,
            ApiError::InvalidSignature | ApiError::UrlExpired => StatusCode::FORBIDDEN,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::MethodNotAllowed(_) => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::DatabaseUnavailable | ApiError::QueueUnavailable | ApiError::NotReady(_) => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let status = self.status_code();
        if let ApiError::Internal(e) = self {
            tracing::error!(error = format!("{e:#}"), "request failed");
        }
        let problem = Problem {
            kind: "about:blank",
            title: status.canonical_reason().unwrap_or("Error"),
            status: status.as_u16(),
            detail: self.to_string(),
            code: self.code().as_str(),
        };
        let mut response = HttpResponse::build(status);
        response.content_type("application/problem+json");
        match self {
            ApiError::MissingApiKey | ApiError::InvalidApiKey => {
                response.insert_header(("WWW-Authenticate", "Bearer"));
            }
            ApiError::DatabaseUnavailable | ApiError::QueueUnavailable | ApiError::NotReady(_) => {
                response.insert_header(("Retry-After", "2"));
            }
            ApiError::QueueFull {
                retry_after_secs, ..
            } => {
                response.insert_header(("Retry-After", retry_after_secs.to_string()));
            }
            _ => {}
        }
        let mut response = response.json(problem);
        if let ApiError::RateLimited(info) = self {
            info.apply(response.headers_mut());
        }
        if let ApiError::MethodNotAllowed(methods) = self {
            response.headers_mut().insert(
                actix_web::http::header::ALLOW,
                actix_web::http::header::HeaderValue::from_static(methods),
            );
        }
        response
    }
}

/// An [`ApiError`] in the envelope and status codes of Flokan's surface
/// (`routes::flokan`, and the YouTube search mounted beside it).
#[derive(Debug)]
pub struct FlokanError(pub ApiError);

impl From<ApiError> for FlokanError {
    fn from(e: ApiError) -> FlokanError {
        FlokanError(e)
    }
}

impl std::fmt::Display for FlokanError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl ResponseError for FlokanError {
    fn status_code(&self) -> StatusCode {
        match &self.0 {
            // Flokan: "400 Validation error (bad model, ratio, count out of range, …)".
            ApiError::MalformedJson(_)
            | ApiError::InvalidField { .. }
            | ApiError::Validation(_)
            | ApiError::Route(_)
            | ApiError::InvalidIdempotencyKey
            | ApiError::IdempotencyKeyReused => StatusCode::BAD_REQUEST,
            other => other.status_code(),
        }
    }

    fn error_response(&self) -> HttpResponse {
        // Logs and headers (Retry-After, rate limits) as the native error.
        let native = self.0.error_response();
        let mut response = HttpResponse::build(self.status_code());
        for (name, value) in native.headers() {
            if name != actix_web::http::header::CONTENT_TYPE {
                response.insert_header((name.clone(), value.clone()));
            }
        }
        let error = match &self.0 {
            ApiError::Internal(_) => "Unexpected server error".to_owned(),
            other => other.to_string(),
        };
        response.json(FlokanErrorBody {
            success: false,
            error,
            code: self.0.code().as_str().to_owned(),
        })
    }
}

/// Flokan's error envelope, with our stable `code` beside it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct FlokanErrorBody {
    pub success: bool,
    pub error: String,
    pub code: String,
}
