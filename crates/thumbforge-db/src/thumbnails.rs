//! Thumbnail rows outside the state machine (which is
//! [`crate::lifecycle`]): the queue's bookkeeping (enqueued, claimed,
//! leased) and the sweeper's searches. Every write names the state it
//! expects, because any job may run more than once.

use std::collections::HashMap;

use sea_orm::{
    ColumnTrait, ConnectionTrait, DbBackend, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
    Statement, UpdateMany,
    sea_query::{Expr, ExprTrait},
};
use thumbforge_core::ThumbnailStatus;

use crate::{
    Db, DbError,
    entities::{generations, open_thumbnails, thumbnails},
    now_ms,
    sql::{padded, still_processing},
};

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
fn claiming(lease_until: i64) -> UpdateMany<thumbnails::Entity> {
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
        .filter(thumbnails::Column::Status.eq(ThumbnailStatus::Processing))
        .exec(db.conn())
        .await?;
    Ok(())
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
        .add(thumbnails::Column::Status.eq(ThumbnailStatus::Processing))
}

/// A thumbnail the sweeper should hand to the queue again.
#[derive(Debug, Clone)]
pub struct Stranded {
    pub id: String,
    pub generation_id: String,
    pub org_id: String,
    pub attempts: i32,
    /// The generation's model, which picks the queue's lane.
    pub model: String,
}

/// Processing thumbnails matching `condition`, oldest `order` first.
async fn stranded_where(
    db: &Db,
    condition: sea_orm::Condition,
    order: thumbnails::Column,
    limit: u64,
) -> Result<Vec<Stranded>, DbError> {
    let rows = thumbnails::Entity::find()
        .filter(in_flight())
        .filter(condition)
        .order_by_asc(order)
        .limit(limit)
        .all(db.conn())
        .await?;
    let models: HashMap<String, String> = generations::Entity::find()
        .select_only()
        .columns([generations::Column::Id, generations::Column::Model])
        .filter(generations::Column::Id.is_in(rows.iter().map(|t| t.generation_id.clone())))
        .into_tuple()
        .all(db.conn())
        .await?
        .into_iter()
        .collect();
    Ok(rows
        .into_iter()
        .map(|t| Stranded {
            model: models.get(&t.generation_id).cloned().unwrap_or_default(),
            id: t.id,
            generation_id: t.generation_id,
            org_id: t.org_id,
            attempts: t.attempts,
        })
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
        .filter(thumbnails::Column::Status.eq(ThumbnailStatus::Processing))
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
        .filter(thumbnails::Column::Status.eq(ThumbnailStatus::Processing))
        .filter(thumbnails::Column::Attempts.eq(attempts))
        .filter(thumbnails::Column::LeaseExpiresAt.lt(now_ms()))
        .exec(db.conn())
        .await?;
    Ok(res.rows_affected == 1)
}

pub async fn find(db: &Db, id: &str) -> Result<Option<thumbnails::Model>, DbError> {
    Ok(thumbnails::Entity::find_by_id(id.to_owned())
        .one(db.conn())
        .await?)
}

pub(crate) type Claimed = (
    HashMap<String, thumbnails::Model>,
    HashMap<String, generations::Model>,
);

/// Claims processing thumbnails until `lease_until` (attempts + 1) and
/// returns them with their generations; ended or gone ones are left out.
pub(crate) async fn claim(db: &Db, ids: &[String], lease_until: i64) -> Result<Claimed, DbError> {
    if db.conn().get_database_backend() == DbBackend::Postgres {
        return claim_pg(db, ids, lease_until).await;
    }
    let rows = claiming(lease_until)
        .filter(thumbnails::Column::Id.is_in(padded(ids)))
        .filter(still_processing("thumbnails"))
        .exec_with_returning(db.conn())
        .await?;
    if rows.is_empty() {
        return Ok(Default::default());
    }
    let mut generation_ids: Vec<String> = rows.iter().map(|t| t.generation_id.clone()).collect();
    generation_ids.sort_unstable();
    generation_ids.dedup();
    let gens = generations::Entity::find()
        .filter(generations::Column::Id.is_in(padded(&generation_ids)))
        .all(db.conn())
        .await?;
    Ok((
        rows.into_iter().map(|t| (t.id.clone(), t)).collect(),
        gens.into_iter().map(|g| (g.id.clone(), g)).collect(),
    ))
}

/// PostgreSQL: the claim and the read of the generations in one statement
/// (the `UPDATE … RETURNING` as a CTE joined to `generations`), one round
/// trip per batch instead of two.
async fn claim_pg(db: &Db, ids: &[String], lease_until: i64) -> Result<Claimed, DbError> {
    use sea_orm::{FromQueryResult, Iterable, QueryTrait, sea_query::PostgresQueryBuilder};
    let mut update = claiming(lease_until)
        .filter(thumbnails::Column::Id.is_in(padded(ids)))
        .filter(still_processing("thumbnails"))
        .into_query();
    let (update_sql, values) = update.returning_all().build(PostgresQueryBuilder);
    let generation_columns: Vec<String> = generations::Column::iter()
        .map(|c| {
            let name = sea_orm::IdenStatic::as_str(&c);
            format!("g.\"{name}\" AS \"g_{name}\"")
        })
        .collect();
    let sql = format!(
        "WITH c AS ({update_sql}) SELECT c.*, {} FROM c JOIN generations g ON g.id = c.generation_id",
        generation_columns.join(", ")
    );
    let rows = db
        .conn()
        .query_all_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            sql,
            values.0,
        ))
        .await?;
    let mut claimed = Claimed::default();
    for row in rows {
        let thumbnail = thumbnails::Model::from_query_result(&row, "")?;
        let generation = generations::Model::from_query_result(&row, "g_")?;
        claimed.0.insert(thumbnail.id.clone(), thumbnail);
        claimed.1.insert(generation.id.clone(), generation);
    }
    Ok(claimed)
}

/// Failed and not dismissed: the dead list. `error IS NOT NULL` (only an
/// end other than success sets it) lets both databases answer from the
/// partial index `idx_thumbnails_failed` instead of reading every
/// thumbnail.
pub(crate) fn dead_filter() -> sea_orm::Condition {
    sea_orm::Condition::all()
        .add(thumbnails::Column::Error.is_not_null())
        .add(thumbnails::Column::Status.eq(ThumbnailStatus::Failed))
        .add(thumbnails::Column::DismissedAt.is_null())
}
