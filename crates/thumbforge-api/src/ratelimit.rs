//! Rate limits per API key: every authenticated request counts against an
//! hourly window, and generate calls also against a per-minute one (the
//! limits come from the caller's plan). Fixed windows, counted in Redis
//! when one is configured, so every API replica shares them (one script
//! call per request), else in process.
//!
//! Every limited response carries `X-RateLimit-Limit`, `X-RateLimit-Remaining`
//! and `X-RateLimit-Reset` (seconds until the window resets) for the window
//! closest to its limit; a refused one is a 429 with `Retry-After`. If Redis
//! cannot be reached, requests are let through (and logged): an outage of
//! the counter must not take the API down with it.

use std::{
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};

use actix_web::http::header::{HeaderMap, HeaderName, HeaderValue};
use redis::Script;
use thumbforge_config::{LimitSettings, PlanLimits};
use thumbforge_core::Plan;
use thumbforge_queue::RedisConn;
use tracing::warn;

/// One limit a request counts against.
#[derive(Debug, Clone, Copy)]
struct Window {
    name: &'static str,
    limit: u64,
    period_secs: u64,
}

/// Where a request stands against its tightest window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateInfo {
    pub limit: u64,
    pub remaining: u64,
    /// Seconds until that window resets.
    pub reset_secs: u64,
    pub allowed: bool,
}

impl RateInfo {
    pub fn apply(&self, headers: &mut HeaderMap) {
        for (name, value) in [
            ("x-ratelimit-limit", self.limit),
            ("x-ratelimit-remaining", self.remaining),
            ("x-ratelimit-reset", self.reset_secs),
        ] {
            headers.insert(HeaderName::from_static(name), HeaderValue::from(value));
        }
        if !self.allowed {
            headers.insert(
                actix_web::http::header::RETRY_AFTER,
                HeaderValue::from(self.reset_secs.max(1)),
            );
        }
    }
}

#[derive(Debug)]
enum Counter {
    Local(moka::sync::Cache<(String, &'static str, u64), Arc<AtomicU64>>),
    Redis { conn: RedisConn, prefix: String },
}

#[derive(Debug)]
pub struct Limiter {
    settings: LimitSettings,
    counter: Counter,
}

const SCRIPT: &str = r"
local out = {}
for i, key in ipairs(KEYS) do
  local n = redis.call('INCR', key)
  if n == 1 then redis.call('EXPIRE', key, ARGV[i]) end
  out[i] = n
end
return out
";

impl Limiter {
    /// Counts in Redis at `redis_url` when given, else in this process.
    pub async fn new(
        settings: &LimitSettings,
        redis_url: Option<&str>,
        prefix: &str,
    ) -> anyhow::Result<Limiter> {
        let counter = match redis_url {
            Some(url) => {
                let config = redis::aio::ConnectionManagerConfig::new()
                    .set_connection_timeout(Some(Duration::from_secs(2)))
                    .set_response_timeout(Some(Duration::from_secs(2)));
                Counter::Redis {
                    conn: RedisConn::open(url, config, true).await?,
                    prefix: prefix.to_owned(),
                }
            }
            None => Counter::Local(
                moka::sync::Cache::builder()
                    .max_capacity(100_000)
                    .time_to_live(Duration::from_secs(3600 + 60))
                    .build(),
            ),
        };
        Ok(Limiter {
            settings: settings.clone(),
            counter,
        })
    }

    fn windows(&self, plan: Plan, generate: bool) -> Vec<Window> {
        let limits: PlanLimits = *self.settings.of(plan);
        // No allocation when the plan has no limits (every request asks).
        let mut windows = Vec::new();
        if limits.requests_per_hour > 0 {
            windows.push(Window {
                name: "hour",
                limit: limits.requests_per_hour,
                period_secs: 3600,
            });
        }
        if generate && limits.generates_per_minute > 0 {
            windows.push(Window {
                name: "generate",
                limit: limits.generates_per_minute,
                period_secs: 60,
            });
        }
        windows
    }

    /// The plan's storage quota in bytes (0: none).
    pub fn storage_quota(&self, plan: Plan) -> u64 {
        self.settings.of(plan).storage_quota_bytes
    }

    /// Whether the plan may use the organisation's own provider keys.
    pub fn byok_allowed(&self, plan: Plan) -> bool {
        self.settings.of(plan).byok
    }

    /// Counts one request by `key_id`; `None` when its plan has no limits.
    pub async fn hit(&self, key_id: &str, plan: Plan, generate: bool) -> Option<RateInfo> {
        let windows = self.windows(plan, generate);
        if windows.is_empty() {
            return None;
        }
        let now = thumbforge_db::now_ms() as u64 / 1000;
        let starts: Vec<u64> = windows
            .iter()
            .map(|w| now / w.period_secs * w.period_secs)
            .collect();
        let counts = match &self.counter {
            Counter::Local(cache) => windows
                .iter()
                .zip(&starts)
                .map(|(w, start)| {
                    cache
                        .get_with((key_id.to_owned(), w.name, *start), Default::default)
                        .fetch_add(1, Ordering::Relaxed)
                        + 1
                })
                .collect(),
            Counter::Redis { conn, prefix } => {
                let script = Script::new(SCRIPT);
                let mut invocation = script.prepare_invoke();
                for (w, start) in windows.iter().zip(&starts) {
                    invocation
                        .key(format!("{prefix}:rl:{key_id}:{}:{start}", w.name))
                        .arg(w.period_secs + 5);
                }
                let mut conn = conn.clone();
                match invocation.invoke_async::<Vec<u64>>(&mut conn).await {
                    Ok(counts) => counts,
                    Err(e) => {
                        warn!(error = %e, "rate-limit counter unreachable; letting the request through");
                        return None;
                    }
                }
            }
        };
        windows
            .iter()
            .zip(starts)
            .zip(counts)
            .map(|((w, start), count)| RateInfo {
                limit: w.limit,
                remaining: w.limit.saturating_sub(count),
                reset_secs: (start + w.period_secs).saturating_sub(now),
                allowed: count <= w.limit,
            })
            // A refused window first, else the one closest to its limit.
            .min_by_key(|info| (info.allowed, info.remaining))
    }
}
