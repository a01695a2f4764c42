//! What every handler shares: the connections, the settings they read,
//! the submitter and rate limiter, and the caches that keep hot reads off
//! the database. Built once by `startup`.

use std::sync::Arc;

use actix_web::HttpRequest;
use thumbforge_core::ModelId;
use thumbforge_db::{Db, now_ms};
use thumbforge_providers::Providers;
use thumbforge_queue::JobQueue;
use thumbforge_storage::Storage;
use thumbforge_telemetry::metrics::Metrics;

use crate::signing::UrlSigner;

/// Shared by every handler.
#[derive(Debug)]
pub struct AppState {
    pub db: Db,
    pub queue: JobQueue,
    pub storage: Storage,
    pub providers: Providers,
    /// Seals organisations' provider keys.
    pub sealer: thumbforge_db::crypto::Sealer,
    /// `references.allow_http`: plain-http reference URLs accepted.
    pub allow_http_references: bool,
    /// Largest asset upload.
    pub max_upload_bytes: usize,
    /// Decode limits for uploaded assets.
    pub upload_limits: thumbforge_providers::decode::DecodeLimits,
    pub signer: UrlSigner,
    pub default_model: ModelId,
    pub public_url: Option<String>,
    pub max_body_bytes: usize,
    pub url_ttl_secs: i64,
    /// Image URLs are presigned bucket URLs (`storage.urls`).
    pub presigned_urls: bool,
    pub metrics: Arc<Metrics>,
    pub caches: Caches,
    /// New generations are committed and pushed through here, in batches.
    pub submitter: crate::submit::Submitter,
    /// Per-key rate limits.
    pub limiter: crate::ratelimit::Limiter,
    /// The scripted test model is accepted (Flokan's surface lets it stand
    /// in for its models then).
    pub test_model_enabled: bool,
    /// How long Flokan's synchronous generate waits.
    pub sync_wait: std::time::Duration,
    /// A generation's deadline (`worker.deadline_secs`): how long before a
    /// job's end it can have been accepted.
    pub job_deadline: std::time::Duration,
    pub youtube: thumbforge_config::YoutubeSettings,
    /// Outbound HTTP (YouTube search).
    pub http: reqwest::Client,
}

/// In-process caches that keep the hot read paths off the database.
#[derive(Debug)]
pub struct Caches {
    /// Key hash → caller. Key and plan changes take effect within the TTL
    /// (`api.auth_cache_secs`); unknown keys are never cached.
    pub callers: moka::sync::Cache<[u8; 32], thumbforge_db::keys::Caller>,
    /// (generation, URL expiry) → the serialized answer for a terminal
    /// generation, with the org and base URL it was made for (checked on
    /// every hit).
    pub bodies: moka::sync::Cache<(String, i64), Arc<CachedBody>>,
}

#[derive(Debug)]
pub struct CachedBody {
    pub org_id: String,
    pub base: String,
    pub bytes: actix_web::web::Bytes,
}

impl Caches {
    pub fn new(auth_ttl: std::time::Duration) -> Caches {
        Caches {
            callers: moka::sync::Cache::builder()
                .max_capacity(if auth_ttl.is_zero() { 0 } else { 10_000 })
                .time_to_live(auth_ttl.max(std::time::Duration::from_secs(1)))
                .build(),
            bodies: moka::sync::Cache::builder()
                .max_capacity(20_000)
                .time_to_live(std::time::Duration::from_secs(300))
                .build(),
        }
    }
}

impl AppState {
    /// Where clients reach us: the configured public URL, else the scheme
    /// and host the request came in on.
    pub fn base_url(&self, req: &HttpRequest) -> String {
        match &self.public_url {
            Some(url) => url.trim_end_matches('/').to_owned(),
            None => {
                let info = req.connection_info();
                format!("{}://{}", info.scheme(), info.host())
            }
        }
    }

    /// Drops this replica's cached answer for a generation that changed
    /// after it ended (deleted, or reopened by an operator's retry).
    pub fn forget_cached(&self, generation_id: &str) {
        let step = UrlSigner::expiry(now_ms() / 1000, self.url_ttl_secs);
        self.caches
            .bodies
            .invalidate(&(generation_id.to_owned(), step));
    }
}
