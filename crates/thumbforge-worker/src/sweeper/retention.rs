//! Retention: one pass deletes up to `retention.batch` generations that
//! ended more than `retention.generations_days` ago, oldest first: first
//! both image objects of each thumbnail (clean and watermarked, as an
//! organisation's delete does), then, for the generations whose objects
//! all went, the rows (`thumbforge_db::retention`). A crash or a failed
//! object delete between the two leaves rows whose images are gone; the
//! next pass takes those generations again and finishes them, a missing
//! object counting as deleted.
//!
//! The pass also forgets idempotency keys past their TTL, which have no
//! foreign key to their generation.

use std::time::Duration;

use anyhow::Context;
use futures::{StreamExt, stream};
use thumbforge_db::{Db, idempotency, now_ms, retention};
use thumbforge_storage::{Storage, thumbnail_keys};
use thumbforge_telemetry::metrics::Metrics;
use tracing::warn;

/// Object deletes in flight at once: a batch's objects take about
/// objects / 32 round trips to the store instead of one each.
const OBJECT_DELETES: usize = 32;

#[derive(Debug, Clone)]
pub struct RetentionConfig {
    /// Generations that ended longer ago than this are deleted.
    pub keep: Duration,
    /// Most generations one pass deletes.
    pub batch: u64,
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct RetentionReport {
    pub generations: usize,
    pub thumbnails: usize,
    /// Generations kept for the next pass because an object delete failed.
    pub deferred: usize,
    pub idempotency_keys: u64,
}

/// One pass. Deletes nothing that has not ended, nor anything that ended
/// within `keep`.
pub async fn pass(
    db: &Db,
    storage: &Storage,
    metrics: &Metrics,
    config: &RetentionConfig,
) -> anyhow::Result<RetentionReport> {
    let ended_before = now_ms() - i64::try_from(config.keep.as_millis()).unwrap_or(i64::MAX);
    let batch = retention::take(db, ended_before, config.batch.max(1))
        .await
        .context("finding generations past retention")?;
    let mut failed = vec![false; batch.generations.len()];
    let keys: Vec<(usize, String)> = batch
        .generations
        .iter()
        .enumerate()
        .flat_map(|(i, g)| {
            g.thumbnails
                .iter()
                .flat_map(move |(t, format)| thumbnail_keys(&g.id, t, *format).map(|key| (i, key)))
        })
        .collect();
    // Owned futures: a stream of futures borrowing from the pass is not
    // `Send` for every lifetime, which the spawned sweeper needs.
    let mut deletes = stream::iter(keys)
        .map(|(i, key)| {
            let storage = storage.clone();
            async move { (i, storage.delete(&key).await, key) }
        })
        .buffer_unordered(OBJECT_DELETES);
    while let Some((i, outcome, key)) = deletes.next().await {
        if let Err(e) = outcome {
            if !failed.contains(&true) {
                warn!(error = %e, key, "retention could not delete an object; its generation waits for the next pass");
            }
            failed[i] = true;
        }
    }
    drop(deletes);
    let ids: Vec<String> = batch
        .generations
        .iter()
        .zip(&failed)
        .filter(|&(_, &failed)| !failed)
        .map(|(g, _)| g.id.clone())
        .collect();
    let mut report = RetentionReport {
        deferred: batch.generations.len() - ids.len(),
        ..RetentionReport::default()
    };
    // Also with nothing to delete: it ends the batch's transaction.
    let deleted = batch
        .delete(db, &ids)
        .await
        .context("deleting the rows of generations past retention")?;
    report.generations = deleted.generations;
    report.thumbnails = deleted.thumbnails;
    metrics
        .retention_generations_deleted
        .inc_by(deleted.generations as u64);
    metrics
        .retention_thumbnails_deleted
        .inc_by(deleted.thumbnails as u64);
    report.idempotency_keys = idempotency::expire(db, config.batch.max(1))
        .await
        .context("forgetting expired idempotency keys")?;
    Ok(report)
}
