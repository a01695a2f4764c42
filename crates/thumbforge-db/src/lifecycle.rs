//! The generation's state machine: every write that moves a thumbnail out
//! of `processing` (or back in), and the derivation, end and refund of its
//! generation that follow. The rules themselves are in
//! `thumbforge_core::status`; this module applies them to the rows.
//!
//! Callers say what happened — a job's outcome ([`record`]), a cancel, the
//! deadline, an operator's discard or retry — and this module keeps the
//! bookkeeping behind it:
//!
//! * A write that changes thumbnails without ending their generation in
//!   the same statement first marks the generation in
//!   `unsettled_generations`. A process that dies between the two writes
//!   leaves the mark, and the sweeper ([`settle_marked`]) finishes the job.
//!   The end removes the mark. (Why marks and not an index on
//!   `generations.status`: docs/decisions.md.)
//! * `open_thumbnails` holds every processing thumbnail (and ended ones
//!   until [`prune_open`]), so the sweeper's and the dashboard's scans are
//!   as long as the work in flight. A new generation's rows are added by
//!   its insert, and a retry adds its thumbnail back.
//! * A generation ends once: the move out of `processing` is guarded, and
//!   the refund of what it did not use is in the same transaction.

use std::collections::{HashMap, HashSet};

use sea_orm::{
    ColumnTrait, ConnectionTrait, DbBackend, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
    TransactionTrait, Value,
    sea_query::{Expr, ExprTrait, OnConflict, Query},
};
use thumbforge_core::{
    Catalogue, EndReason, Failure, GenerationStatus, ProviderChoice, ThumbnailStatus,
};

use crate::{
    Db, DbError, credits,
    entities::{generations, open_thumbnails, thumbnails, unsettled_generations},
    now_ms,
    sql::{Params, padded, still_processing, still_processing_sql},
    thumbnails::in_flight,
};

/// What a successful run produced.
#[derive(Debug, Clone)]
pub struct Success {
    pub storage_key: String,
    pub watermarked_key: Option<String>,
    /// The size of the file a client downloads (the watermarked one when
    /// there is one).
    pub file_size_bytes: i64,
    /// The size of the clean file.
    pub clean_size_bytes: i64,
    pub width: i32,
    pub height: i32,
    pub generation_time_ms: i64,
}

/// How a job ended, to be recorded.
#[derive(Debug, Clone)]
pub enum JobResult {
    Succeeded(Success),
    Failed(Failure),
}

/// One job's outcome for [`record`].
#[derive(Debug, Clone)]
pub struct Outcome {
    pub thumbnail_id: String,
    pub generation_id: String,
    /// Thumbnails in the generation: the derivation reads them by the
    /// unique key (generation, index).
    pub count: i32,
    pub result: JobResult,
}

/// What [`record`] did: the thumbnails it moved out of `processing`, and
/// the status derived for each generation right after.
#[derive(Debug, Default)]
pub struct Recorded {
    pub changed: HashSet<String>,
    pub derived: HashMap<String, GenerationStatus>,
}

/// Records the outcomes of jobs (only over `processing` thumbnails; a
/// thumbnail twice is written once), then derives their generations and
/// ends those whose thumbnails all ended.
///
/// One `UPDATE … FROM (VALUES …)` writes every thumbnail and commits, then
/// one read derives the generations and one `UPDATE` per terminal status
/// ends them. The derivation runs after the commit, never inside it: two
/// batches finishing the last two thumbnails of one generation each commit
/// first, so the later reader sees both. On PostgreSQL the success of a
/// one-thumbnail generation is one statement that also ends the generation.
pub async fn record(db: &Db, outcomes: &[&Outcome]) -> Result<Recorded, DbError> {
    let backend = db.conn().get_database_backend();
    let mut seen = HashSet::new();
    let outcomes: Vec<&Outcome> = outcomes
        .iter()
        .copied()
        .filter(|o| seen.insert(&o.thumbnail_id))
        .collect();
    let (single, outcomes): (Vec<&Outcome>, Vec<&Outcome>) = if backend == DbBackend::Postgres {
        outcomes
            .into_iter()
            .partition(|o| o.count == 1 && matches!(o.result, JobResult::Succeeded(_)))
    } else {
        (Vec::new(), outcomes)
    };
    let (mut recorded, leftover) = record_single_pg(db, &single).await?;
    let outcomes: Vec<&Outcome> = outcomes.into_iter().chain(leftover).collect();
    if outcomes.is_empty() {
        return Ok(recorded);
    }
    let mut params = Params::new(backend);
    let rows: Vec<String> = padded(&outcomes)
        .into_iter()
        .map(|o| {
            let (status, failure, out) = match &o.result {
                JobResult::Succeeded(out) => (ThumbnailStatus::Succeeded, None, Some(out)),
                JobResult::Failed(failure) => (ThumbnailStatus::Failed, Some(failure), None),
            };
            params.row([
                Value::from(o.thumbnail_id.clone()),
                Value::from(status),
                Value::String(failure.map(|f| f.message.clone())),
                Value::String(failure.map(|f| f.reason.to_string())),
                Value::String(out.map(|o| o.storage_key.clone())),
                Value::String(out.and_then(|o| o.watermarked_key.clone())),
                Value::BigInt(out.map(|o| o.file_size_bytes)),
                Value::BigInt(out.map(|o| o.clean_size_bytes)),
                Value::Int(out.map(|o| o.width)),
                Value::Int(out.map(|o| o.height)),
                Value::BigInt(out.map(|o| o.generation_time_ms)),
            ])
        })
        .collect();
    let ids: Vec<String> = outcomes.iter().map(|o| o.generation_id.clone()).collect();
    mark(db.conn(), &ids).await?;
    let completed_at = params.push(Value::from(now_ms()));
    // `tid`, not `id`: RETURNING must name the updated table's column
    // unambiguously on both PostgreSQL and SQLite.
    let sql = format!(
        "WITH v(tid, status, error, end_reason, storage_key, watermarked_key, file_size_bytes, \
         clean_size_bytes, width, height, generation_time_ms) AS (VALUES {}) \
         UPDATE thumbnails SET status = v.status, error = v.error, end_reason = v.end_reason, \
         storage_key = v.storage_key, watermarked_key = v.watermarked_key, \
         file_size_bytes = v.file_size_bytes, clean_size_bytes = v.clean_size_bytes, \
         width = v.width, height = v.height, \
         generation_time_ms = v.generation_time_ms, completed_at = {completed_at}, \
         lease_expires_at = NULL \
         FROM v WHERE thumbnails.id = v.tid AND {guard} \
         RETURNING id",
        rows.join(", "),
        guard = still_processing_sql("thumbnails"),
    );
    for row in params.query(db, sql).await? {
        recorded.changed.insert(row.try_get::<String>("", "id")?);
    }
    let mut generations: Vec<(&str, i32)> = outcomes
        .iter()
        .map(|o| (o.generation_id.as_str(), o.count))
        .collect();
    generations.sort_unstable();
    generations.dedup();
    recorded
        .derived
        .extend(derive_and_end(db, &generations).await?);
    Ok(recorded)
}

/// The successes of one-thumbnail generations and the ends of their
/// generations, in one statement: a data-modifying CTE updates the
/// thumbnails (only `processing` ones), the next ends the generations of
/// the rows it changed (only `processing` ones). No refund is due, since
/// all succeeded. Outcomes whose generation this did not end are returned
/// to take the general path, which reads the statuses as they are.
async fn record_single_pg<'a>(
    db: &Db,
    outcomes: &[&'a Outcome],
) -> Result<(Recorded, Vec<&'a Outcome>), DbError> {
    let mut recorded = Recorded::default();
    if outcomes.is_empty() {
        return Ok((recorded, Vec::new()));
    }
    let mut params = Params::new(DbBackend::Postgres);
    let rows: Vec<String> = padded(outcomes)
        .into_iter()
        .map(|o| {
            let JobResult::Succeeded(out) = &o.result else {
                unreachable!("only successes take this path");
            };
            params.row([
                Value::from(o.thumbnail_id.clone()),
                Value::from(out.storage_key.clone()),
                Value::String(out.watermarked_key.clone()),
                Value::from(out.file_size_bytes),
                Value::from(out.clean_size_bytes),
                Value::from(out.width),
                Value::from(out.height),
                Value::from(out.generation_time_ms),
            ])
        })
        .collect();
    let now = params.push(Value::from(now_ms()));
    let thumbnail_status = params.push(Value::from(ThumbnailStatus::Succeeded));
    let generation_status = params.push(Value::from(GenerationStatus::Succeeded));
    let sql = format!(
        "WITH v(tid, storage_key, watermarked_key, file_size_bytes, clean_size_bytes, width, height, \
         generation_time_ms) AS (VALUES {rows}), \
         t AS (UPDATE thumbnails SET status = {thumbnail_status}, error = NULL, end_reason = NULL, \
           storage_key = v.storage_key, watermarked_key = v.watermarked_key, \
           file_size_bytes = v.file_size_bytes, clean_size_bytes = v.clean_size_bytes, \
           width = v.width, height = v.height, \
           generation_time_ms = v.generation_time_ms, completed_at = {now}, lease_expires_at = NULL \
           FROM v WHERE thumbnails.id = v.tid AND {thumbnail_guard} \
           RETURNING thumbnails.id AS tid, thumbnails.generation_id AS gid), \
         g AS (UPDATE generations SET status = {generation_status}, updated_at = {now}, completed_at = {now} \
           FROM t WHERE generations.id = t.gid AND generations.count = 1 AND {generation_guard} \
           RETURNING generations.id AS gid) \
         SELECT t.tid, g.gid FROM t LEFT JOIN g ON g.gid = t.gid",
        rows = rows.join(", "),
        thumbnail_guard = still_processing_sql("thumbnails"),
        generation_guard = still_processing_sql("generations"),
    );
    let mut ended = HashSet::new();
    for row in params.query(db, sql).await? {
        recorded.changed.insert(row.try_get::<String>("", "tid")?);
        if let Some(gid) = row.try_get::<Option<String>>("", "gid")? {
            ended.insert(gid);
        }
    }
    let mut leftover = Vec::new();
    for o in outcomes {
        if ended.contains(o.generation_id.as_str()) {
            recorded
                .derived
                .insert(o.generation_id.clone(), GenerationStatus::Succeeded);
        } else {
            leftover.push(*o);
        }
    }
    Ok((recorded, leftover))
}

/// Derives these generations' statuses from their thumbnails and ends the
/// terminal ones, one statement per status.
async fn derive_and_end(
    db: &Db,
    generations: &[(&str, i32)],
) -> Result<HashMap<String, GenerationStatus>, DbError> {
    // By the unique key (generation_id, idx), one tuple per thumbnail: the
    // planner knows each matches at most one row. With `generation_id IN
    // (…)` and no statistics yet (a fresh table, autovacuum off) PostgreSQL
    // guessed hundreds of rows per generation and scanned the table.
    let backend = db.conn().get_database_backend();
    let mut params = Params::new(backend);
    let keys: Vec<(&str, i32)> = generations
        .iter()
        .flat_map(|(id, count)| (0..*count).map(move |idx| (*id, idx)))
        .collect();
    let tuples: Vec<String> = padded(&keys)
        .into_iter()
        .map(|(id, idx)| params.row([Value::from(id.to_owned()), Value::from(idx)]))
        .collect();
    let sql = format!(
        "SELECT generation_id, status FROM thumbnails WHERE (generation_id, idx) IN ({})",
        tuples.join(", ")
    );
    let mut by_generation: HashMap<String, Vec<ThumbnailStatus>> = HashMap::new();
    for row in params.query(db, sql).await? {
        by_generation
            .entry(row.try_get("", "generation_id")?)
            .or_default()
            .push(row.try_get("", "status")?);
    }
    let succeeded: HashMap<String, i32> = by_generation
        .iter()
        .map(|(id, statuses)| (id.clone(), succeeded_in(statuses)))
        .collect();
    let derived: HashMap<String, GenerationStatus> = by_generation
        .into_iter()
        .map(|(id, statuses)| (id, GenerationStatus::derive(statuses)))
        .collect();
    for status in GenerationStatus::TERMINAL {
        let ids: Vec<String> = derived
            .iter()
            .filter(|(_, s)| **s == status)
            .map(|(id, _)| id.clone())
            .collect();
        if !ids.is_empty() {
            end(db, &ids, status, &succeeded).await?;
        }
    }
    Ok(derived)
}

fn succeeded_in(statuses: &[ThumbnailStatus]) -> i32 {
    statuses
        .iter()
        .filter(|s| **s == ThumbnailStatus::Succeeded)
        .count() as i32
}

/// Moves `ids` from `processing` to the terminal `status` and removes their
/// marks; when that ends them short of full success, refunds what they did
/// not use, in the same transaction (the move applies once, so the refund
/// does too).
async fn end(
    db: &Db,
    ids: &[String],
    status: GenerationStatus,
    succeeded: &HashMap<String, i32>,
) -> Result<(), DbError> {
    let now = now_ms();
    let update = generations::Entity::update_many()
        .col_expr(generations::Column::Status, Expr::value(status))
        .col_expr(generations::Column::UpdatedAt, Expr::value(now))
        .col_expr(generations::Column::CompletedAt, Expr::value(now))
        .filter(generations::Column::Id.is_in(padded(ids)))
        .filter(still_processing("generations"));
    if status == GenerationStatus::Succeeded {
        update.exec(db.conn()).await?;
        unmark(db.conn(), ids).await?;
        return Ok(());
    }
    let txn = db.conn().begin().await?;
    let ended = update.exec_with_returning(&txn).await?;
    credits::refund_ended(&txn, &ended, succeeded).await?;
    unmark(&txn, ids).await?;
    txn.commit().await?;
    Ok(())
}

/// Derives one generation's status from its thumbnails and ends it when
/// all have ended. Safe to call any number of times from any process:
/// terminal thumbnail states are final, so every caller that sees them all
/// terminal computes the same answer, and the end applies once.
pub async fn refresh(db: &Db, generation_id: &str) -> Result<GenerationStatus, DbError> {
    let statuses: Vec<ThumbnailStatus> = thumbnails::Entity::find()
        .select_only()
        .column(thumbnails::Column::Status)
        .filter(thumbnails::Column::GenerationId.eq(generation_id))
        .into_tuple()
        .all(db.conn())
        .await?;
    let succeeded = succeeded_in(&statuses);
    let derived = GenerationStatus::derive(statuses);
    if derived.is_terminal() {
        let id = generation_id.to_owned();
        end(
            db,
            std::slice::from_ref(&id),
            derived,
            &[(id.clone(), succeeded)].into(),
        )
        .await?;
    }
    Ok(derived)
}

/// Ends the processing thumbnails that `which` selects with `failure`
/// (their generations, `generation_ids`, are marked first) and returns how
/// many it ended. The caller then refreshes the generations.
async fn fail_where(
    db: &Db,
    which: sea_orm::Condition,
    generation_ids: &[String],
    failure: &Failure,
) -> Result<u64, DbError> {
    mark(db.conn(), generation_ids).await?;
    let status = match failure.reason {
        EndReason::Canceled => ThumbnailStatus::Canceled,
        _ => ThumbnailStatus::Failed,
    };
    Ok(thumbnails::Entity::update_many()
        .col_expr(thumbnails::Column::Status, Expr::value(status))
        .col_expr(
            thumbnails::Column::Error,
            Expr::value(failure.message.clone()),
        )
        .col_expr(thumbnails::Column::EndReason, Expr::value(failure.reason))
        .col_expr(thumbnails::Column::CompletedAt, Expr::value(now_ms()))
        .col_expr(
            thumbnails::Column::LeaseExpiresAt,
            Expr::value(Option::<i64>::None),
        )
        .filter(which)
        .filter(thumbnails::Column::Status.eq(ThumbnailStatus::Processing))
        .exec(db.conn())
        .await?
        .rows_affected)
}

/// Ends these thumbnails with `failure` (those still processing) and
/// returns how many it ended and their generations, which the caller
/// refreshes.
async fn fail_rows(
    db: &Db,
    rows: Vec<thumbnails::Model>,
    failure: &Failure,
) -> Result<(u64, Vec<String>), DbError> {
    let ids: Vec<String> = rows.iter().map(|t| t.id.clone()).collect();
    let mut generation_ids: Vec<String> = rows.into_iter().map(|t| t.generation_id).collect();
    generation_ids.sort_unstable();
    generation_ids.dedup();
    let which = sea_orm::Condition::all().add(thumbnails::Column::Id.is_in(ids));
    let failed = fail_where(db, which, &generation_ids, failure).await?;
    Ok((failed, generation_ids))
}

/// Cancels the org's generation: every thumbnail still processing becomes
/// `canceled` (a queued job then finds nothing to do, and a running one's
/// result is discarded by the status guard), then the generation is
/// derived, which refunds the canceled thumbnails. `None` when the org has
/// no such generation.
pub async fn cancel(db: &Db, org_id: &str, id: &str) -> Result<Option<GenerationStatus>, DbError> {
    let Some(generation) = generations::Entity::find_by_id(id.to_owned())
        .filter(generations::Column::OrgId.eq(org_id))
        .one(db.conn())
        .await?
    else {
        return Ok(None);
    };
    if generation.status.is_terminal() {
        return Ok(Some(generation.status));
    }
    let canceled = Failure::new(EndReason::Canceled, "Canceled by the client.");
    let which = sea_orm::Condition::all().add(thumbnails::Column::GenerationId.eq(id));
    fail_where(db, which, &[id.to_owned()], &canceled).await?;
    Ok(Some(refresh(db, id).await?))
}

/// Fails every processing thumbnail created before `created_before` (up to
/// `limit`) as timed out, and ends their generations. Returns how many it
/// failed.
pub async fn time_out_overdue(
    db: &Db,
    created_before: i64,
    message: &str,
    limit: u64,
) -> Result<usize, DbError> {
    let overdue = thumbnails::Entity::find()
        .filter(in_flight())
        .filter(thumbnails::Column::CreatedAt.lt(created_before))
        .limit(limit)
        .all(db.conn())
        .await?;
    let timed_out = Failure::new(EndReason::TimedOut, message);
    let (failed, generation_ids) = fail_rows(db, overdue, &timed_out).await?;
    for id in &generation_ids {
        refresh(db, id).await?;
    }
    Ok(failed as usize)
}

/// Marks generations whose thumbnails are about to change in a write that
/// does not also end the generation. Ids already marked keep their first
/// mark.
async fn mark<C: ConnectionTrait>(conn: &C, ids: &[String]) -> Result<(), DbError> {
    use sea_orm::ActiveValue::Set;
    let mut ids = ids.to_vec();
    ids.sort_unstable();
    ids.dedup();
    if ids.is_empty() {
        return Ok(());
    }
    let since = now_ms();
    unsettled_generations::Entity::insert_many(ids.into_iter().map(|id| {
        unsettled_generations::ActiveModel {
            id: Set(id),
            since: Set(since),
        }
    }))
    .on_conflict(
        OnConflict::column(unsettled_generations::Column::Id)
            .do_nothing()
            .to_owned(),
    )
    .exec_without_returning(conn)
    .await?;
    Ok(())
}

async fn unmark<C: ConnectionTrait>(conn: &C, ids: &[String]) -> Result<(), DbError> {
    if ids.is_empty() {
        return Ok(());
    }
    unsettled_generations::Entity::delete_many()
        .filter(unsettled_generations::Column::Id.is_in(ids.iter().cloned()))
        .exec(conn)
        .await?;
    Ok(())
}

/// What a process that dies between a thumbnail's write and its
/// generation's derivation leaves behind: the mark and the ended
/// thumbnails. For tests and drills of the sweeper.
#[doc(hidden)]
pub async fn fail_and_die(db: &Db, thumbnail_ids: &[String], message: &str) -> Result<(), DbError> {
    let rows = thumbnails::Entity::find()
        .filter(thumbnails::Column::Id.is_in(thumbnail_ids.iter().cloned()))
        .all(db.conn())
        .await?;
    fail_rows(db, rows, &Failure::new(EndReason::ModelError, message)).await?;
    Ok(())
}

/// Marked generations whose mark is older than `before` (Unix ms) and none
/// of whose thumbnails is still processing, oldest mark first: the ones a
/// process may have left processing after their last thumbnail ended.
/// Generations still running are skipped here, so a pass costs one query
/// however many are running.
pub async fn marked_before(db: &Db, before: i64, limit: u64) -> Result<Vec<String>, DbError> {
    let still_running = Query::select()
        .expr(Expr::val(1))
        .from(thumbnails::Entity)
        .and_where(
            Expr::col((thumbnails::Entity, thumbnails::Column::GenerationId)).equals((
                unsettled_generations::Entity,
                unsettled_generations::Column::Id,
            )),
        )
        .and_where(
            Expr::col((thumbnails::Entity, thumbnails::Column::Status))
                .eq(ThumbnailStatus::Processing),
        )
        .to_owned();
    Ok(unsettled_generations::Entity::find()
        .select_only()
        .column(unsettled_generations::Column::Id)
        .filter(unsettled_generations::Column::Since.lt(before))
        .filter(Expr::exists(still_running).not())
        .order_by_asc(unsettled_generations::Column::Since)
        .limit(limit)
        .into_tuple()
        .all(db.conn())
        .await?)
}

/// Settles one marked generation: a gone or ended generation loses its
/// mark; a processing one is derived, which ends it (and removes the mark)
/// when all its thumbnails have ended. One still running (an operator's
/// retry may have reopened it meanwhile) keeps its mark, moved to the back
/// of the line. Returns whether this call ended the generation.
pub async fn settle_marked(db: &Db, id: &str) -> Result<bool, DbError> {
    let open = generations::Entity::find_by_id(id.to_owned())
        .one(db.conn())
        .await?
        .is_some_and(|g| g.status == GenerationStatus::Processing);
    if !open {
        unmark(db.conn(), &[id.to_owned()]).await?;
        return Ok(false);
    }
    if refresh(db, id).await?.is_terminal() {
        return Ok(true);
    }
    unsettled_generations::Entity::update_many()
        .col_expr(unsettled_generations::Column::Since, Expr::value(now_ms()))
        .filter(unsettled_generations::Column::Id.eq(id))
        .exec(db.conn())
        .await?;
    Ok(false)
}

/// Prunes the open set: removes up to `limit` rows of thumbnails that
/// ended (or are gone), and returns how many went.
///
/// One statement, so the check and the delete share one snapshot. An
/// operator's retry that reopens a thumbnail meanwhile replaces its row
/// (see [`retry`]): the old row, deleted under this statement, is skipped,
/// and the new one is invisible to it.
pub async fn prune_open(db: &Db, limit: u64) -> Result<usize, DbError> {
    let still_processing = Query::select()
        .expr(Expr::val(1))
        .from(thumbnails::Entity)
        .and_where(
            Expr::col((thumbnails::Entity, thumbnails::Column::Id))
                .equals((open_thumbnails::Entity, open_thumbnails::Column::Id)),
        )
        .and_where(thumbnails::Column::Status.eq(ThumbnailStatus::Processing))
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

/// Why an operator's action did not apply.
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
    pub org_id: String,
    pub attempts: i32,
    /// The generation's model, which picks the queue's lane.
    pub model: String,
}

/// An operator's retry of a failed thumbnail, the one move out of a
/// terminal state: it goes back to `processing` with a fresh attempt
/// budget and a fresh deadline, its generation reopens (and will end, refund and send its
/// webhook again), and the credits its end refunded are taken again. The
/// caller pushes the returned job. Prices come from `catalogue`; a model
/// it no longer holds is charged nothing again.
pub async fn retry(
    db: &Db,
    catalogue: &Catalogue,
    thumbnail_id: &str,
) -> Result<Result<Reopened, Refused>, DbError> {
    let txn = db.conn().begin().await?;
    let Some(thumbnail) = thumbnails::Entity::find_by_id(thumbnail_id.to_owned())
        .one(&txn)
        .await?
    else {
        return Ok(Err(Refused::NotFound));
    };
    if thumbnail.status != ThumbnailStatus::Failed {
        return Ok(Err(Refused::WrongState));
    }
    let Some(generation) = generations::Entity::find_by_id(thumbnail.generation_id.clone())
        .one(&txn)
        .await?
    else {
        return Ok(Err(Refused::NotFound));
    };
    let now = now_ms();
    if generation.status.is_terminal() {
        // Undo the end's refund: the generation costs its full price again
        // until it ends again, when what did not succeed is refunded anew.
        let on_platform = generation.provider_used == ProviderChoice::Platform.used_label();
        let full = catalogue
            .get(&generation.model)
            .map(|(_, entry)| {
                let count = u32::try_from(generation.count).unwrap_or(0);
                i64::from(credits::price(entry.credits, on_platform, count))
            })
            .unwrap_or(0);
        let owed = full - i64::from(generation.credits_consumed);
        if owed > 0 && !credits::debit(&txn, &generation.org_id, owed).await? {
            return Ok(Err(Refused::InsufficientCredits { needed: owed }));
        }
        let reopened = generations::Entity::update_many()
            .col_expr(
                generations::Column::Status,
                Expr::value(GenerationStatus::Processing),
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
            .filter(generations::Column::Status.eq(generation.status))
            .exec(&txn)
            .await?;
        if reopened.rows_affected != 1 {
            return Ok(Err(Refused::WrongState));
        }
    }
    let mut reopen = thumbnails::Entity::update_many()
        .col_expr(
            thumbnails::Column::Status,
            Expr::value(ThumbnailStatus::Processing),
        )
        .col_expr(
            thumbnails::Column::AttemptBase,
            Expr::value(thumbnail.attempts),
        )
        .col_expr(thumbnails::Column::EnqueuedAt, Expr::value(now))
        // The deadline counts from the thumbnail's creation: from here on,
        // a retry is a new start, or one that failed long ago would be
        // timed out by the next sweep.
        .col_expr(thumbnails::Column::CreatedAt, Expr::value(now));
    for cleared in [
        thumbnails::Column::Error,
        thumbnails::Column::EndReason,
        thumbnails::Column::CompletedAt,
        thumbnails::Column::StartedAt,
        thumbnails::Column::LeaseExpiresAt,
        thumbnails::Column::DismissedAt,
    ] {
        reopen = reopen.col_expr(cleared, Expr::cust("NULL"));
    }
    let updated = reopen
        .filter(thumbnails::Column::Id.eq(thumbnail_id))
        .filter(thumbnails::Column::Status.eq(ThumbnailStatus::Failed))
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
        org_id: thumbnail.org_id,
        attempts: thumbnail.attempts,
        model: generation.model,
    }))
}

/// An operator's discard: a dead thumbnail is dismissed from the list (it
/// stays failed); a processing one is failed now, which ends and refunds
/// its generation like any failure.
pub async fn discard(db: &Db, thumbnail_id: &str) -> Result<Result<(), Refused>, DbError> {
    let Some(thumbnail) = thumbnails::Entity::find_by_id(thumbnail_id.to_owned())
        .one(db.conn())
        .await?
    else {
        return Ok(Err(Refused::NotFound));
    };
    let applied = match thumbnail.status {
        ThumbnailStatus::Failed => {
            thumbnails::Entity::update_many()
                .col_expr(thumbnails::Column::DismissedAt, Expr::value(now_ms()))
                .filter(thumbnails::Column::Id.eq(thumbnail_id))
                .filter(crate::thumbnails::dead_filter())
                .exec(db.conn())
                .await?
                .rows_affected
                == 1
        }
        ThumbnailStatus::Processing => {
            let discarded = Failure::new(EndReason::Discarded, "Discarded by an operator.");
            let (failed, generation_ids) = fail_rows(db, vec![thumbnail], &discarded).await?;
            for id in &generation_ids {
                refresh(db, id).await?;
            }
            failed == 1
        }
        _ => false,
    };
    Ok(if applied {
        Ok(())
    } else {
        Err(Refused::WrongState)
    })
}
