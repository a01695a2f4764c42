//! Thumbnail state changes. Every write names the state it expects and
//! reports whether it applied, because any job may run more than once.

use sea_orm::{
    ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, UpdateMany,
    sea_query::{Expr, ExprTrait},
};
use thumbforge_core::ThumbnailStatus;

use crate::{
    Db, DbError,
    entities::{generations, open_thumbnails, thumbnails},
    now_ms,
};

/// The stored forms, for filters and `match` patterns.
pub(crate) const PROCESSING: &str = ThumbnailStatus::Processing.as_str();
pub(crate) const FAILED: &str = ThumbnailStatus::Failed.as_str();

/// Everything a worker needs to produce one thumbnail.
#[derive(Debug, Clone)]
pub struct JobContext {
    pub thumbnail: thumbnails::Model,
    pub generation: generations::Model,
}

/// Records that these thumbnails' jobs reached the queue.
pub async fn mark_enqueued(db: &Db, ids: &[String]) -> Result<(), DbError> {
    if ids.is_empty() {
        return Ok(());
    }
    thumbnails::Entity::update_many()
        .col_expr(thumbnails::Column::EnqueuedAt, Expr::value(now_ms()))
        .filter(thumbnails::Column::Id.is_in(ids.iter().cloned()))
        .filter(thumbnails::Column::EnqueuedAt.is_null())
        .exec(db.conn())
        .await?;
    Ok(())
}

/// The writes of a claim: the lease, the first start time, attempts + 1.
pub(crate) fn claiming(lease_until: i64) -> UpdateMany<thumbnails::Entity> {
    thumbnails::Entity::update_many()
        .col_expr(thumbnails::Column::LeaseExpiresAt, Expr::value(lease_until))
        .col_expr(
            thumbnails::Column::StartedAt,
            Expr::col(thumbnails::Column::StartedAt).if_null(now_ms()),
        )
        .col_expr(
            thumbnails::Column::Attempts,
            Expr::col(thumbnails::Column::Attempts).add(1),
        )
}

/// Clears `enqueued_at` after a failed push, so the sweeper's
/// never-enqueued pass pushes these within `enqueue_grace_secs`.
pub async fn clear_enqueued(db: &Db, ids: &[String]) -> Result<(), DbError> {
    thumbnails::Entity::update_many()
        .col_expr(
            thumbnails::Column::EnqueuedAt,
            Expr::value(Option::<i64>::None),
        )
        .filter(thumbnails::Column::Id.is_in(ids.iter().cloned()))
        .filter(thumbnails::Column::Status.eq(PROCESSING))
        .exec(db.conn())
        .await?;
    Ok(())
}

/// What a successful run produced.
#[derive(Debug, Clone)]
pub struct Success {
    pub storage_key: String,
    pub watermarked_key: Option<String>,
    pub file_size_bytes: i64,
    pub width: i32,
    pub height: i32,
    pub generation_time_ms: i64,
}

/// The common part of processing → terminal: the status, the completion
/// time, the lease released, and the guard that the row is still processing.
fn finishing(id: &str, status: ThumbnailStatus) -> UpdateMany<thumbnails::Entity> {
    debug_assert!(ThumbnailStatus::Processing.can_become(status));
    thumbnails::Entity::update_many()
        .col_expr(thumbnails::Column::Status, Expr::value(status.as_str()))
        .col_expr(thumbnails::Column::CompletedAt, Expr::value(now_ms()))
        .col_expr(
            thumbnails::Column::LeaseExpiresAt,
            Expr::value(Option::<i64>::None),
        )
        .filter(thumbnails::Column::Id.eq(id))
        .filter(thumbnails::Column::Status.eq(PROCESSING))
}

/// processing → failed with a human-readable reason.
pub async fn fail(db: &Db, id: &str, error: &str) -> Result<bool, DbError> {
    let res = finishing(id, ThumbnailStatus::Failed)
        .col_expr(thumbnails::Column::Error, Expr::value(error.to_owned()))
        .exec(db.conn())
        .await?;
    Ok(res.rows_affected == 1)
}

/// Prunes the open set: removes up to `limit` rows of thumbnails that
/// ended (or are gone), and returns how many went.
///
/// One statement, so the check and the delete share one snapshot. An
/// operator's retry that reopens a thumbnail meanwhile replaces its row
/// (see [`crate::admin::retry`]): the old row, deleted under this
/// statement, is skipped, and the new one is invisible to it.
pub async fn prune_open(db: &Db, limit: u64) -> Result<usize, DbError> {
    use sea_orm::sea_query::Query;
    let still_processing = Query::select()
        .expr(Expr::val(1))
        .from(thumbnails::Entity)
        .and_where(
            Expr::col((thumbnails::Entity, thumbnails::Column::Id))
                .equals((open_thumbnails::Entity, open_thumbnails::Column::Id)),
        )
        .and_where(thumbnails::Column::Status.eq(PROCESSING))
        .to_owned();
    let ended = Query::select()
        .column(open_thumbnails::Column::Id)
        .from(open_thumbnails::Entity)
        .and_where(Expr::exists(still_processing).not())
        .limit(limit)
        .to_owned();
    Ok(open_thumbnails::Entity::delete_many()
        .filter(open_thumbnails::Column::Id.in_subquery(ended))
        .exec(db.conn())
        .await?
        .rows_affected as usize)
}

/// The ids in the open set (tests, drills).
pub async fn open_ids(db: &Db) -> Result<Vec<String>, DbError> {
    Ok(open_thumbnails::Entity::find()
        .select_only()
        .column(open_thumbnails::Column::Id)
        .into_tuple()
        .all(db.conn())
        .await?)
}

/// Processing thumbnails, found through the open set: every processing
/// one is there, and ended ones only until the next prune, so the
/// sweeper's and the lists' scans are as long as the work in flight, not
/// as the history (there is no status index).
pub(crate) fn in_flight() -> sea_orm::Condition {
    sea_orm::Condition::all()
        .add(
            thumbnails::Column::Id.in_subquery(
                sea_orm::sea_query::Query::select()
                    .column(open_thumbnails::Column::Id)
                    .from(open_thumbnails::Entity)
                    .to_owned(),
            ),
        )
        .add(thumbnails::Column::Status.eq(PROCESSING))
}

/// A thumbnail the sweeper should hand to the queue again.
#[derive(Debug, Clone)]
pub struct Stranded {
    pub id: String,
    pub generation_id: String,
    pub attempts: i32,
}

fn stranded(t: thumbnails::Model) -> Stranded {
    Stranded {
        id: t.id,
        generation_id: t.generation_id,
        attempts: t.attempts,
    }
}

/// Processing thumbnails matching `condition`, oldest `order` first.
async fn stranded_where(
    db: &Db,
    condition: sea_orm::Condition,
    order: thumbnails::Column,
    limit: u64,
) -> Result<Vec<Stranded>, DbError> {
    Ok(thumbnails::Entity::find()
        .filter(in_flight())
        .filter(condition)
        .order_by_asc(order)
        .limit(limit)
        .all(db.conn())
        .await?
        .into_iter()
        .map(stranded)
        .collect())
}

/// Processing thumbnails whose job never reached the queue (the enqueue
/// after commit failed, or the process died in between).
pub async fn never_enqueued(
    db: &Db,
    created_before: i64,
    limit: u64,
) -> Result<Vec<Stranded>, DbError> {
    let condition = sea_orm::Condition::all()
        .add(thumbnails::Column::EnqueuedAt.is_null())
        .add(thumbnails::Column::CreatedAt.lt(created_before));
    stranded_where(db, condition, thumbnails::Column::CreatedAt, limit).await
}

/// Processing thumbnails enqueued before `enqueued_before`: waiting in the
/// queue, running, or lost by the queue. The sweeper asks the queue which.
/// A running job is still in the queue (acknowledged only after its
/// outcome is written), so even a thumbnail with a lease is lost when the
/// queue no longer has it: its result was undone by a database crash, or
/// its entry by a Redis flush.
pub async fn enqueued_before(
    db: &Db,
    enqueued_before: i64,
    limit: u64,
) -> Result<Vec<Stranded>, DbError> {
    let condition =
        sea_orm::Condition::all().add(thumbnails::Column::EnqueuedAt.lt(enqueued_before));
    stranded_where(db, condition, thumbnails::Column::EnqueuedAt, limit).await
}

/// Records a fresh enqueue of thumbnails the queue had lost.
pub async fn mark_requeued(db: &Db, ids: &[String]) -> Result<(), DbError> {
    if ids.is_empty() {
        return Ok(());
    }
    thumbnails::Entity::update_many()
        .col_expr(thumbnails::Column::EnqueuedAt, Expr::value(now_ms()))
        .filter(thumbnails::Column::Id.is_in(ids.iter().cloned()))
        .filter(thumbnails::Column::Status.eq(PROCESSING))
        .exec(db.conn())
        .await?;
    Ok(())
}

/// Processing thumbnails whose worker's lease ran out: it died or hung.
pub async fn lease_expired(db: &Db, now: i64, limit: u64) -> Result<Vec<Stranded>, DbError> {
    let condition = sea_orm::Condition::all().add(thumbnails::Column::LeaseExpiresAt.lt(now));
    stranded_where(db, condition, thumbnails::Column::LeaseExpiresAt, limit).await
}

/// Clears an expired lease, if it is still the one the sweeper saw (a
/// worker may have renewed or finished it meanwhile).
pub async fn release_lease(db: &Db, id: &str, attempts: i32) -> Result<bool, DbError> {
    let res = thumbnails::Entity::update_many()
        .col_expr(
            thumbnails::Column::LeaseExpiresAt,
            Expr::value(Option::<i64>::None),
        )
        .filter(thumbnails::Column::Id.eq(id))
        .filter(thumbnails::Column::Status.eq(PROCESSING))
        .filter(thumbnails::Column::Attempts.eq(attempts))
        .filter(thumbnails::Column::LeaseExpiresAt.lt(now_ms()))
        .exec(db.conn())
        .await?;
    Ok(res.rows_affected == 1)
}

/// Fails every processing thumbnail created before `created_before` with a
/// "timed out" error. Returns the generations touched.
pub async fn fail_overdue(
    db: &Db,
    created_before: i64,
    error: &str,
    limit: u64,
) -> Result<Vec<String>, DbError> {
    let overdue = thumbnails::Entity::find()
        .filter(in_flight())
        .filter(thumbnails::Column::CreatedAt.lt(created_before))
        .limit(limit)
        .all(db.conn())
        .await?;
    // Each generation is re-derived after its thumbnails fail: marked
    // first, so a sweeper that dies in between leaves them to the next.
    let marks: Vec<String> = overdue.iter().map(|t| t.generation_id.clone()).collect();
    crate::generations::mark_unsettled(db.conn(), &marks).await?;
    let mut generations = Vec::new();
    for t in overdue {
        if fail(db, &t.id, error).await? && !generations.contains(&t.generation_id) {
            generations.push(t.generation_id);
        }
    }
    Ok(generations)
}

pub async fn find(db: &Db, id: &str) -> Result<Option<thumbnails::Model>, DbError> {
    Ok(thumbnails::Entity::find_by_id(id.to_owned())
        .one(db.conn())
        .await?)
}
