#![doc = include_str!("../README.md")]

mod capacity;
mod connect;
mod fair;
mod redis_streams;
mod sqlite;

use std::{path::PathBuf, time::Duration};

use serde::{Deserialize, Serialize};
use thumbforge_core::{Plan, progress::ProviderStage};

pub use capacity::RedisCapacity;
pub use connect::{DEAD_PEER, RedisConn, redis_client};
pub use redis_streams::{ConsumerSettings, Delivery, RedisBackend, RedisConsumer, RedisQueue};
pub use sqlite::{HookCallbackListener, SqliteQueue, SqliteQueueConfig, SqliteStorage};

/// Explicit queue name, so renaming the Rust type never orphans jobs.
pub const RENDER_QUEUE: &str = "thumbforge.render-thumbnail";

/// Which of a worker's slots a job takes. Each lane is a queue of its own,
/// so a worker takes from each only what it has room for: thousands of
/// calls that wait on a remote model, a few renders per core.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Lane {
    /// Waiting on a remote model (`worker.max_in_flight` of them at once).
    #[default]
    Remote,
    /// Drawing on this machine's CPU: the `local` model
    /// (`worker.concurrency` of them at once).
    Cpu,
}

impl Lane {
    pub const ALL: [Lane; 2] = [Lane::Remote, Lane::Cpu];

    /// The lane of a thumbnail made by `model` (as stored on its generation).
    pub fn for_model(model: &str) -> Lane {
        if model == thumbforge_core::ModelId::LOCAL.as_str() {
            Lane::Cpu
        } else {
            Lane::Remote
        }
    }

    /// The lane that is not this one.
    pub fn other(self) -> Lane {
        match self {
            Lane::Remote => Lane::Cpu,
            Lane::Cpu => Lane::Remote,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Lane::Remote => "remote",
            Lane::Cpu => "cpu",
        }
    }

    /// The embedded queue's name for this lane. The remote lane keeps the
    /// name of the one queue there was before lanes, so jobs queued by an
    /// older version still run.
    pub fn queue_name(self) -> &'static str {
        match self {
            Lane::Remote => RENDER_QUEUE,
            Lane::Cpu => "thumbforge.render-thumbnail.cpu",
        }
    }
}

/// How long a provider's word on a call is kept: past the longest job.
const PROVIDER_STAGE_TTL_SECS: u64 = 900;

/// Render one thumbnail. The database row is the real instruction; the job
/// only names it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RenderThumbnail {
    pub thumbnail_id: String,
    pub generation_id: String,
    /// When the job was pushed (Unix ms), for enqueue-to-start latency.
    pub enqueued_at_ms: i64,
    /// The queue it goes to (remote for jobs queued before lanes).
    #[serde(default)]
    pub lane: Lane,
    /// The organisation it is made for: dispatch is fair between
    /// organisations (empty for jobs queued before fair dispatch).
    #[serde(default)]
    pub org_id: String,
    /// The organisation's plan, which sets its share and caps. Unset on the
    /// sweeper's and an operator's re-pushes: the queue keeps the policy it
    /// last saw for the organisation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plan: Option<Plan>,
    /// A caller waits on it (Flokan's generate, `Prefer: wait`): it goes
    /// ahead of every organisation's batch work.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub sync: bool,
}

impl RenderThumbnail {
    /// The queue-level dedupe key: one live job per thumbnail attempt.
    pub fn idempotency_key(&self, attempt: i32) -> String {
        format!("{}:{attempt}", self.thumbnail_id)
    }
}

/// How one plan's organisations share the workers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OrgPolicy {
    /// Share of dispatch while organisations compete: an organisation of
    /// weight 4 starts four thumbnails for each one of an organisation of
    /// weight 1.
    pub weight: u32,
    /// Thumbnails of one organisation in flight at once, over every
    /// worker (0: no cap). The rest wait their turn in the queue.
    pub max_in_flight: u32,
    /// Thumbnails of one organisation waiting in the queue; past it,
    /// generate answers 429 `queue_full` (0: no limit).
    pub max_queued: u64,
}

impl OrgPolicy {
    /// Weight 1, no caps.
    pub const EVEN: OrgPolicy = OrgPolicy {
        weight: 1,
        max_in_flight: 0,
        max_queued: 0,
    };

    /// As the Redis scripts store it: `weight:max_in_flight`.
    fn encode(self) -> String {
        format!("{}:{}", self.weight.max(1), self.max_in_flight)
    }
}

/// The policy of each plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fairness {
    pub free: OrgPolicy,
    pub pro: OrgPolicy,
    pub unlimited: OrgPolicy,
}

impl Fairness {
    /// Every organisation alike, uncapped (tests and benches).
    pub const EVEN: Fairness = Fairness {
        free: OrgPolicy::EVEN,
        pro: OrgPolicy::EVEN,
        unlimited: OrgPolicy::EVEN,
    };

    pub fn of(&self, plan: Plan) -> OrgPolicy {
        match plan {
            Plan::Free => self.free,
            Plan::Pro => self.pro,
            Plan::Unlimited => self.unlimited,
        }
    }
}

impl Default for Fairness {
    fn default() -> Self {
        Fairness::EVEN
    }
}

/// Where a thumbnail stands in the queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Standing {
    /// Waiting for its turn: `position` is 1 for the next of its
    /// organisation's thumbnails to be dispatched.
    Waiting { position: u64 },
    /// Dispatched: a worker holds it or is about to take it.
    Dispatched,
    /// The queue has no job for it.
    Absent,
}

/// One organisation's waiting thumbnails, for metrics.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WaitingByOrg {
    pub org_id: String,
    pub waiting: u64,
    /// When the longest-waiting of them was pushed (Unix ms).
    pub oldest_enqueued_ms: i64,
}

#[derive(Debug, thiserror::Error)]
pub enum QueueError {
    #[error("queue: {0}")]
    Sqlite(#[from] apalis_sqlite::Error),
    #[error("queue database: {0}")]
    Sql(#[from] sqlx::Error),
    #[error("redis: {0}")]
    Redis(#[from] redis::RedisError),
    #[error("redis did not answer within {0:?}")]
    Timeout(Duration),
    #[error("encoding job: {0}")]
    Encode(#[from] serde_json::Error),
    /// One failure shared by every operation of a batch.
    #[error("{0}")]
    Shared(std::sync::Arc<QueueError>),
    #[error("the queue's batcher stopped")]
    Stopped,
}

/// Where the queue lives.
#[derive(Debug, Clone)]
pub enum QueueTarget {
    /// The embedded default: apalis-sqlite on its own file.
    Sqlite { path: PathBuf },
    /// Production: Redis Streams under `{prefix}`-tagged keys.
    Redis {
        url: String,
        prefix: String,
        /// Undelivered entries a push or an acknowledgement tops a lane's
        /// stream up to (`queue.lookahead`).
        lookahead: usize,
    },
}

/// A handle to the queue, cheap to clone. The API pushes through it; the
/// worker runtime asks it for the backend-specific consumer.
#[derive(Debug, Clone)]
pub enum JobQueue {
    Sqlite(SqliteQueue),
    Redis(RedisQueue),
}

impl JobQueue {
    pub async fn open(
        target: &QueueTarget,
        max_attempts: usize,
        fairness: Fairness,
    ) -> Result<JobQueue, QueueError> {
        Ok(match target {
            QueueTarget::Sqlite { path } => {
                JobQueue::Sqlite(SqliteQueue::open(path, max_attempts, fairness).await?)
            }
            QueueTarget::Redis {
                url,
                prefix,
                lookahead,
            } => JobQueue::Redis(
                RedisQueue::connect(url, prefix)
                    .await?
                    .with_fairness(fairness)
                    .with_lookahead(*lookahead),
            ),
        })
    }

    /// The plans' policies this queue dispatches by.
    pub fn fairness(&self) -> Fairness {
        match self {
            JobQueue::Sqlite(q) => q.fairness(),
            JobQueue::Redis(q) => q.fairness(),
        }
    }

    /// Thumbnails of `org_id` waiting for their turn (not yet dispatched),
    /// for the queue-length limit.
    pub async fn waiting(&self, org_id: &str) -> Result<u64, QueueError> {
        match self {
            JobQueue::Sqlite(q) => q.waiting(org_id).await,
            JobQueue::Redis(q) => q.waiting(org_id).await,
        }
    }

    /// Records where the provider has a thumbnail's call (`None` clears
    /// it), for the record to show. Kept for 15 minutes at most.
    pub async fn set_provider_stage(
        &self,
        thumbnail_id: &str,
        stage: Option<ProviderStage>,
    ) -> Result<(), QueueError> {
        match self {
            JobQueue::Sqlite(q) => q.set_provider_stage(thumbnail_id, stage).await,
            JobQueue::Redis(q) => q.set_provider_stage(thumbnail_id, stage).await,
        }
    }

    /// Where the providers have these thumbnails' calls, where they said.
    pub async fn provider_stages(
        &self,
        thumbnail_ids: &[String],
    ) -> Result<Vec<Option<ProviderStage>>, QueueError> {
        if thumbnail_ids.is_empty() {
            return Ok(Vec::new());
        }
        match self {
            JobQueue::Sqlite(q) => q.provider_stages(thumbnail_ids).await,
            JobQueue::Redis(q) => q.provider_stages(thumbnail_ids).await,
        }
    }

    /// Each organisation with thumbnails waiting for their turn.
    pub async fn waiting_by_org(&self) -> Result<Vec<WaitingByOrg>, QueueError> {
        match self {
            JobQueue::Sqlite(q) => q.waiting_by_org().await,
            JobQueue::Redis(q) => q.waiting_by_org().await,
        }
    }

    /// Where each of these thumbnails stands.
    pub async fn standings(&self, thumbnail_ids: &[String]) -> Result<Vec<Standing>, QueueError> {
        if thumbnail_ids.is_empty() {
            return Ok(Vec::new());
        }
        match self {
            JobQueue::Sqlite(q) => q.standings(thumbnail_ids).await,
            JobQueue::Redis(q) => q.standings(thumbnail_ids).await,
        }
    }

    /// `sqlite` or `redis`, for logs and health output.
    pub fn kind(&self) -> &'static str {
        match self {
            JobQueue::Sqlite(_) => "sqlite",
            JobQueue::Redis(_) => "redis",
        }
    }

    /// Pushes jobs, each to its lane. `attempt` is the thumbnail's claim
    /// count when the job is (re-)enqueued. A thumbnail whose job is already
    /// queued (in either lane) is not queued twice.
    pub async fn enqueue(&self, jobs: &[(RenderThumbnail, i32)]) -> Result<(), QueueError> {
        match self {
            JobQueue::Sqlite(q) => q.enqueue(jobs).await,
            JobQueue::Redis(q) => q.enqueue(jobs).await,
        }
    }

    /// Of these thumbnails, the ones with no job waiting or running: the
    /// sweeper re-enqueues them (a Redis flush, a lost queue file).
    pub async fn missing(&self, thumbnail_ids: &[String]) -> Result<Vec<String>, QueueError> {
        match self {
            JobQueue::Sqlite(q) => q.missing(thumbnail_ids).await,
            JobQueue::Redis(q) => q.missing(thumbnail_ids).await,
        }
    }

    /// Recounts each organisation's thumbnails in flight from what the
    /// queue holds (Redis; the embedded worker counts in process).
    pub async fn reconcile(&self) -> Result<(), QueueError> {
        match self {
            JobQueue::Sqlite(_) => Ok(()),
            JobQueue::Redis(q) => q.reconcile().await.map(|_| ()),
        }
    }

    /// A cheap round trip, for readiness checks.
    pub async fn ping(&self) -> Result<(), QueueError> {
        match self {
            JobQueue::Sqlite(q) => q.ping().await,
            JobQueue::Redis(q) => q.ping().await,
        }
    }

    /// Jobs waiting or running in both lanes, for metrics and operators.
    pub async fn depth(&self) -> Result<i64, QueueError> {
        match self {
            JobQueue::Sqlite(q) => q.depth().await,
            JobQueue::Redis(q) => q.depth().await,
        }
    }

    /// Jobs a worker holds right now, where the queue can tell (Redis:
    /// delivered and not yet acknowledged).
    pub async fn in_flight(&self) -> Result<Option<i64>, QueueError> {
        match self {
            JobQueue::Sqlite(_) => Ok(None),
            JobQueue::Redis(q) => q.in_flight().await.map(Some),
        }
    }

    pub async fn close(&self) {
        if let JobQueue::Sqlite(q) = self {
            q.close().await
        }
    }
}
