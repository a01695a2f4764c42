//! Retention: the rows of generations that ended long ago. The worker's
//! sweeper takes a batch of them ([`take`]), deletes their image objects,
//! then the rows of those whose objects all went ([`Batch::delete`]).
//!
//! Objects first, rows second: a crash between the two leaves rows whose
//! images are gone (their URLs answer 404 until then). Those rows still
//! match, so the next pass takes them again, finds their objects missing
//! (which counts as deleted) and deletes the rows.
//!
//! The batch is found by a range of the primary key: ids sort by creation
//! time, and a generation that ended before the cutoff was made before it,
//! so `id < first id at the cutoff` bounds the scan, oldest first. Ids
//! made before ids sorted by time (`gen_` and 20 random characters) sort
//! after that bound and are never taken.
//!
//! A processing generation is never taken, and the delete checks it again:
//! an operator's retry that reopened one meanwhile keeps its rows. (Its
//! objects may already be gone; on PostgreSQL the batch's row locks make
//! the retry wait for the delete instead.)

use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, DatabaseTransaction, DbBackend, EntityTrait,
    QueryFilter, QueryOrder, QuerySelect, TransactionTrait,
    sea_query::{LockBehavior, LockType, Query},
};
use thumbforge_core::{GenerationId, GenerationStatus};

use crate::{
    Db, DbError,
    entities::{generations, thumbnails, webhook_attempts, webhook_deliveries},
    generations::delete_rows,
};

/// A generation retention deletes, with its thumbnails' ids (which name
/// its objects).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expired {
    pub id: String,
    /// Its thumbnails, each with the format its files have.
    pub thumbnails: Vec<(String, thumbforge_core::OutputFormat)>,
}

/// What one [`Batch::delete`] removed.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Deleted {
    pub generations: usize,
    pub thumbnails: usize,
}

/// Up to a batch of generations that ended before a cutoff, oldest first.
///
/// On PostgreSQL it holds their rows locked (`FOR UPDATE SKIP LOCKED`) in a
/// transaction until [`Batch::delete`] or drop (which rolls back), so the
/// sweepers of several workers take different batches. SQLite serves one
/// process, and a read transaction held while objects are deleted would
/// fail to upgrade once another connection wrote; there the batch holds
/// nothing and the delete checks the rows again.
pub struct Batch {
    txn: Option<DatabaseTransaction>,
    ended_before: i64,
    pub generations: Vec<Expired>,
}

/// Ended (any status but processing) before `ended_before` (Unix ms).
fn expired(ended_before: i64) -> Condition {
    Condition::all()
        .add(generations::Column::Id.lt(GenerationId::first_at(ended_before)))
        .add(generations::Column::Status.ne(GenerationStatus::Processing))
        .add(generations::Column::CompletedAt.lt(ended_before))
}

/// Takes up to `limit` generations that ended before `ended_before` (Unix
/// ms), oldest first.
pub async fn take(db: &Db, ended_before: i64, limit: u64) -> Result<Batch, DbError> {
    let txn = match db.conn().get_database_backend() {
        DbBackend::Postgres => Some(db.conn().begin().await?),
        _ => None,
    };
    let generations = match &txn {
        Some(txn) => find(txn, ended_before, limit, true).await?,
        None => find(db.conn(), ended_before, limit, false).await?,
    };
    Ok(Batch {
        txn,
        ended_before,
        generations,
    })
}

async fn find<C: ConnectionTrait>(
    conn: &C,
    ended_before: i64,
    limit: u64,
    lock: bool,
) -> Result<Vec<Expired>, DbError> {
    let mut query = generations::Entity::find()
        .select_only()
        .column(generations::Column::Id)
        .filter(expired(ended_before))
        .order_by_asc(generations::Column::Id)
        .limit(limit);
    if lock {
        query = query.lock_with_behavior(LockType::Update, LockBehavior::SkipLocked);
    }
    let ids: Vec<String> = query.into_tuple().all(conn).await?;
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let rows: Vec<(String, String, thumbforge_core::OutputFormat)> = thumbnails::Entity::find()
        .select_only()
        .columns([
            thumbnails::Column::GenerationId,
            thumbnails::Column::Id,
            thumbnails::Column::Format,
        ])
        .filter(thumbnails::Column::GenerationId.is_in(ids.iter().cloned()))
        .into_tuple()
        .all(conn)
        .await?;
    let mut out: Vec<Expired> = ids
        .into_iter()
        .map(|id| Expired {
            id,
            thumbnails: Vec::new(),
        })
        .collect();
    let at: std::collections::HashMap<String, usize> = out
        .iter()
        .enumerate()
        .map(|(i, g)| (g.id.clone(), i))
        .collect();
    for (generation_id, thumbnail_id, format) in rows {
        if let Some(&i) = at.get(&generation_id) {
            out[i].thumbnails.push((thumbnail_id, format));
        }
    }
    Ok(out)
}

impl Batch {
    /// Deletes the rows of the batch's generations named in `ids` (those
    /// whose objects are gone) that still ended before the cutoff: the
    /// generations, their thumbnails (by the foreign key), and their webhook
    /// deliveries with every attempt (which have no foreign key to a
    /// generation, so they are deleted here). One transaction. Call it
    /// with no ids too: it ends the batch (dropping it rolls back).
    pub async fn delete(self, db: &Db, ids: &[String]) -> Result<Deleted, DbError> {
        if ids.is_empty() {
            if let Some(txn) = self.txn {
                txn.commit().await?;
            }
            return Ok(Deleted::default());
        }
        let txn = match self.txn {
            Some(txn) => txn,
            None => db.conn().begin().await?,
        };
        let which = Condition::all()
            .add(generations::Column::Id.is_in(ids.iter().cloned()))
            .add(expired(self.ended_before));
        let gone = delete_rows(&txn, which).await?;
        if !gone.is_empty() {
            let deliveries = Query::select()
                .column(webhook_deliveries::Column::Id)
                .from(webhook_deliveries::Entity)
                .and_where(webhook_deliveries::Column::GenerationId.is_in(gone.iter().cloned()))
                .to_owned();
            webhook_attempts::Entity::delete_many()
                .filter(webhook_attempts::Column::DeliveryId.in_subquery(deliveries))
                .exec(&txn)
                .await?;
            webhook_deliveries::Entity::delete_many()
                .filter(webhook_deliveries::Column::GenerationId.is_in(gone.iter().cloned()))
                .exec(&txn)
                .await?;
        }
        txn.commit().await?;
        let gone_set: std::collections::HashSet<&str> = gone.iter().map(String::as_str).collect();
        let thumbnails = self
            .generations
            .iter()
            .filter(|g| gone_set.contains(g.id.as_str()))
            .map(|g| g.thumbnails.len())
            .sum();
        Ok(Deleted {
            generations: gone.len(),
            thumbnails,
        })
    }
}
