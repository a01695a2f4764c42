//! Webhooks as an outbox. A generation that names a `webhook_url` starts
//! with `webhook_state = 'pending'`. Workers turn its events into delivery
//! rows (`queue_events`): each thumbnail's outcome when it asked for `all`,
//! and the generation's end, after which its state is `enqueued`. A
//! delivery's `dedupe_key` is unique, so queueing twice (two workers, or a
//! crash between the two statements) is harmless. Workers then lease due
//! deliveries (`lease_due`), send them, and record every attempt
//! (`record_attempt`), retrying with backoff until delivered or out of
//! attempts.

use base64::{Engine, engine::general_purpose::STANDARD};
use sea_orm::{
    ActiveValue::Set,
    ColumnTrait, ConnectionTrait, DbBackend, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
    Value,
    sea_query::{Expr, ExprTrait},
};
use thumbforge_core::ids::random_token;

use crate::{
    Db, DbError,
    crypto::Sealer,
    entities::{generations, organizations, thumbnails, webhook_attempts, webhook_deliveries},
    now_ms,
};

pub use webhook_attempts::Model as Attempt;
pub use webhook_deliveries::Model as Delivery;

fn context(org_id: &str) -> String {
    format!("{org_id}/webhook-secret")
}

fn new_secret() -> String {
    let bytes: [u8; 24] = rand::random();
    format!("whsec_{}", STANDARD.encode(bytes))
}

/// The org's signing secret, made on first use.
pub async fn secret(db: &Db, sealer: &Sealer, org_id: &str) -> Result<String, DbError> {
    let org = organizations::Entity::find_by_id(org_id.to_owned())
        .one(db.conn())
        .await?
        .ok_or_else(|| DbError::Vanished(format!("organisation {org_id}")))?;
    if let Some(sealed) = org.webhook_secret {
        return sealer
            .open(&sealed, &context(org_id))
            .map_err(|e| DbError::Corrupt(e.to_string()));
    }
    // Only set when still unset: a concurrent first use wins once.
    organizations::Entity::update_many()
        .col_expr(
            organizations::Column::WebhookSecret,
            Expr::value(sealer.seal(&new_secret(), &context(org_id))),
        )
        .filter(organizations::Column::Id.eq(org_id))
        .filter(organizations::Column::WebhookSecret.is_null())
        .exec(db.conn())
        .await?;
    Box::pin(secret(db, sealer, org_id)).await
}

/// Seals every organisation's webhook secret again under the current
/// server secret (after a rotation; the sealer must know the previous one).
pub async fn reseal(db: &Db, sealer: &Sealer) -> Result<crate::crypto::Resealed, DbError> {
    let mut report = crate::crypto::Resealed::default();
    let orgs = organizations::Entity::find()
        .filter(organizations::Column::WebhookSecret.is_not_null())
        .all(db.conn())
        .await?;
    for org in orgs {
        let Some(old) = org.webhook_secret.as_deref() else {
            continue;
        };
        if let Some(sealed) = report.step(sealer, old, &context(&org.id)) {
            organizations::Entity::update_many()
                .col_expr(organizations::Column::WebhookSecret, Expr::value(sealed))
                .filter(organizations::Column::Id.eq(&org.id))
                .filter(organizations::Column::WebhookSecret.eq(old))
                .exec(db.conn())
                .await?;
        }
    }
    Ok(report)
}

/// Replaces the org's signing secret; returns the new one.
pub async fn rotate_secret(db: &Db, sealer: &Sealer, org_id: &str) -> Result<String, DbError> {
    let secret = new_secret();
    organizations::Entity::update_many()
        .col_expr(
            organizations::Column::WebhookSecret,
            Expr::value(sealer.seal(&secret, &context(org_id))),
        )
        .filter(organizations::Column::Id.eq(org_id))
        .exec(db.conn())
        .await?;
    Ok(secret)
}

/// A delivery's statuses: to be tried (again), delivered, or failed
/// after its last attempt. A leased delivery stays `pending`.
const PENDING: &str = "pending";
const DELIVERED: &str = "delivered";
const FAILED: &str = "failed";
pub const DELIVERY_STATUSES: [&str; 3] = [PENDING, DELIVERED, FAILED];

/// An event to queue: its type, its dedupe key and its `data`.
pub struct Event {
    pub event_type: &'static str,
    pub dedupe_key: String,
    pub data: serde_json::Value,
}

/// Generations with events still to queue (oldest first).
pub async fn pending(db: &Db, limit: u64) -> Result<Vec<generations::Model>, DbError> {
    Ok(generations::Entity::find()
        .filter(generations::Column::WebhookState.eq("pending"))
        .order_by_asc(generations::Column::CreatedAt)
        .limit(limit)
        .all(db.conn())
        .await?)
}

/// The generation's thumbnails, in order.
pub async fn thumbnails_of(
    db: &Db,
    generation_id: &str,
) -> Result<Vec<thumbnails::Model>, DbError> {
    Ok(thumbnails::Entity::find()
        .filter(thumbnails::Column::GenerationId.eq(generation_id))
        .order_by_asc(thumbnails::Column::Idx)
        .all(db.conn())
        .await?)
}

/// Queues `events` for `generation` (each once, whoever calls); with
/// `finished`, marks its webhook `enqueued` afterwards.
pub async fn queue_events(
    db: &Db,
    generation: &generations::Model,
    events: Vec<Event>,
    finished: bool,
) -> Result<(), DbError> {
    let Some(url) = &generation.webhook_url else {
        return Ok(());
    };
    let now = now_ms();
    for event in events {
        let id = format!("msg_{}", random_token(24));
        let payload = serde_json::json!({
            "type": event.event_type,
            "timestamp": chrono_like(now),
            "data": event.data,
        });
        let row = webhook_deliveries::ActiveModel {
            id: Set(id),
            org_id: Set(generation.org_id.clone()),
            generation_id: Set(generation.id.clone()),
            event_type: Set(event.event_type.to_owned()),
            dedupe_key: Set(event.dedupe_key),
            url: Set(url.clone()),
            payload: Set(payload.to_string()),
            status: Set(PENDING.to_owned()),
            attempts: Set(0),
            next_attempt_at: Set(now),
            lease_until: Set(None),
            last_error: Set(None),
            created_at: Set(now),
            delivered_at: Set(None),
        };
        webhook_deliveries::Entity::insert(row)
            .on_conflict_do_nothing_on([webhook_deliveries::Column::DedupeKey])
            .exec(db.conn())
            .await?;
    }
    if finished {
        generations::Entity::update_many()
            .col_expr(generations::Column::WebhookState, Expr::value("enqueued"))
            .filter(generations::Column::Id.eq(generation.id.as_str()))
            .exec(db.conn())
            .await?;
    }
    Ok(())
}

/// RFC 3339 UTC with milliseconds.
fn chrono_like(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .unwrap_or_default()
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// Leases up to `limit` due deliveries (pending and due, or sending with
/// an expired lease) for `lease_ms`.
pub async fn lease_due(db: &Db, limit: u64, lease_ms: i64) -> Result<Vec<Delivery>, DbError> {
    let now = now_ms();
    let backend = db.conn().get_database_backend();
    let skip_locked = if backend == DbBackend::Postgres {
        " FOR UPDATE SKIP LOCKED"
    } else {
        ""
    };
    let sql = format!(
        "UPDATE webhook_deliveries SET status = 'sending', lease_until = $1 \
         WHERE id IN (SELECT id FROM webhook_deliveries \
         WHERE (status = 'pending' AND next_attempt_at <= $2) \
         OR (status = 'sending' AND lease_until < $3) \
         ORDER BY next_attempt_at LIMIT {limit}{skip_locked}) \
         RETURNING id"
    );
    let ids: Vec<String> = db
        .conn()
        .query_all_raw(crate::sql::stmt(
            backend,
            &sql,
            vec![
                Value::from(now + lease_ms),
                Value::from(now),
                Value::from(now),
            ],
        ))
        .await?
        .into_iter()
        .map(|row| row.try_get::<String>("", "id"))
        .collect::<Result<_, _>>()?;
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    Ok(webhook_deliveries::Entity::find()
        .filter(webhook_deliveries::Column::Id.is_in(ids))
        .all(db.conn())
        .await?)
}

/// What one attempt came to.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub status_code: Option<u16>,
    pub error: Option<String>,
    pub duration_ms: i64,
    pub delivered: bool,
}

/// Records an attempt, then marks the delivery delivered, failed for good
/// (out of attempts), or pending again at `retry_at`.
pub async fn record_attempt(
    db: &Db,
    delivery: &Delivery,
    outcome: &Outcome,
    retry_at: Option<i64>,
) -> Result<(), DbError> {
    let now = now_ms();
    webhook_attempts::Entity::insert(webhook_attempts::ActiveModel {
        id: Set(format!("att_{}", random_token(20))),
        delivery_id: Set(delivery.id.clone()),
        attempted_at: Set(now),
        status_code: Set(outcome.status_code.map(i32::from)),
        error: Set(outcome.error.clone()),
        duration_ms: Set(outcome.duration_ms),
    })
    .exec_without_returning(db.conn())
    .await?;
    let (status, next) = match (outcome.delivered, retry_at) {
        (true, _) => (DELIVERED, delivery.next_attempt_at),
        (false, Some(at)) => (PENDING, at),
        (false, None) => (FAILED, delivery.next_attempt_at),
    };
    webhook_deliveries::Entity::update_many()
        .col_expr(webhook_deliveries::Column::Status, Expr::value(status))
        .col_expr(
            webhook_deliveries::Column::Attempts,
            Expr::col(webhook_deliveries::Column::Attempts).add(1),
        )
        .col_expr(webhook_deliveries::Column::NextAttemptAt, Expr::value(next))
        .col_expr(
            webhook_deliveries::Column::LeaseUntil,
            Expr::value(Option::<i64>::None),
        )
        .col_expr(
            webhook_deliveries::Column::LastError,
            Expr::value(outcome.error.clone()),
        )
        .col_expr(
            webhook_deliveries::Column::DeliveredAt,
            Expr::value(outcome.delivered.then_some(now)),
        )
        .filter(webhook_deliveries::Column::Id.eq(delivery.id.as_str()))
        .exec(db.conn())
        .await?;
    Ok(())
}

/// The org's deliveries (newest first), optionally for one generation,
/// each with its attempts in order.
pub async fn list(
    db: &Db,
    org_id: &str,
    generation_id: Option<&str>,
    limit: u64,
) -> Result<Vec<(Delivery, Vec<Attempt>)>, DbError> {
    let mut query =
        webhook_deliveries::Entity::find().filter(webhook_deliveries::Column::OrgId.eq(org_id));
    if let Some(id) = generation_id {
        query = query.filter(webhook_deliveries::Column::GenerationId.eq(id));
    }
    let deliveries = query
        .order_by_desc(webhook_deliveries::Column::CreatedAt)
        .limit(limit)
        .all(db.conn())
        .await?;
    let ids: Vec<String> = deliveries.iter().map(|d| d.id.clone()).collect();
    let attempts = if ids.is_empty() {
        Vec::new()
    } else {
        webhook_attempts::Entity::find()
            .filter(webhook_attempts::Column::DeliveryId.is_in(ids))
            .order_by_asc(webhook_attempts::Column::AttemptedAt)
            .all(db.conn())
            .await?
    };
    Ok(deliveries
        .into_iter()
        .map(|d| {
            let mine = attempts
                .iter()
                .filter(|a| a.delivery_id == d.id)
                .cloned()
                .collect();
            (d, mine)
        })
        .collect())
}

#[cfg(test)]
mod tests {
    #[test]
    fn timestamps_are_rfc3339_utc() {
        assert_eq!(super::chrono_like(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(
            super::chrono_like(1_764_460_800_123),
            "2025-11-30T00:00:00.123Z"
        );
        assert_eq!(
            super::chrono_like(951_782_400_000),
            "2000-02-29T00:00:00.000Z"
        );
    }
}
