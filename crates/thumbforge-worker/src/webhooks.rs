//! The webhook deliverer, in every worker process: it queues the events of
//! generations that asked for a webhook, then sends due deliveries.
//!
//! Deliveries follow the Standard Webhooks spec
//! (<https://www.standardwebhooks.com>): `webhook-id` (the delivery id, the
//! same on every retry), `webhook-timestamp` (Unix seconds) and
//! `webhook-signature: v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}">`
//! keyed with the org's `whsec_` secret. Sends go through the same SSRF
//! rules as reference fetches and follow no redirect; anything but a 2xx is
//! a failed attempt, retried with exponential backoff up to
//! `webhooks.max_attempts`. Every attempt is recorded.

use std::time::{Duration, Instant};

use base64::{Engine, engine::general_purpose::STANDARD};
use hmac::{Hmac, Mac};
use sha2::Sha256;
use thumbforge_core::ThumbnailStatus;
use thumbforge_db::{
    Db,
    crypto::Sealer,
    now_ms,
    webhooks::{self, Event, Outcome},
};
use thumbforge_providers::FetchPolicy;
use tokio_util::sync::CancellationToken;
use tracing::{debug, warn};

/// How the deliverer behaves.
#[derive(Debug, Clone)]
pub struct DeliveryConfig {
    pub interval: Duration,
    pub max_attempts: i32,
    /// The first retry's wait; each next one doubles, up to `backoff_max`.
    pub backoff_base: Duration,
    pub backoff_max: Duration,
    pub timeout: Duration,
}

/// Standard Webhooks' signature header value for one message.
pub fn sign(secret: &str, id: &str, timestamp: i64, body: &[u8]) -> Option<String> {
    let key = STANDARD.decode(secret.strip_prefix("whsec_")?).ok()?;
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&key).ok()?;
    mac.update(format!("{id}.{timestamp}.").as_bytes());
    mac.update(body);
    Some(format!(
        "v1,{}",
        STANDARD.encode(mac.finalize().into_bytes())
    ))
}

fn thumbnail_data(
    generation_id: &str,
    t: &thumbforge_db::entities::thumbnails::Model,
) -> serde_json::Value {
    serde_json::json!({
        "generationId": generation_id,
        "id": t.id,
        "status": t.status,
        "isWatermarked": t.is_watermarked,
        "isHidden": t.is_hidden,
        "error": t.error,
    })
}

/// Queues what the pending generations have to say.
async fn queue(db: &Db) -> Result<(), thumbforge_db::DbError> {
    for generation in webhooks::pending(db, 100).await? {
        let thumbnails = webhooks::thumbnails_of(db, &generation.id).await?;
        let mut events = Vec::new();
        if generation.webhook_events.as_deref() == Some("all") {
            for t in &thumbnails {
                if t.status.is_terminal() {
                    events.push(Event {
                        event_type: match t.status {
                            ThumbnailStatus::Succeeded => "thumbnail.succeeded",
                            ThumbnailStatus::Canceled => "thumbnail.canceled",
                            _ => "thumbnail.failed",
                        },
                        // The completion time tells an operator's retry (a new
                        // outcome) from queueing the same outcome twice.
                        dedupe_key: format!(
                            "{}:thumbnail:{}",
                            t.id,
                            t.completed_at.unwrap_or_default()
                        ),
                        data: thumbnail_data(&generation.id, t),
                    });
                }
            }
        }
        let finished = generation.status.is_terminal();
        if finished {
            events.push(Event {
                event_type: "generation.completed",
                dedupe_key: format!(
                    "{}:completed:{}",
                    generation.id,
                    generation.completed_at.unwrap_or_default()
                ),
                data: serde_json::json!({
                    "id": generation.id,
                    "status": generation.status,
                    "model": generation.model,
                    "count": generation.count,
                    "createdAt": generation.created_at,
                    "completedAt": generation.completed_at,
                    "thumbnails": thumbnails.iter().map(|t| thumbnail_data(&generation.id, t)).collect::<Vec<_>>(),
                }),
            });
        }
        if !events.is_empty() || finished {
            webhooks::queue_events(db, &generation, events, finished).await?;
        }
    }
    Ok(())
}

/// Sends one leased delivery and records the attempt.
async fn deliver(
    db: &Db,
    sealer: &Sealer,
    fetch: &FetchPolicy,
    config: &DeliveryConfig,
    delivery: webhooks::Delivery,
) -> Result<(), thumbforge_db::DbError> {
    let secret = webhooks::secret(db, sealer, &delivery.org_id).await?;
    let timestamp = now_ms() / 1000;
    let body = delivery.payload.clone().into_bytes();
    let started = Instant::now();
    let result = match sign(&secret, &delivery.id, timestamp, &body) {
        Some(signature) => {
            let headers = [
                ("webhook-id", delivery.id.clone()),
                ("webhook-timestamp", timestamp.to_string()),
                ("webhook-signature", signature),
            ];
            fetch
                .post(&delivery.url, &headers, body, config.timeout)
                .await
                .map_err(|e| e.to_string())
        }
        None => Err("the organisation's webhook secret is malformed".to_owned()),
    };
    let duration_ms = started.elapsed().as_millis() as i64;
    let outcome = match result {
        Ok(code) if (200..300).contains(&code) => Outcome {
            status_code: Some(code),
            error: None,
            duration_ms,
            delivered: true,
        },
        Ok(code) => Outcome {
            status_code: Some(code),
            error: Some(if (300..400).contains(&code) {
                format!("the receiver answered HTTP {code}; redirects are not followed")
            } else {
                format!("the receiver answered HTTP {code}")
            }),
            duration_ms,
            delivered: false,
        },
        Err(error) => Outcome {
            status_code: None,
            error: Some(error),
            duration_ms,
            delivered: false,
        },
    };
    let attempt = delivery.attempts + 1;
    let retry_at = (!outcome.delivered && attempt < config.max_attempts).then(|| {
        let wait = config
            .backoff_base
            .saturating_mul(1u32 << (attempt - 1).clamp(0, 16) as u32)
            .min(config.backoff_max);
        now_ms() + wait.as_millis() as i64
    });
    if !outcome.delivered {
        warn!(delivery.id = %delivery.id, attempt, error = ?outcome.error, "webhook attempt failed");
    } else {
        debug!(delivery.id = %delivery.id, attempt, "webhook delivered");
    }
    webhooks::record_attempt(db, &delivery, &outcome, retry_at).await
}

/// Queues events and sends due deliveries every interval until `shutdown`.
pub async fn run(
    db: Db,
    sealer: Sealer,
    fetch: FetchPolicy,
    config: DeliveryConfig,
    shutdown: CancellationToken,
) {
    let mut tick = tokio::time::interval(config.interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    // A lease outlives one send, so a live worker always finishes first.
    let lease_ms = (config.timeout + Duration::from_secs(30)).as_millis() as i64;
    loop {
        tokio::select! {
            () = shutdown.cancelled() => return,
            _ = tick.tick() => {}
        }
        if let Err(e) = queue(&db).await {
            warn!(error = %e, "queueing webhook events failed; will retry");
        }
        let due = match webhooks::lease_due(&db, 20, lease_ms).await {
            Ok(due) => due,
            Err(e) => {
                warn!(error = %e, "leasing webhook deliveries failed; will retry");
                continue;
            }
        };
        let sends = due
            .into_iter()
            .map(|d| deliver(&db, &sealer, &fetch, &config, d));
        for result in futures::future::join_all(sends).await {
            if let Err(e) = result {
                warn!(error = %e, "recording a webhook attempt failed; the lease will expire and it is sent again");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn signatures_follow_the_standard_webhooks_example() {
        // The example from the Standard Webhooks specification.
        let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
        let body = br#"{"test": 2432232314}"#;
        assert_eq!(
            super::sign(secret, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body).as_deref(),
            Some("v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=")
        );
    }
}
