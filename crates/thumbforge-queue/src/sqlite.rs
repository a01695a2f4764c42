//! The embedded queue: apalis-sqlite on its own file.

use std::{
    path::Path,
    sync::{Arc, Mutex},
};

use apalis::prelude::TaskBuilder;
pub use apalis_sqlite::{
    Config as SqliteQueueConfig, SqlitePool, SqliteStorage, callback::HookCallbackListener,
};

use crate::{Lane, QueueError, RenderThumbnail};

/// A handle to the queue, cheap to clone.
#[derive(Debug, Clone)]
pub struct SqliteQueue {
    pool: SqlitePool,
    max_attempts: usize,
    listener: Arc<Mutex<Option<HookCallbackListener>>>,
}

impl SqliteQueue {
    /// Opens (creating when missing) the embedded queue at `path`.
    pub async fn open(path: &Path, max_attempts: usize) -> Result<SqliteQueue, QueueError> {
        if let Some(parent) = path.parent() {
            let _ = std::fs::create_dir_all(parent);
        }
        let url = format!("sqlite://{}?mode=rwc", path.display());
        let (pool, listener) = SqliteStorage::connect_with_callback(&url)?;
        SqliteStorage::setup(&pool).await?;
        Ok(SqliteQueue {
            pool,
            max_attempts,
            listener: Arc::new(Mutex::new(Some(listener))),
        })
    }

    /// Pushes jobs in one transaction. `attempt` is the thumbnail's claim
    /// count when the job is (re-)enqueued; see `RenderThumbnail::idempotency_key`.
    pub async fn enqueue(&self, jobs: &[(RenderThumbnail, i32)]) -> Result<(), QueueError> {
        let mut tx = self.pool.begin().await?;
        for lane in Lane::ALL {
            let tasks = jobs
                .iter()
                .filter(|(job, _)| job.lane == lane)
                .map(|(job, attempt)| {
                    Ok(TaskBuilder::new(serde_json::to_vec(job)?)
                        .idempotency_key(job.idempotency_key(*attempt))
                        .max_attempts(self.max_attempts)
                        .build())
                })
                .collect::<Result<Vec<_>, QueueError>>()?;
            if !tasks.is_empty() {
                apalis_sqlite::queries::push_tasks(&mut *tx, lane.queue_name(), &tasks).await?;
            }
        }
        tx.commit().await?;
        Ok(())
    }

    /// Thumbnails with no live job in the queue file: one scan of the live
    /// jobs' keys (`{thumbnail}:{attempt}`).
    pub async fn missing(&self, thumbnail_ids: &[String]) -> Result<Vec<String>, QueueError> {
        if thumbnail_ids.is_empty() {
            return Ok(Vec::new());
        }
        let keys: Vec<(Option<String>,)> = sqlx::query_as(
            "SELECT idempotency_key FROM Jobs WHERE job_type IN (?1, ?2) \
             AND (status IN ('Pending', 'Queued', 'Running') \
                  OR (status = 'Failed' AND attempts < max_attempts))",
        )
        .bind(Lane::Remote.queue_name())
        .bind(Lane::Cpu.queue_name())
        .fetch_all(&self.pool)
        .await?;
        let live: std::collections::HashSet<&str> = keys
            .iter()
            .filter_map(|(k,)| k.as_deref()?.rsplit_once(':').map(|(id, _)| id))
            .collect();
        Ok(thumbnail_ids
            .iter()
            .filter(|id| !live.contains(id.as_str()))
            .cloned()
            .collect())
    }

    /// A cheap round trip, for readiness checks.
    pub async fn ping(&self) -> Result<(), QueueError> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    /// Jobs waiting or running, for metrics and operators.
    pub async fn depth(&self) -> Result<i64, QueueError> {
        let (n,): (i64,) = sqlx::query_as(
            "SELECT COUNT(*) FROM Jobs WHERE job_type IN (?1, ?2) \
             AND status IN ('Pending', 'Queued', 'Running')",
        )
        .bind(Lane::Remote.queue_name())
        .bind(Lane::Cpu.queue_name())
        .fetch_one(&self.pool)
        .await?;
        Ok(n)
    }

    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }

    /// The update-hook listener that wakes an in-process worker at once.
    /// There is one per queue handle; later callers get `None` and poll.
    pub fn take_listener(&self) -> Option<HookCallbackListener> {
        self.listener.lock().ok().and_then(|mut l| l.take())
    }

    pub async fn close(&self) {
        self.pool.close().await;
    }
}
