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
    TransactionTrait,
    sea_query::{Expr, ExprTrait},
};
use serde::Serialize;
use thumbforge_core::{GenerationStatus, ModelId, ProviderChoice, ThumbnailStatus};

use crate::{
    Db, DbError, credits,
    entities::{generations, open_thumbnails, thumbnails},
    now_ms,
};

use crate::thumbnails::{FAILED, PROCESSING, in_flight};

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
            status: t.status,
            error: t.error,
            created_at: t.created_at,
            started_at: t.started_at,
            completed_at: t.completed_at,
            lease_expires_at: t.lease_expires_at,
        }
    }
}

/// Failed and not dismissed. `error IS NOT NULL` (only an end other than
/// success sets it) lets both databases answer from the partial index
/// `idx_thumbnails_failed` instead of reading every thumbnail.
fn dead_filter() -> sea_orm::Condition {
    sea_orm::Condition::all()
        .add(thumbnails::Column::Error.is_not_null())
        .add(thumbnails::Column::Status.eq(FAILED))
        .add(thumbnails::Column::DismissedAt.is_null())
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

/// Why an action did not apply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    NotFound,
    /// Retry: the thumbnail is not failed. Discard: it already ended
    /// other than failed, or was dismissed.
    WrongState,
    /// Retry: the organisation cannot pay the `needed` credits the
    /// reopened generation takes back.
    InsufficientCredits {
        needed: i64,
    },
}

/// What to push after a retry: the thumbnail, its generation, and the
/// attempt number for the queue's dedupe key.
#[derive(Debug, Clone)]
pub struct Reopened {
    pub thumbnail_id: String,
    pub generation_id: String,
    pub attempts: i32,
}

/// Puts a failed thumbnail back to work (see the module docs). The caller
/// pushes the returned job.
pub async fn retry(db: &Db, thumbnail_id: &str) -> Result<Result<Reopened, Refused>, DbError> {
    let txn = db.conn().begin().await?;
    let Some(thumbnail) = thumbnails::Entity::find_by_id(thumbnail_id.to_owned())
        .one(&txn)
        .await?
    else {
        return Ok(Err(Refused::NotFound));
    };
    if thumbnail.status != FAILED {
        return Ok(Err(Refused::WrongState));
    }
    let Some(generation) = generations::Entity::find_by_id(thumbnail.generation_id.clone())
        .one(&txn)
        .await?
    else {
        return Ok(Err(Refused::NotFound));
    };
    let now = now_ms();
    let ended = generation
        .status
        .parse::<GenerationStatus>()
        .is_ok_and(GenerationStatus::is_terminal);
    if ended {
        // Undo the end's refund: the generation costs its full price again
        // until it ends again, when what did not succeed is refunded anew.
        let on_platform = generation.provider_used == ProviderChoice::Platform.used_label();
        let full = generation
            .model
            .parse::<ModelId>()
            .map(|m| {
                let count = u32::try_from(generation.count).unwrap_or(0);
                i64::from(crate::generations::price(m, on_platform, count))
            })
            .unwrap_or(0);
        let owed = full - i64::from(generation.credits_consumed);
        if owed > 0 && !credits::debit(&txn, &generation.org_id, owed).await? {
            return Ok(Err(Refused::InsufficientCredits { needed: owed }));
        }
        let reopened = generations::Entity::update_many()
            .col_expr(
                generations::Column::Status,
                Expr::value(GenerationStatus::Processing.as_str()),
            )
            .col_expr(
                generations::Column::CompletedAt,
                Expr::value(Option::<i64>::None),
            )
            .col_expr(generations::Column::UpdatedAt, Expr::value(now))
            .col_expr(
                generations::Column::CreditsConsumed,
                Expr::value(Ord::max(full, i64::from(generation.credits_consumed)) as i32),
            )
            .col_expr(
                generations::Column::WebhookState,
                Expr::case(
                    generations::Column::WebhookUrl.is_not_null(),
                    Expr::val("pending"),
                )
                .finally(Expr::col(generations::Column::WebhookState))
                .into(),
            )
            .filter(generations::Column::Id.eq(&generation.id))
            .filter(generations::Column::Status.eq(&generation.status))
            .exec(&txn)
            .await?;
        if reopened.rows_affected != 1 {
            return Ok(Err(Refused::WrongState));
        }
    }
    let mut reopen = thumbnails::Entity::update_many()
        .col_expr(
            thumbnails::Column::Status,
            Expr::value(ThumbnailStatus::Processing.as_str()),
        )
        .col_expr(
            thumbnails::Column::AttemptBase,
            Expr::value(thumbnail.attempts),
        )
        .col_expr(thumbnails::Column::EnqueuedAt, Expr::value(now));
    for cleared in [
        thumbnails::Column::Error,
        thumbnails::Column::CompletedAt,
        thumbnails::Column::StartedAt,
        thumbnails::Column::LeaseExpiresAt,
        thumbnails::Column::DismissedAt,
    ] {
        reopen = reopen.col_expr(cleared, Expr::cust("NULL"));
    }
    let updated = reopen
        .filter(thumbnails::Column::Id.eq(thumbnail_id))
        .filter(thumbnails::Column::Status.eq(FAILED))
        .exec(&txn)
        .await?;
    if updated.rows_affected != 1 {
        return Ok(Err(Refused::WrongState));
    }
    // Processing again, so open again, in the same transaction. A row the
    // sweeper has not pruned yet is replaced, not kept: a prune running
    // now read it as ended, and PostgreSQL skips a row deleted under a
    // running statement, while the new row is invisible to it. Kept, the
    // prune would delete it after this commit.
    open_thumbnails::Entity::delete_by_id(thumbnail.id.clone())
        .exec(&txn)
        .await?;
    open_thumbnails::Entity::insert(open_thumbnails::ActiveModel {
        id: sea_orm::ActiveValue::Set(thumbnail.id.clone()),
    })
    .exec_without_returning(&txn)
    .await?;
    txn.commit().await?;
    Ok(Ok(Reopened {
        thumbnail_id: thumbnail.id,
        generation_id: thumbnail.generation_id,
        attempts: thumbnail.attempts,
    }))
}

/// Dismisses a dead thumbnail, or fails a processing one now.
pub async fn discard(db: &Db, thumbnail_id: &str) -> Result<Result<(), Refused>, DbError> {
    let Some(thumbnail) = thumbnails::Entity::find_by_id(thumbnail_id.to_owned())
        .one(db.conn())
        .await?
    else {
        return Ok(Err(Refused::NotFound));
    };
    match thumbnail.status.as_str() {
        FAILED => {
            let dismissed = thumbnails::Entity::update_many()
                .col_expr(thumbnails::Column::DismissedAt, Expr::value(now_ms()))
                .filter(thumbnails::Column::Id.eq(thumbnail_id))
                .filter(dead_filter())
                .exec(db.conn())
                .await?;
            Ok(if dismissed.rows_affected == 1 {
                Ok(())
            } else {
                Err(Refused::WrongState)
            })
        }
        PROCESSING => {
            crate::generations::mark_unsettled(
                db.conn(),
                std::slice::from_ref(&thumbnail.generation_id),
            )
            .await?;
            if !crate::thumbnails::fail(db, thumbnail_id, "Discarded by an operator.").await? {
                return Ok(Err(Refused::WrongState));
            }
            crate::generations::refresh_status(db, &thumbnail.generation_id).await?;
            Ok(Ok(()))
        }
        _ => Ok(Err(Refused::WrongState)),
    }
}
