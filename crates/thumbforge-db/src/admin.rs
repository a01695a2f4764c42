//! The operator's view of the work, across organisations: how much is
//! waiting, running, retrying and dead, and the two actions on a job.
//!
//! A "job" here is a thumbnail: the database is the record of what must
//! happen, and the queue only delivers it. **Dead** means failed (the model
//! refused, the attempts ran out, or the deadline passed) and not yet
//! dismissed. **Retrying** means processing after more than one claim.
//!
//! - **Retry** a dead thumbnail: it goes back to `processing` with a fresh
//!   attempt budget, its generation reopens (and will end, refund and send
//!   its webhook again), and the credits its end refunded are taken again.
//!   This is the one move out of a terminal state, and only an operator
//!   makes it.
//! - **Discard**: a dead thumbnail is dismissed from the list (it stays
//!   failed); a processing one is failed now ("Discarded by an operator."),
//!   which ends and refunds its generation like any failure.

use sea_orm::{
    ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect,
    sea_query::{Expr, ExprTrait},
};
use serde::Serialize;

pub use crate::lifecycle::{Refused, Reopened, discard, retry};
use crate::{
    Db, DbError,
    entities::thumbnails,
    now_ms,
    thumbnails::{dead_filter, in_flight},
};

/// Counts for the dashboard's header.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct Overview {
    /// Processing and held by no worker: queued, or waiting for a retry.
    pub waiting: u64,
    /// Processing under a worker's lease.
    pub running: u64,
    /// Processing after more than one claim.
    pub retrying: u64,
    /// Failed and not dismissed.
    pub dead: u64,
    /// When the oldest waiting thumbnail was created (Unix ms).
    pub oldest_waiting_at: Option<i64>,
}

/// One thumbnail as the dashboard lists it.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct JobRow {
    pub thumbnail_id: String,
    pub generation_id: String,
    pub org_id: String,
    pub status: String,
    /// Claims since it was accepted or last retried by an operator.
    pub attempts: i32,
    pub error: Option<String>,
    pub created_at: i64,
    pub started_at: Option<i64>,
    pub completed_at: Option<i64>,
    pub lease_expires_at: Option<i64>,
}

impl From<thumbnails::Model> for JobRow {
    fn from(t: thumbnails::Model) -> JobRow {
        JobRow {
            attempts: t.attempts - t.attempt_base,
            thumbnail_id: t.id,
            generation_id: t.generation_id,
            org_id: t.org_id,
            status: t.status.to_string(),
            error: t.error,
            created_at: t.created_at,
            started_at: t.started_at,
            completed_at: t.completed_at,
            lease_expires_at: t.lease_expires_at,
        }
    }
}

fn retrying_filter() -> sea_orm::Condition {
    in_flight().add(
        Expr::col(thumbnails::Column::Attempts)
            .sub(Expr::col(thumbnails::Column::AttemptBase))
            .gt(1),
    )
}

fn waiting_filter(now: i64) -> sea_orm::Condition {
    in_flight().add(
        sea_orm::Condition::any()
            .add(thumbnails::Column::LeaseExpiresAt.is_null())
            .add(thumbnails::Column::LeaseExpiresAt.lt(now)),
    )
}

pub async fn overview(db: &Db) -> Result<Overview, DbError> {
    let now = now_ms();
    let count = |condition: sea_orm::Condition| async move {
        thumbnails::Entity::find()
            .filter(condition)
            .count(db.conn())
            .await
    };
    let waiting = count(waiting_filter(now)).await?;
    let running = count(in_flight().add(thumbnails::Column::LeaseExpiresAt.gte(now))).await?;
    Ok(Overview {
        waiting,
        running,
        retrying: count(retrying_filter()).await?,
        dead: count(dead_filter()).await?,
        oldest_waiting_at: oldest_waiting(db, thumbnails::Column::CreatedAt, now).await?,
    })
}

/// When the thumbnail that has waited longest for a worker was (last)
/// queued, if any waits: the queue-age alert's input.
pub async fn oldest_waiting_enqueued(db: &Db) -> Result<Option<i64>, DbError> {
    oldest_waiting(db, thumbnails::Column::EnqueuedAt, now_ms()).await
}

/// The least `column` among waiting thumbnails, if any waits.
async fn oldest_waiting(
    db: &Db,
    column: thumbnails::Column,
    now: i64,
) -> Result<Option<i64>, DbError> {
    Ok(thumbnails::Entity::find()
        .select_only()
        .column_as(column.min(), "oldest")
        .filter(waiting_filter(now))
        .into_tuple::<Option<i64>>()
        .one(db.conn())
        .await?
        .flatten())
}

/// Dead thumbnails, the most recent failure first.
pub async fn dead(db: &Db, limit: u64) -> Result<Vec<JobRow>, DbError> {
    Ok(thumbnails::Entity::find()
        .filter(dead_filter())
        .order_by_desc(thumbnails::Column::CompletedAt)
        .order_by_desc(thumbnails::Column::Id)
        .limit(limit)
        .all(db.conn())
        .await?
        .into_iter()
        .map(JobRow::from)
        .collect())
}

/// Thumbnails on their second or later attempt, the oldest first.
pub async fn retrying(db: &Db, limit: u64) -> Result<Vec<JobRow>, DbError> {
    Ok(thumbnails::Entity::find()
        .filter(retrying_filter())
        .order_by_asc(thumbnails::Column::CreatedAt)
        .limit(limit)
        .all(db.conn())
        .await?
        .into_iter()
        .map(JobRow::from)
        .collect())
}
