//! Every remote model call takes its key's capacity first ([`Limited`]):
//! the rate and the calls in flight the settings allow, shared by every
//! worker. A 429 pauses the key for everyone for as long as the provider
//! asks, and the call waits and goes again: it spends none of the
//! thumbnail's attempts, and only the job's deadline ends the wait.

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use reqwest::header::HeaderMap;
use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};
use thumbforge_config::ProviderLimit;
use thumbforge_core::{
    ProviderKind,
    capacity::{Capacity, LimitKey, Limits},
};
use thumbforge_telemetry::metrics::{Metrics, ProviderLabels};
use tracing::{debug, warn};

use crate::{ImageModel, ImageRequest, Picture, ProviderError, http::parse_go_duration};

/// The longest pause a provider's answer may put on a key.
const MAX_PAUSE: Duration = Duration::from_secs(600);

/// One key's capacity, as an adapter and its wrapper see it.
#[derive(Debug, Clone)]
pub struct Gate {
    pub capacity: Arc<dyn Capacity>,
    pub key: LimitKey,
    pub limits: Limits,
    pub metrics: Arc<Metrics>,
    /// The pause after a 429 that names no wait: doubling from here.
    pub backoff_base: Duration,
    pub backoff_max: Duration,
}

impl Gate {
    pub fn new(
        capacity: Arc<dyn Capacity>,
        provider: ProviderKind,
        key: &SecretString,
        limit: ProviderLimit,
        metrics: Arc<Metrics>,
        policy: &crate::HttpPolicy,
    ) -> Gate {
        let digest = Sha256::digest(key.expose_secret().as_bytes());
        Gate {
            capacity,
            key: LimitKey {
                provider: provider.as_str(),
                key_digest: hex::encode(&digest[..8]),
            },
            limits: Limits {
                rpm: limit.rpm,
                max_concurrent: limit.max_concurrent,
            },
            metrics,
            backoff_base: policy.backoff_base,
            backoff_max: policy.backoff_max,
        }
    }

    /// OpenAI's `x-ratelimit-remaining-requests: 0` holds the key until
    /// `x-ratelimit-reset-requests`, for every worker.
    pub async fn observe(&self, headers: &HeaderMap) {
        let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
        let exhausted = header("x-ratelimit-remaining-requests")
            .and_then(|v| v.trim().parse::<u64>().ok())
            == Some(0);
        if let Some(reset) = exhausted
            .then(|| header("x-ratelimit-reset-requests").and_then(parse_go_duration))
            .flatten()
        {
            debug!(key = %self.key, reset_ms = reset.as_millis() as u64, "no requests left; pausing the key");
            self.capacity.pause(&self.key, reset.min(MAX_PAUSE)).await;
        }
    }

    fn labels(&self) -> ProviderLabels {
        ProviderLabels {
            provider: self.key.provider,
        }
    }
}

/// A remote model behind its key's capacity.
#[derive(Debug)]
pub struct Limited {
    pub inner: Arc<dyn ImageModel>,
    pub gate: Gate,
}

/// Counts a call as open until it ends, however it ends.
struct Open(prometheus_client::metrics::gauge::Gauge);

impl Drop for Open {
    fn drop(&mut self) {
        self.0.dec();
    }
}

#[async_trait::async_trait]
impl ImageModel for Limited {
    async fn generate(&self, request: &ImageRequest) -> Result<Picture, ProviderError> {
        let gate = &self.gate;
        let labels = gate.labels();
        let mut pauses = 0u32;
        loop {
            let waited = Instant::now();
            let permit = gate.capacity.acquire(&gate.key, gate.limits).await;
            gate.metrics
                .provider_capacity_wait
                .get_or_create(&labels)
                .observe(waited.elapsed().as_secs_f64());
            let open = gate
                .metrics
                .provider_in_flight
                .get_or_create(&labels)
                .clone();
            open.inc();
            let open = Open(open);
            let answer = self.inner.generate(request).await;
            drop((open, permit));
            let Err(ProviderError::RateLimited { retry_after }) = answer else {
                return answer;
            };
            gate.metrics
                .provider_rate_limited
                .get_or_create(&labels)
                .inc();
            let wait = retry_after.unwrap_or_else(|| {
                gate.backoff_base
                    .saturating_mul(1 << pauses.min(16))
                    .min(gate.backoff_max)
            });
            pauses += 1;
            warn!(key = %gate.key, wait_ms = wait.as_millis() as u64, "provider answered 429; the key waits, the call goes again");
            gate.capacity.pause(&gate.key, wait.min(MAX_PAUSE)).await;
        }
    }
}
