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
    ColumnTrait, EntityTrait, FromQueryResult, PaginatorTrait, QueryFilter, QueryOrder,
    QuerySelect,
    sea_query::{Expr, ExprTrait},
};
use serde::Serialize;
use thumbforge_core::{ThumbnailId, ThumbnailStatus};

pub use crate::lifecycle::{Refused, Reopened, discard, retry};
use crate::{
    Db, DbError,
    entities::{generations, thumbnails},
    now_ms,
    sql::stmt,
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
    /// Why it ended without an image (`model_error`, `safety`, …).
    pub end_reason: Option<String>,
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
            end_reason: t.end_reason.map(|r| r.to_string()),
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

/// Thumbnails in one state (`status`), or the one thumbnail or
/// generation an id names, newest first. Ids sort by creation time, so
/// the primary key orders the list.
pub async fn jobs(
    db: &Db,
    status: Option<ThumbnailStatus>,
    id: Option<&str>,
    limit: u64,
) -> Result<Vec<JobRow>, DbError> {
    let mut query = thumbnails::Entity::find();
    if let Some(id) = id {
        query = query.filter(
            sea_orm::Condition::any()
                .add(thumbnails::Column::Id.eq(id))
                .add(thumbnails::Column::GenerationId.eq(id)),
        );
    }
    if let Some(status) = status {
        query = query.filter(thumbnails::Column::Status.eq(status));
    }
    Ok(query
        .order_by_desc(thumbnails::Column::Id)
        .limit(limit)
        .all(db.conn())
        .await?
        .into_iter()
        .map(JobRow::from)
        .collect())
}

/// One job with what it was asked to make: its thumbnail and its
/// generation.
pub async fn job(
    db: &Db,
    id: &str,
) -> Result<Option<(thumbnails::Model, generations::Model)>, DbError> {
    let Some(thumbnail) = thumbnails::Entity::find_by_id(id).one(db.conn()).await? else {
        return Ok(None);
    };
    let generation = generations::Entity::find_by_id(thumbnail.generation_id.clone())
        .one(db.conn())
        .await?;
    Ok(generation.map(|g| (thumbnail, g)))
}

/// One minute of the dashboard's charts.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Minute {
    /// The minute's start, Unix ms.
    pub at: i64,
    /// Thumbnails that ended with an image in this minute.
    pub succeeded: u64,
    /// Thumbnails that failed in this minute, by end reason.
    pub failed: std::collections::BTreeMap<String, u64>,
    /// Thumbnails a worker started in this minute.
    pub started: u64,
    /// Their mean wait from acceptance to that start, in ms.
    pub mean_wait_ms: Option<f64>,
    /// Mean jobs in flight over the minute, by Little's law: the work
    /// time of the jobs that ended in it, over 60 s.
    pub in_flight: f64,
}

#[derive(Debug, FromQueryResult)]
struct Ended {
    minute: i64,
    status: String,
    end_reason: Option<String>,
    n: i64,
    busy_ms: Option<i64>,
}

#[derive(Debug, FromQueryResult)]
struct Started {
    minute: i64,
    n: i64,
    wait_ms: Option<i64>,
}

/// The last `minutes` whole minutes and the current one, oldest first.
///
/// Two grouped scans over the thumbnails made since `now - minutes -
/// lookback_ms`, a range of the primary key (ids sort by creation time),
/// so the cost follows the last hour's volume, not the table's. A job that
/// ended in the window but was made before the lookback (an operator's
/// retry of an old one) is not counted.
pub async fn minutes(
    db: &Db,
    now: i64,
    minutes: i64,
    lookback_ms: i64,
) -> Result<Vec<Minute>, DbError> {
    const MS: i64 = 60_000;
    let first = (now / MS - minutes) * MS;
    let lower = ThumbnailId::first_at(first - lookback_ms);
    let backend = db.conn().get_database_backend();
    let ended = Ended::find_by_statement(stmt(
        backend,
        "SELECT completed_at / 60000 AS minute, status, end_reason, COUNT(*) AS n, \
         CAST(SUM(completed_at - COALESCE(started_at, completed_at)) AS BIGINT) AS busy_ms \
         FROM thumbnails WHERE id >= $1 AND completed_at >= $2 AND status <> 'processing' \
         GROUP BY completed_at / 60000, status, end_reason",
        vec![lower.clone().into(), first.into()],
    ))
    .all(db.conn())
    .await?;
    let started = Started::find_by_statement(stmt(
        backend,
        "SELECT started_at / 60000 AS minute, COUNT(*) AS n, \
         CAST(SUM(started_at - created_at) AS BIGINT) AS wait_ms \
         FROM thumbnails WHERE id >= $1 AND started_at >= $2 \
         GROUP BY started_at / 60000",
        vec![lower.into(), first.into()],
    ))
    .all(db.conn())
    .await?;
    let mut out: Vec<Minute> = (0..=minutes)
        .map(|i| Minute {
            at: first + i * MS,
            ..Minute::default()
        })
        .collect();
    let slot = |minute: i64| usize::try_from(minute - first / MS).ok();
    for row in ended {
        let Some(m) = slot(row.minute).and_then(|i| out.get_mut(i)) else {
            continue;
        };
        let n = u64::try_from(row.n).unwrap_or(0);
        if row.status == ThumbnailStatus::Succeeded.as_str() {
            m.succeeded += n;
        } else if row.status == ThumbnailStatus::Failed.as_str() {
            let reason = row.end_reason.unwrap_or_else(|| "unknown".to_owned());
            *m.failed.entry(reason).or_default() += n;
        }
        m.in_flight += row.busy_ms.unwrap_or(0) as f64 / MS as f64;
    }
    for row in started {
        let Some(m) = slot(row.minute).and_then(|i| out.get_mut(i)) else {
            continue;
        };
        m.started = u64::try_from(row.n).unwrap_or(0);
        m.mean_wait_ms = (row.n > 0).then(|| row.wait_ms.unwrap_or(0) as f64 / row.n as f64);
    }
    Ok(out)
}
