#![doc = include_str!("../README.md")]

use std::{
    path::Path,
    sync::{Arc, Mutex},
};

use apalis::prelude::TaskBuilder;
pub use apalis_sqlite::{
    Config as SqliteQueueConfig, SqlitePool, SqliteStorage, callback::HookCallbackListener,
};
use serde::{Deserialize, Serialize};

/// Explicit queue name, so renaming the Rust type never orphans jobs.
pub const RENDER_QUEUE: &str = "thumbforge.render-thumbnail";

/// Render one thumbnail. The database row is the real instruction; the job
/// only names it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RenderThumbnail {
    pub thumbnail_id: String,
    pub generation_id: String,
    /// When the job was pushed (Unix ms), for enqueue-to-start latency.
    pub enqueued_at_ms: i64,
}

impl RenderThumbnail {
    /// The queue-level dedupe key: one live job per thumbnail attempt.
    pub fn idempotency_key(&self, attempt: i32) -> String {
        format!("{}:{attempt}", self.thumbnail_id)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum QueueError {
    #[error("queue: {0}")]
    Sqlite(#[from] apalis_sqlite::Error),
    #[error("queue database: {0}")]
    Sql(#[from] sqlx::Error),
    #[error("encoding job: {0}")]
    Encode(#[from] serde_json::Error),
}

/// A handle to the queue, cheap to clone.
#[derive(Debug, Clone)]
pub struct JobQueue {
    pool: SqlitePool,
    max_attempts: usize,
    listener: Arc<Mutex<Option<HookCallbackListener>>>,
}

impl JobQueue {
    /// Opens (creating when missing) the embedded queue at `path`.
    pub async fn open_sqlite(path: &Path, max_attempts: usize) -> Result<JobQueue, QueueError> {
        if let Some(parent) = path.parent() {
            let _ = std::fs::create_dir_all(parent);
        }
        let url = format!("sqlite://{}?mode=rwc", path.display());
        let (pool, listener) = SqliteStorage::connect_with_callback(&url)?;
        SqliteStorage::setup(&pool).await?;
        Ok(JobQueue {
            pool,
            max_attempts,
            listener: Arc::new(Mutex::new(Some(listener))),
        })
    }

    /// Pushes jobs in one transaction. `attempt` is the thumbnail's claim
    /// count when the job is (re-)enqueued; see `RenderThumbnail::idempotency_key`.
    pub async fn enqueue(&self, jobs: &[(RenderThumbnail, i32)]) -> Result<(), QueueError> {
        let tasks = jobs
            .iter()
            .map(|(job, attempt)| {
                Ok(TaskBuilder::new(serde_json::to_vec(job)?)
                    .idempotency_key(job.idempotency_key(*attempt))
                    .max_attempts(self.max_attempts)
                    .build())
            })
            .collect::<Result<Vec<_>, QueueError>>()?;
        let mut tx = self.pool.begin().await?;
        apalis_sqlite::queries::push_tasks(&mut *tx, RENDER_QUEUE, &tasks).await?;
        tx.commit().await?;
        Ok(())
    }

    /// A cheap round trip, for readiness checks.
    pub async fn ping(&self) -> Result<(), QueueError> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    /// Jobs waiting or running, for metrics and operators.
    pub async fn depth(&self) -> Result<i64, QueueError> {
        let (n,): (i64,) = sqlx::query_as(
            "SELECT COUNT(*) FROM Jobs WHERE job_type = ?1 AND status IN ('Pending', 'Queued', 'Running')",
        )
        .bind(RENDER_QUEUE)
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
