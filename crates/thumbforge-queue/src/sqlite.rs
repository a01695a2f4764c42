//! The embedded queue: apalis-sqlite on its own file.

use std::{
    path::Path,
    sync::{Arc, Mutex},
};

use apalis::prelude::TaskBuilder;
pub use apalis_sqlite::{
    Config as SqliteQueueConfig, SqlitePool, SqliteStorage, callback::HookCallbackListener,
};

use thumbforge_core::progress::ProviderStage;

use crate::{Fairness, Lane, QueueError, RenderThumbnail, Standing, WaitingByOrg};

/// Fair dispatch on apalis-sqlite, whose workers take the pending job of
/// highest `priority` first: a job's priority is `BASE` minus its virtual
/// finish time (weighted fair queuing, as on Redis: each of an
/// organisation's jobs adds `SCALE / weight` to its time, and an
/// organisation that starts waiting joins at the time of the next job
/// due), and a job a caller waits on gets `SYNC`, ahead of all. The cap on
/// thumbnails in flight is kept by the worker, which is in this process.
const SYNC: i64 = 1 << 52;
const BASE: i64 = 1 << 48;
/// Divisible by every weight up to 10, so shares stay exact.
const SCALE: i64 = 2520;

/// A job's organisation, by the expression our index is on (`job` is the
/// job's JSON, stored as a BLOB). A macro, so queries stay static strings.
macro_rules! org {
    () => {
        "json_extract(CAST(job AS TEXT), '$.org_id')"
    };
}

fn now_secs() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// A handle to the queue, cheap to clone.
#[derive(Debug, Clone)]
pub struct SqliteQueue {
    pool: SqlitePool,
    max_attempts: usize,
    fairness: Fairness,
    listener: Arc<Mutex<Option<HookCallbackListener>>>,
}

impl SqliteQueue {
    /// Opens (creating when missing) the embedded queue at `path`.
    pub async fn open(
        path: &Path,
        max_attempts: usize,
        fairness: Fairness,
    ) -> Result<SqliteQueue, QueueError> {
        if let Some(parent) = path.parent() {
            let _ = std::fs::create_dir_all(parent);
        }
        let url = format!("sqlite://{}?mode=rwc", path.display());
        let (pool, listener) = SqliteStorage::connect_with_callback(&url)?;
        SqliteStorage::setup(&pool).await?;
        for statement in [
            "CREATE TABLE IF NOT EXISTS thumbforge_fair (lane TEXT NOT NULL, org TEXT NOT NULL, \
             vt INTEGER NOT NULL, PRIMARY KEY (lane, org))",
            "CREATE INDEX IF NOT EXISTS thumbforge_jobs_priority ON Jobs (job_type, status, priority)",
            "CREATE TABLE IF NOT EXISTS thumbforge_provider_stages (thumbnail_id TEXT PRIMARY KEY, \
             stage TEXT NOT NULL, updated_at INTEGER NOT NULL)",
            concat!(
                "CREATE INDEX IF NOT EXISTS thumbforge_jobs_org ON Jobs (",
                org!(),
                ", job_type, status, priority)"
            ),
        ] {
            sqlx::query(statement).execute(&pool).await?;
        }
        // Jobs pushed before fair dispatch keep their place ahead of new ones.
        sqlx::query(
            "UPDATE Jobs SET priority = ?1 WHERE priority = 0 AND status IN ('Pending', 'Failed')",
        )
        .bind(BASE)
        .execute(&pool)
        .await?;
        Ok(SqliteQueue {
            pool,
            max_attempts,
            fairness,
            listener: Arc::new(Mutex::new(Some(listener))),
        })
    }

    pub fn fairness(&self) -> Fairness {
        self.fairness
    }

    /// Pushes jobs in one transaction, each with its fair priority.
    /// `attempt` is the thumbnail's claim count when the job is
    /// (re-)enqueued; see `RenderThumbnail::idempotency_key`.
    pub async fn enqueue(&self, jobs: &[(RenderThumbnail, i32)]) -> Result<(), QueueError> {
        // Immediate: it reads before it writes, and a deferred transaction
        // that another writer overtook in between could not write at all.
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        for lane in Lane::ALL {
            let lane_jobs: Vec<_> = jobs.iter().filter(|(job, _)| job.lane == lane).collect();
            if lane_jobs.is_empty() {
                continue;
            }
            // The time of the next job due, else of the last one given.
            let (clock,): (Option<i64>,) = sqlx::query_as(
                "SELECT COALESCE(?2 - (SELECT MAX(priority) FROM Jobs WHERE job_type = ?1 \
                 AND status = 'Pending' AND priority < ?3), \
                 (SELECT MAX(vt) FROM thumbforge_fair WHERE lane = ?4))",
            )
            .bind(lane.queue_name())
            .bind(BASE)
            .bind(SYNC)
            .bind(lane.as_str())
            .fetch_one(&mut *tx)
            .await?;
            let clock = clock.unwrap_or(0);
            let mut times = std::collections::HashMap::<&str, i64>::new();
            let mut tasks = Vec::with_capacity(lane_jobs.len());
            for (job, attempt) in lane_jobs {
                let priority = if job.sync {
                    SYNC
                } else {
                    let org = job.org_id.as_str();
                    let last = match times.get(org) {
                        Some(t) => *t,
                        None => sqlx::query_as::<_, (i64,)>(
                            "SELECT vt FROM thumbforge_fair WHERE lane = ?1 AND org = ?2",
                        )
                        .bind(lane.as_str())
                        .bind(org)
                        .fetch_optional(&mut *tx)
                        .await?
                        .map_or(0, |(vt,)| vt),
                    };
                    let weight = job.plan.map_or(1, |p| self.fairness.of(p).weight.max(1));
                    let vt = last.max(clock) + SCALE / i64::from(weight).min(SCALE);
                    times.insert(org, vt);
                    (BASE - vt).max(1)
                };
                tasks.push(
                    TaskBuilder::new(serde_json::to_vec(job)?)
                        .idempotency_key(job.idempotency_key(*attempt))
                        .max_attempts(self.max_attempts)
                        .priority(priority as usize)
                        .build(),
                );
            }
            for (org, vt) in &times {
                sqlx::query(
                    "INSERT INTO thumbforge_fair (lane, org, vt) VALUES (?1, ?2, ?3) \
                     ON CONFLICT (lane, org) DO UPDATE SET vt = excluded.vt",
                )
                .bind(lane.as_str())
                .bind(org)
                .bind(vt)
                .execute(&mut *tx)
                .await?;
            }
            apalis_sqlite::queries::push_tasks(&mut *tx, lane.queue_name(), &tasks).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// A stage older than the TTL is gone, as on Redis (old rows are
    /// removed as new ones are written).
    pub async fn set_provider_stage(
        &self,
        thumbnail_id: &str,
        stage: Option<ProviderStage>,
    ) -> Result<(), QueueError> {
        let now = now_secs();
        match stage {
            Some(stage) => {
                sqlx::query(
                    "INSERT INTO thumbforge_provider_stages (thumbnail_id, stage, updated_at) \
                     VALUES (?1, ?2, ?3) ON CONFLICT (thumbnail_id) \
                     DO UPDATE SET stage = excluded.stage, updated_at = excluded.updated_at",
                )
                .bind(thumbnail_id)
                .bind(stage.encode())
                .bind(now)
                .execute(&self.pool)
                .await?;
                sqlx::query("DELETE FROM thumbforge_provider_stages WHERE updated_at < ?1")
                    .bind(now - crate::PROVIDER_STAGE_TTL_SECS as i64)
                    .execute(&self.pool)
                    .await?;
            }
            None => {
                sqlx::query("DELETE FROM thumbforge_provider_stages WHERE thumbnail_id = ?1")
                    .bind(thumbnail_id)
                    .execute(&self.pool)
                    .await?;
            }
        }
        Ok(())
    }

    pub async fn provider_stages(
        &self,
        thumbnail_ids: &[String],
    ) -> Result<Vec<Option<ProviderStage>>, QueueError> {
        let rows: Vec<(String, String)> = sqlx::query_as(
            "SELECT thumbnail_id, stage FROM thumbforge_provider_stages \
             WHERE thumbnail_id IN (SELECT value FROM json_each(?1)) AND updated_at >= ?2",
        )
        .bind(serde_json::to_string(thumbnail_ids)?)
        .bind(now_secs() - crate::PROVIDER_STAGE_TTL_SECS as i64)
        .fetch_all(&self.pool)
        .await?;
        Ok(thumbnail_ids
            .iter()
            .map(|id| {
                rows.iter()
                    .find(|(t, _)| t == id)
                    .and_then(|(_, stage)| ProviderStage::decode(stage))
            })
            .collect())
    }

    /// Thumbnails of `org_id` waiting in either lane.
    pub async fn waiting(&self, org_id: &str) -> Result<u64, QueueError> {
        let (n,): (i64,) = sqlx::query_as(concat!(
            "SELECT COUNT(*) FROM Jobs WHERE ",
            org!(),
            " = ?1 AND job_type IN (?2, ?3) \
             AND status = 'Pending'"
        ))
        .bind(org_id)
        .bind(Lane::Remote.queue_name())
        .bind(Lane::Cpu.queue_name())
        .fetch_one(&self.pool)
        .await?;
        Ok(n as u64)
    }

    /// A pending job's position is one more than the pending jobs of its
    /// organisation and lane that a worker takes before it.
    pub async fn standings(&self, thumbnail_ids: &[String]) -> Result<Vec<Standing>, QueueError> {
        let mut out = Vec::with_capacity(thumbnail_ids.len());
        for id in thumbnail_ids {
            // Keys are `{thumbnail}:{attempt}`: ';' follows ':'.
            let row: Option<(String, String, i64, i64, String, Option<String>)> =
                sqlx::query_as(concat!(
                    "SELECT job_type, status, priority, run_at, id, ",
                    org!(),
                    " FROM Jobs \
                     WHERE job_type IN (?1, ?2) AND idempotency_key >= ?3 AND idempotency_key < ?4 \
                     AND (status IN ('Pending', 'Queued', 'Running') \
                          OR (status = 'Failed' AND attempts < max_attempts)) \
                     ORDER BY run_at DESC LIMIT 1"
                ))
                .bind(Lane::Remote.queue_name())
                .bind(Lane::Cpu.queue_name())
                .bind(format!("{id}:"))
                .bind(format!("{id};"))
                .fetch_optional(&self.pool)
                .await?;
            let standing = match row {
                None => Standing::Absent,
                Some((job_type, status, priority, run_at, job_id, org)) if status == "Pending" => {
                    let (ahead,): (i64,) = sqlx::query_as(concat!(
                        "SELECT COUNT(*) FROM Jobs WHERE ",
                        org!(),
                        " IS ?1 AND job_type = ?2 \
                         AND status = 'Pending' AND (priority > ?3 OR (priority = ?3 \
                         AND (run_at < ?4 OR (run_at = ?4 AND id < ?5))))"
                    ))
                    .bind(org)
                    .bind(job_type)
                    .bind(priority)
                    .bind(run_at)
                    .bind(job_id)
                    .fetch_one(&self.pool)
                    .await?;
                    Standing::Waiting {
                        position: ahead as u64 + 1,
                    }
                }
                Some(_) => Standing::Dispatched,
            };
            out.push(standing);
        }
        Ok(out)
    }

    pub async fn waiting_by_org(&self) -> Result<Vec<WaitingByOrg>, QueueError> {
        let rows: Vec<(Option<String>, i64, Option<i64>)> = sqlx::query_as(concat!(
            "SELECT ",
            org!(),
            ", COUNT(*), MIN(json_extract(CAST(job AS TEXT), '$.enqueued_at_ms')) \
             FROM Jobs WHERE job_type IN (?1, ?2) AND status = 'Pending' GROUP BY ",
            org!(),
            ""
        ))
        .bind(Lane::Remote.queue_name())
        .bind(Lane::Cpu.queue_name())
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .into_iter()
            .map(|(org, n, at)| WaitingByOrg {
                org_id: org.unwrap_or_default(),
                waiting: n as u64,
                oldest_enqueued_ms: at.unwrap_or(0),
            })
            .collect())
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
