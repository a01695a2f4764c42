//! Group commit for the status writes of a worker process.
//!
//! Every job makes two writes: it claims its thumbnail, and it records the
//! outcome (then re-derives its generation's status). Done one job at a
//! time that is five statements and three commits per thumbnail. Here the
//! jobs of one process hand their writes to a [`StatusWriter`], which
//! gathers whatever is waiting and runs it as one batch:
//!
//! * claims: one `UPDATE … WHERE id IN (…) RETURNING *`, then one read of
//!   the generations;
//! * outcomes: one `UPDATE … FROM (VALUES …)` for every thumbnail of the
//!   batch, committed, then one read of the statuses of their generations
//!   and at most one `UPDATE` per derived status. Their generations are
//!   marked in `unsettled_generations` before the thumbnail write, so the
//!   sweeper finishes any a dying process leaves half done. On PostgreSQL
//!   a one-thumbnail generation's success skips all that: one statement
//!   writes the thumbnail and ends the generation.
//!
//! Nothing waits to fill a batch: a batch starts as soon as a runner is
//! free and takes what has queued up meanwhile, so an idle worker pays one
//! statement as before and a busy one pays one per batch. Every write
//! keeps the guard of every status write (only `processing` rows change), so redelivered and duplicate jobs stay
//! harmless. The generation refresh runs after the outcome commit, never
//! inside it: two batches finishing the last two thumbnails of one
//! generation each commit first, so the later reader sees both.

use std::collections::HashMap;

use sea_orm::{
    ColumnTrait, ConnectionTrait, DbBackend, EntityTrait, QueryFilter, Statement, TransactionTrait,
    Value, sea_query::Expr,
};
use thumbforge_core::batch::dispatch;
use thumbforge_core::{GenerationStatus, ThumbnailStatus};
use tokio::sync::{mpsc, oneshot};

use crate::{
    Db, DbError,
    entities::{generations, thumbnails},
    now_ms,
    thumbnails::{JobContext, Success},
};

/// Most operations one statement carries.
const MAX_BATCH: usize = 64;
/// Batches of one kind in flight at once.
const RUNNERS: usize = 2;

/// How a job ended, to be recorded.
#[derive(Debug, Clone)]
pub enum JobResult {
    Succeeded(Success),
    /// A human-readable reason a client may read.
    Failed(String),
}

/// What recording an outcome did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Recorded {
    /// This call moved the thumbnail out of `processing`.
    pub changed: bool,
    /// The generation's status derived right after.
    pub generation: GenerationStatus,
}

struct ClaimOp {
    id: String,
    lease_until: i64,
    reply: oneshot::Sender<Result<Option<JobContext>, DbError>>,
}

struct RecordOp {
    id: String,
    generation_id: String,
    /// Thumbnails in the generation: the refresh reads them by the unique
    /// key (generation, index).
    count: i32,
    result: JobResult,
    reply: oneshot::Sender<Result<Recorded, DbError>>,
}

/// The handle jobs write through; cheap to clone. Its runners live as long
/// as any handle does.
#[derive(Debug, Clone)]
pub struct StatusWriter {
    claims: mpsc::Sender<ClaimOp>,
    records: mpsc::Sender<RecordOp>,
}

impl StatusWriter {
    /// Starts the runners on the current Tokio runtime.
    pub fn new(db: Db) -> StatusWriter {
        let (claims, claim_rx) = mpsc::channel(1024);
        let (records, record_rx) = mpsc::channel(1024);
        let claim_db = db.clone();
        tokio::spawn(dispatch(claim_rx, RUNNERS, MAX_BATCH, move |ops| {
            let db = claim_db.clone();
            async move { claim_batch(&db, ops).await }
        }));
        tokio::spawn(dispatch(record_rx, RUNNERS, MAX_BATCH, move |ops| {
            let db = db.clone();
            async move { record_batch(&db, ops).await }
        }));
        StatusWriter { claims, records }
    }

    /// Takes a processing thumbnail until
    /// `lease_until` (attempts + 1) and returns it with its generation;
    /// `None` when it is terminal or gone.
    pub async fn claim(&self, id: &str, lease_until: i64) -> Result<Option<JobContext>, DbError> {
        let (reply, answer) = oneshot::channel();
        let op = ClaimOp {
            id: id.to_owned(),
            lease_until,
            reply,
        };
        self.claims.send(op).await.map_err(|_| stopped())?;
        answer.await.map_err(|_| stopped())?
    }

    /// Records the outcome of the job that claimed `claimed` (only while
    /// the thumbnail is processing), then re-derives the generation's
    /// status and stores it when terminal.
    pub async fn record(
        &self,
        claimed: &JobContext,
        result: JobResult,
    ) -> Result<Recorded, DbError> {
        let (reply, answer) = oneshot::channel();
        let op = RecordOp {
            id: claimed.thumbnail.id.clone(),
            generation_id: claimed.generation.id.clone(),
            count: claimed.generation.count,
            result,
            reply,
        };
        self.records.send(op).await.map_err(|_| stopped())?;
        answer.await.map_err(|_| stopped())?
    }
}

fn stopped() -> DbError {
    DbError::Corrupt("the status writer stopped".to_owned())
}

async fn claim_batch(db: &Db, ops: Vec<ClaimOp>) {
    let ids: Vec<String> = ops.iter().map(|op| op.id.clone()).collect();
    let lease_until = ops
        .iter()
        .map(|op| op.lease_until)
        .max()
        .unwrap_or_default();
    match claim_many(db, &ids, lease_until).await {
        Ok((rows, gens)) => {
            for op in ops {
                let ctx = rows.get(&op.id).and_then(|thumbnail| {
                    gens.get(&thumbnail.generation_id)
                        .map(|generation| JobContext {
                            thumbnail: thumbnail.clone(),
                            generation: generation.clone(),
                        })
                });
                let _ = op.reply.send(Ok(ctx));
            }
        }
        Err(e) => {
            for op in ops {
                let _ = op.reply.send(Err(e.clone()));
            }
        }
    }
}

type Claimed = (
    HashMap<String, thumbnails::Model>,
    HashMap<String, generations::Model>,
);

async fn claim_many(db: &Db, ids: &[String], lease_until: i64) -> Result<Claimed, DbError> {
    if db.conn().get_database_backend() == DbBackend::Postgres {
        return claim_many_pg(db, ids, lease_until).await;
    }
    let rows = crate::thumbnails::claiming(lease_until)
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
async fn claim_many_pg(db: &Db, ids: &[String], lease_until: i64) -> Result<Claimed, DbError> {
    use sea_orm::{FromQueryResult, Iterable, QueryTrait, sea_query::PostgresQueryBuilder};
    let mut update = crate::thumbnails::claiming(lease_until)
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

async fn record_batch(db: &Db, ops: Vec<RecordOp>) {
    match record_many(db, &ops).await {
        Ok((changed, derived)) => {
            for op in ops {
                let recorded = Recorded {
                    changed: changed.contains(op.id.as_str()),
                    generation: derived
                        .get(op.generation_id.as_str())
                        .copied()
                        .unwrap_or(GenerationStatus::Processing),
                };
                let _ = op.reply.send(Ok(recorded));
            }
        }
        Err(e) => {
            for op in ops {
                let _ = op.reply.send(Err(e.clone()));
            }
        }
    }
}

type RecordedMany = (
    std::collections::HashSet<String>,
    HashMap<String, GenerationStatus>,
);

async fn record_many(db: &Db, ops: &[RecordOp]) -> Result<RecordedMany, DbError> {
    let backend = db.conn().get_database_backend();
    // A thumbnail twice in one batch (a duplicate delivery) is written once.
    let mut seen = std::collections::HashSet::new();
    let ops: Vec<&RecordOp> = ops.iter().filter(|op| seen.insert(&op.id)).collect();
    // PostgreSQL, a generation of one thumbnail that succeeded: its status
    // follows from this one outcome, so both rows change in one statement.
    let (single, ops): (Vec<&RecordOp>, Vec<&RecordOp>) = if backend == DbBackend::Postgres {
        ops.into_iter()
            .partition(|op| op.count == 1 && matches!(op.result, JobResult::Succeeded(_)))
    } else {
        (Vec::new(), ops)
    };
    let (mut changed, mut derived, leftover) = record_single_pg(db, &single).await?;
    let ops: Vec<&RecordOp> = ops.into_iter().chain(leftover).collect();
    if ops.is_empty() {
        return Ok((changed, derived));
    }
    let mut params = Params::new(backend);
    let mut rows = Vec::with_capacity(ops.len());
    for op in padded(&ops) {
        let (status, error, out) = match &op.result {
            JobResult::Succeeded(out) => (ThumbnailStatus::Succeeded, None, Some(out)),
            JobResult::Failed(reason) => (ThumbnailStatus::Failed, Some(reason.clone()), None),
        };
        let values = [
            Value::from(op.id.clone()),
            Value::from(status.as_str()),
            Value::String(error),
            Value::String(out.map(|o| o.storage_key.clone())),
            Value::String(out.and_then(|o| o.watermarked_key.clone())),
            Value::BigInt(out.map(|o| o.file_size_bytes)),
            Value::Int(out.map(|o| o.width)),
            Value::Int(out.map(|o| o.height)),
            Value::BigInt(out.map(|o| o.generation_time_ms)),
        ];
        let row: Vec<String> = values.into_iter().map(|v| params.push(v)).collect();
        rows.push(format!("({})", row.join(", ")));
    }
    // Their generations are re-derived by a later write: marked first, so
    // a process that dies in between leaves them for the sweeper.
    let marks: Vec<String> = ops.iter().map(|op| op.generation_id.clone()).collect();
    crate::generations::mark_unsettled(db.conn(), &marks).await?;
    let completed_at = params.push(Value::from(now_ms()));
    // `tid`, not `id`: RETURNING must name the updated table's column
    // unambiguously on both PostgreSQL and SQLite.
    let sql = format!(
        "WITH v(tid, status, error, storage_key, watermarked_key, file_size_bytes, width, height, generation_time_ms) \
         AS (VALUES {}) \
         UPDATE thumbnails SET status = v.status, error = v.error, storage_key = v.storage_key, \
         watermarked_key = v.watermarked_key, file_size_bytes = v.file_size_bytes, width = v.width, \
         height = v.height, generation_time_ms = v.generation_time_ms, completed_at = {completed_at}, \
         lease_expires_at = NULL \
         FROM v WHERE thumbnails.id = v.tid AND {guard} \
         RETURNING id",
        rows.join(", "),
        guard = still_processing_sql("thumbnails"),
    );
    for row in db
        .conn()
        .query_all_raw(Statement::from_sql_and_values(backend, sql, params.values))
        .await?
    {
        changed.insert(row.try_get::<String>("", "id")?);
    }
    let mut generations: Vec<(&str, i32)> = ops
        .iter()
        .map(|op| (op.generation_id.as_str(), op.count))
        .collect();
    generations.sort_unstable();
    generations.dedup();
    derived.extend(refresh_many(db, &generations).await?);
    Ok((changed, derived))
}

/// The outcomes of `ops` (successes of one-thumbnail generations) and the
/// ends of their generations, in one statement: a data-modifying CTE
/// updates the thumbnails (only `processing` ones), the next updates the
/// generations of the rows it changed (only `processing` ones). No refund
/// is due, since all succeeded. Ops whose thumbnail did not change, or
/// whose generation was not ended by this statement, are returned to take
/// the general path, which reads the statuses as they are.
async fn record_single_pg<'a>(
    db: &Db,
    ops: &[&'a RecordOp],
) -> Result<
    (
        std::collections::HashSet<String>,
        HashMap<String, GenerationStatus>,
        Vec<&'a RecordOp>,
    ),
    DbError,
> {
    let mut changed = std::collections::HashSet::new();
    let mut derived = HashMap::new();
    if ops.is_empty() {
        return Ok((changed, derived, Vec::new()));
    }
    let mut params = Params::new(DbBackend::Postgres);
    let mut rows = Vec::with_capacity(ops.len());
    for op in padded(ops) {
        let JobResult::Succeeded(out) = &op.result else {
            unreachable!("only successes take this path");
        };
        let values = [
            Value::from(op.id.clone()),
            Value::from(out.storage_key.clone()),
            Value::String(out.watermarked_key.clone()),
            Value::from(out.file_size_bytes),
            Value::from(out.width),
            Value::from(out.height),
            Value::from(out.generation_time_ms),
        ];
        let row: Vec<String> = values.into_iter().map(|v| params.push(v)).collect();
        rows.push(format!("({})", row.join(", ")));
    }
    let now = params.push(Value::from(now_ms()));
    let thumbnail_status = params.push(Value::from(ThumbnailStatus::Succeeded.as_str()));
    let generation_status = params.push(Value::from(GenerationStatus::Succeeded.as_str()));
    let sql = format!(
        "WITH v(tid, storage_key, watermarked_key, file_size_bytes, width, height, generation_time_ms) \
         AS (VALUES {rows}), \
         t AS (UPDATE thumbnails SET status = {thumbnail_status}, error = NULL, storage_key = v.storage_key, \
           watermarked_key = v.watermarked_key, file_size_bytes = v.file_size_bytes, width = v.width, \
           height = v.height, generation_time_ms = v.generation_time_ms, completed_at = {now}, \
           lease_expires_at = NULL \
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
    let mut ended = std::collections::HashSet::new();
    for row in db
        .conn()
        .query_all_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            sql,
            params.values,
        ))
        .await?
    {
        changed.insert(row.try_get::<String>("", "tid")?);
        if let Some(gid) = row.try_get::<Option<String>>("", "gid")? {
            ended.insert(gid);
        }
    }
    let mut leftover = Vec::new();
    for op in ops {
        if ended.contains(op.generation_id.as_str()) {
            derived.insert(op.generation_id.clone(), GenerationStatus::Succeeded);
        } else {
            leftover.push(*op);
        }
    }
    Ok((changed, derived, leftover))
}

/// Re-derives these generations' statuses from their thumbnails and stores
/// the terminal ones (only over `processing`), one statement per status.
async fn refresh_many(
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
        .map(|(id, idx)| {
            let id = params.push(Value::from(id.to_owned()));
            let idx = params.push(Value::from(idx));
            format!("({id}, {idx})")
        })
        .collect();
    let sql = format!(
        "SELECT generation_id, status FROM thumbnails WHERE (generation_id, idx) IN ({})",
        tuples.join(", ")
    );
    let rows: Vec<(String, String)> = db
        .conn()
        .query_all_raw(Statement::from_sql_and_values(backend, sql, params.values))
        .await?
        .into_iter()
        .map(|row| {
            Ok::<_, sea_orm::DbErr>((
                row.try_get::<String>("", "generation_id")?,
                row.try_get::<String>("", "status")?,
            ))
        })
        .collect::<Result<_, _>>()?;
    let mut by_generation: HashMap<String, Vec<ThumbnailStatus>> = HashMap::new();
    for (generation_id, status) in rows {
        let status = status.parse().map_err(DbError::Corrupt)?;
        by_generation.entry(generation_id).or_default().push(status);
    }
    let succeeded: HashMap<String, i32> = by_generation
        .iter()
        .map(|(id, statuses)| {
            let n = statuses
                .iter()
                .filter(|s| **s == ThumbnailStatus::Succeeded)
                .count();
            (id.clone(), n as i32)
        })
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
            end_generations(db, &ids, status, &succeeded).await?;
        }
    }
    Ok(derived)
}

/// Moves `ids` from `processing` to the terminal `status`; when that ends
/// them short of full success, refunds what they did not use, in the same
/// transaction (the move applies once, so the refund does too).
pub(crate) async fn end_generations(
    db: &Db,
    ids: &[String],
    status: GenerationStatus,
    succeeded: &HashMap<String, i32>,
) -> Result<(), DbError> {
    let now = now_ms();
    let update = generations::Entity::update_many()
        .col_expr(generations::Column::Status, Expr::value(status.as_str()))
        .col_expr(generations::Column::UpdatedAt, Expr::value(now))
        .col_expr(generations::Column::CompletedAt, Expr::value(now))
        .filter(generations::Column::Id.is_in(padded(ids)))
        .filter(still_processing("generations"));
    if status == GenerationStatus::Succeeded {
        update.exec(db.conn()).await?;
        crate::generations::unmark(db.conn(), ids).await?;
        return Ok(());
    }
    let txn = db.conn().begin().await?;
    let ended = update.exec_with_returning(&txn).await?;
    crate::credits::refund_ended(&txn, &ended, succeeded).await?;
    crate::generations::unmark(&txn, ids).await?;
    txn.commit().await?;
    Ok(())
}

/// The guard every write keeps (only `processing` rows change), written so
/// no planner can answer it from the status index. Batches find their rows
/// by primary key; with the plain `status = 'processing'`, PostgreSQL ANDs
/// in a bitmap scan of every processing row whenever its statistics think
/// few are processing — stale statistics during a backlog made each claim
/// scan tens of thousands of index entries (10 ms per batch, measured).
fn still_processing_sql(table: &str) -> String {
    format!("\"{table}\".\"status\" || '' = 'processing'")
}

fn still_processing(table: &str) -> sea_orm::sea_query::SimpleExpr {
    Expr::cust(still_processing_sql(table))
}

/// `items` with the last one repeated up to the next power of two. A batch
/// of any size then uses one of seven statement texts, so the driver's
/// per-connection cache of prepared statements keeps them all instead of
/// re-parsing a new text per size. Repeats are harmless: an id twice in
/// `IN (…)` or in the values matches its row once, with the same values.
fn padded<T: Clone>(items: &[T]) -> Vec<T> {
    let mut out = items.to_vec();
    if let Some(last) = items.last() {
        out.resize(items.len().next_power_of_two(), last.clone());
    }
    out
}

/// Positional parameters in the backend's spelling (`$n` or `?`).
struct Params {
    backend: DbBackend,
    values: Vec<Value>,
}

impl Params {
    fn new(backend: DbBackend) -> Params {
        Params {
            backend,
            values: Vec::new(),
        }
    }

    fn push(&mut self, value: Value) -> String {
        self.values.push(value);
        match self.backend {
            DbBackend::Postgres => format!("${}", self.values.len()),
            _ => "?".to_owned(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batches_pad_to_powers_of_two() {
        assert_eq!(padded::<u8>(&[]), Vec::<u8>::new());
        assert_eq!(padded(&[1]), vec![1]);
        assert_eq!(padded(&[1, 2, 3]), vec![1, 2, 3, 3]);
        assert_eq!(padded(&[1, 2, 3, 4, 5]).len(), 8);
    }

    #[test]
    fn the_guard_names_the_processing_status_of_both_tables() {
        assert_eq!(ThumbnailStatus::Processing.as_str(), "processing");
        assert_eq!(GenerationStatus::Processing.as_str(), "processing");
        assert_eq!(
            still_processing_sql("thumbnails"),
            r#""thumbnails"."status" || '' = 'processing'"#
        );
    }
}
