//! The production queue: one Redis Stream and one consumer group.
//!
//! Why not apalis-redis: see `docs/queue.md`. In short, its fetch fails for
//! good once about 8,000 jobs are due, it finds new jobs by polling, its
//! orphan window is minutes, and its keys break Redis Cluster. apalis stays
//! the worker framework; this module is the part underneath it.
//!
//! * Keys are a stream per lane, `{prefix}:render` (remote) and
//!   `{prefix}:render-cpu`, and `{prefix}:live` (a hash thumbnail id →
//!   entry id over both, so "is this thumbnail queued?" is one HMGET). The
//!   braces are a hash tag: every key lands in one Cluster slot.
//! * Pushed jobs wait in their organisation's list and move into the
//!   stream as workers can take them, fairly (`fair.rs`).
//! * Workers read with `XREADGROUP … BLOCK`, so an idle worker wakes the
//!   moment a job is added and costs Redis one call per second otherwise.
//! * A delivered entry stays in the group's pending list until the job ends
//!   (`XACK` + `XDEL`). Each worker refreshes the idle time of what it holds
//!   every heartbeat (`XCLAIM … JUSTID`); entries idle past `claim_idle` (a
//!   worker died) are taken over by any worker with `XAUTOCLAIM`.
//! * A stopping worker hands back what it holds by marking it idle, so the
//!   others take it over within a second.

use std::{
    collections::{HashSet, VecDeque},
    future::Future,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use apalis_core::{
    backend::custom::{BackendBuilder, CustomBackend},
    error::BoxDynError,
    task::Task,
    worker::context::WorkerContext,
};
use futures::{
    SinkExt,
    stream::{self, BoxStream, StreamExt},
};
use redis::{
    AsyncCommands, AsyncConnectionConfig, Script, ScriptInvocation,
    aio::{ConnectionManagerConfig, MultiplexedConnection},
    streams::{StreamAutoClaimReply, StreamId, StreamReadReply},
};
use tokio::sync::{mpsc, oneshot};
use tracing::{debug, error, info, warn};

use thumbforge_core::progress::ProviderStage;

use crate::{
    Fairness, Lane, QueueError, RenderThumbnail, Standing, WaitingByOrg,
    fair::{self, LOOKAHEAD},
};

const GROUP: &str = "workers";
/// Longest any single command from the API or the heartbeat may take.
const OP_TIMEOUT: Duration = Duration::from_secs(3);

/// Acknowledgements of one process in flight at once, and the most one
/// script call carries: jobs that end together share one round trip.
const ACK_RUNNERS: usize = 2;
const ACK_BATCH: usize = 64;

struct AckOp {
    entry_id: String,
    thumbnail_id: String,
    org_id: String,
    reply: oneshot::Sender<Result<(), QueueError>>,
}

/// Forgets consumers that hold nothing and have not been seen for a while.
const PRUNE: &str = r"
local cs = redis.call('XINFO', 'CONSUMERS', KEYS[1], ARGV[1])
local n = 0
for _, c in ipairs(cs) do
  local name, pending, idle
  for i = 1, #c, 2 do
    if c[i] == 'name' then name = c[i + 1]
    elseif c[i] == 'pending' then pending = c[i + 1]
    elseif c[i] == 'idle' then idle = c[i + 1] end
  end
  if pending == 0 and idle > tonumber(ARGV[2]) then
    redis.call('XGROUP', 'DELCONSUMER', KEYS[1], ARGV[1], name)
    n = n + 1
  end
end
return n
";

#[derive(Debug)]
struct Keys {
    lane: Lane,
    /// This handle's lane's stream; its waiting lists are named after it
    /// (see `fair.rs`).
    stream: String,
    /// The other lane's stream.
    other: String,
    live: String,
    /// Org → thumbnails in flight (in a stream, not yet acknowledged).
    inflight: String,
    /// Org → `weight:max_in_flight`, as last pushed.
    orgs: String,
    /// `{lane}|{org}` → jobs pushed, and moved into the stream.
    seq: String,
    served: String,
    prefix: String,
}

fn stream_key(prefix: &str, lane: Lane) -> String {
    match lane {
        Lane::Remote => format!("{{{prefix}}}:render"),
        Lane::Cpu => format!("{{{prefix}}}:render-cpu"),
    }
}

impl Keys {
    fn new(prefix: &str, lane: Lane) -> Keys {
        Keys {
            lane,
            stream: stream_key(prefix, lane),
            other: stream_key(prefix, lane.other()),
            live: format!("{{{prefix}}}:live"),
            inflight: format!("{{{prefix}}}:inflight"),
            orgs: format!("{{{prefix}}}:orgs"),
            seq: format!("{{{prefix}}}:seq"),
            served: format!("{{{prefix}}}:served"),
            prefix: prefix.to_owned(),
        }
    }

    /// The lane's streams in the order the scripts number them.
    fn streams(&self) -> [String; 2] {
        [
            stream_key(&self.prefix, Lane::Remote),
            stream_key(&self.prefix, Lane::Cpu),
        ]
    }

    /// A fair-dispatch script over this lane: KEYS stream, live, inflight,
    /// orgs, served (`fair.rs` numbers them so).
    fn lane_script<'a>(&self, script: &'a Script) -> ScriptInvocation<'a> {
        let mut invocation = script.key(&self.stream);
        invocation
            .key(&self.live)
            .key(&self.inflight)
            .key(&self.orgs)
            .key(&self.served);
        invocation
    }

    /// A fair-dispatch script over both lanes: KEYS remote stream, CPU
    /// stream, live, inflight, orgs, served.
    fn both_lanes_script<'a>(&self, script: &'a Script) -> ScriptInvocation<'a> {
        let [remote, cpu] = self.streams();
        let mut invocation = script.key(remote);
        invocation
            .key(cpu)
            .key(&self.live)
            .key(&self.inflight)
            .key(&self.orgs)
            .key(&self.served);
        invocation
    }
}

/// The producer side and shared handle; [`RedisQueue::lane`] gives the
/// handle a consumer reads one lane through.
#[derive(Clone)]
pub struct RedisQueue {
    conn: crate::RedisConn,
    keys: Arc<Keys>,
    fairness: Fairness,
    /// Undelivered entries a push or an acknowledgement tops a stream up to.
    lookahead: usize,
}

impl std::fmt::Debug for RedisQueue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisQueue")
            .field("keys", &self.keys)
            .finish()
    }
}

async fn timed<T>(
    fut: impl Future<Output = Result<T, redis::RedisError>>,
) -> Result<T, QueueError> {
    match tokio::time::timeout(OP_TIMEOUT, fut).await {
        Ok(r) => Ok(r?),
        Err(_) => Err(QueueError::Timeout(OP_TIMEOUT)),
    }
}

impl RedisQueue {
    /// Connects and creates the consumer group when missing. `prefix` names
    /// this deployment's keys; tests use one prefix each.
    pub async fn connect(url: &str, prefix: &str) -> Result<RedisQueue, QueueError> {
        let prefix: String = prefix.chars().filter(|c| !matches!(c, '{' | '}')).collect();
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(OP_TIMEOUT))
            .set_response_timeout(Some(OP_TIMEOUT))
            .set_number_of_retries(2)
            .set_max_delay(Duration::from_secs(1));
        let conn = timed(crate::RedisConn::open(url, config, false)).await?;
        let queue = RedisQueue {
            conn,
            keys: Arc::new(Keys::new(&prefix, Lane::Remote)),
            fairness: Fairness::EVEN,
            lookahead: LOOKAHEAD,
        };
        let mut conn = queue.conn.clone();
        for lane in Lane::ALL {
            ensure_group(&mut conn, &queue.lane(lane).keys.stream).await?;
        }
        Ok(queue)
    }

    /// Provider capacity kept beside this queue's keys; `process` names
    /// this process's slot holders.
    pub fn capacity(&self, process: &str) -> crate::RedisCapacity {
        crate::RedisCapacity::new(self.conn.clone(), &self.keys.prefix, process)
    }

    /// The same queue, reading and acknowledging `lane`'s stream.
    pub fn lane(&self, lane: Lane) -> RedisQueue {
        RedisQueue {
            keys: Arc::new(Keys::new(&self.keys.prefix, lane)),
            ..self.clone()
        }
    }

    /// The same queue, dispatching by the plans' `fairness`.
    pub fn with_fairness(self, fairness: Fairness) -> RedisQueue {
        RedisQueue { fairness, ..self }
    }

    pub fn fairness(&self) -> Fairness {
        self.fairness
    }

    /// The name this deployment's keys carry (`{prefix}:render`, …).
    pub fn prefix(&self) -> &str {
        &self.keys.prefix
    }

    /// The same queue with another lookahead (tests: 1 makes the schedule
    /// exactly what workers read).
    pub fn with_lookahead(self, lookahead: usize) -> RedisQueue {
        RedisQueue { lookahead, ..self }
    }

    /// Pushes jobs to their organisations' waiting lists (one script call),
    /// and moves what the workers can take into the lanes' streams.
    pub async fn enqueue(&self, jobs: &[(RenderThumbnail, i32)]) -> Result<(), QueueError> {
        if jobs.is_empty() {
            return Ok(());
        }
        let mut invocation = self.keys.both_lanes_script(&fair::ENQUEUE);
        invocation.key(&self.keys.seq).arg(self.lookahead);
        for (job, _) in jobs {
            let lane = match job.lane {
                Lane::Remote => 1,
                Lane::Cpu => 2,
            };
            let policy = job
                .plan
                .map(|plan| self.fairness.of(plan).encode())
                .unwrap_or_default();
            invocation
                .arg(lane)
                .arg(&job.thumbnail_id)
                .arg(&job.org_id)
                .arg(policy)
                .arg(if job.sync { "1" } else { "0" })
                .arg(serde_json::to_vec(job)?);
        }
        let mut conn = self.conn.clone();
        let _added: i64 = timed(invocation.invoke_async(&mut conn)).await?;
        Ok(())
    }

    /// Thumbnails of `org_id` waiting in either lane.
    pub async fn waiting(&self, org_id: &str) -> Result<u64, QueueError> {
        let mut pipe = redis::pipe();
        for stream in self.keys.streams() {
            pipe.cmd("LLEN").arg(format!("{stream}:wait:{org_id}"));
        }
        let mut conn = self.conn.clone();
        let counts: Vec<u64> = timed(pipe.query_async(&mut conn)).await?;
        Ok(counts.iter().sum())
    }

    pub async fn standings(&self, thumbnail_ids: &[String]) -> Result<Vec<Standing>, QueueError> {
        let mut invocation = fair::STANDINGS.key(&self.keys.live);
        invocation.key(&self.keys.served).arg(thumbnail_ids);
        let mut conn = self.conn.clone();
        let out: Vec<i64> = timed(invocation.invoke_async(&mut conn)).await?;
        Ok(out
            .into_iter()
            .map(|n| match n {
                -1 => Standing::Absent,
                0 => Standing::Dispatched,
                n => Standing::Waiting { position: n as u64 },
            })
            .collect())
    }

    pub async fn waiting_by_org(&self) -> Result<Vec<WaitingByOrg>, QueueError> {
        let mut by_org: std::collections::BTreeMap<String, WaitingByOrg> = Default::default();
        for stream in self.keys.streams() {
            let mut conn = self.conn.clone();
            let flat: Vec<redis::Value> =
                timed(fair::WAITING_BY_ORG.key(stream).invoke_async(&mut conn)).await?;
            for triple in flat.chunks_exact(3) {
                let (redis::Value::BulkString(org), redis::Value::Int(n), redis::Value::Int(at)) =
                    (&triple[0], &triple[1], &triple[2])
                else {
                    continue;
                };
                let org_id = String::from_utf8_lossy(org).into_owned();
                let entry = by_org.entry(org_id.clone()).or_insert(WaitingByOrg {
                    org_id,
                    waiting: 0,
                    oldest_enqueued_ms: *at,
                });
                entry.waiting += *n as u64;
                entry.oldest_enqueued_ms = entry.oldest_enqueued_ms.min(*at);
            }
        }
        Ok(by_org.into_values().collect())
    }

    /// Thumbnails of `lane` running or able to start now (capped
    /// organisations' waiting work left out): divided by one worker's
    /// slots, the workers wanted. What the autoscaler scales on.
    pub async fn demand(&self, lane: Lane) -> Result<u64, QueueError> {
        let mut conn = self.conn.clone();
        let n: i64 = timed(
            fair::DEMAND
                .key(stream_key(&self.keys.prefix, lane))
                .invoke_async(&mut conn),
        )
        .await?;
        Ok(n.max(0) as u64)
    }

    fn stage_key(&self, thumbnail_id: &str) -> String {
        format!("{{{}}}:progress:{thumbnail_id}", self.keys.prefix)
    }

    pub async fn set_provider_stage(
        &self,
        thumbnail_id: &str,
        stage: Option<ProviderStage>,
    ) -> Result<(), QueueError> {
        let key = self.stage_key(thumbnail_id);
        let cmd = match stage {
            Some(stage) => {
                let mut cmd = redis::cmd("SET");
                cmd.arg(&key)
                    .arg(stage.encode())
                    .arg("EX")
                    .arg(crate::PROVIDER_STAGE_TTL_SECS);
                cmd
            }
            None => {
                let mut cmd = redis::cmd("DEL");
                cmd.arg(&key);
                cmd
            }
        };
        let mut conn = self.conn.clone();
        let _: redis::Value = timed(cmd.query_async(&mut conn)).await?;
        Ok(())
    }

    pub async fn provider_stages(
        &self,
        thumbnail_ids: &[String],
    ) -> Result<Vec<Option<ProviderStage>>, QueueError> {
        let keys: Vec<String> = thumbnail_ids.iter().map(|id| self.stage_key(id)).collect();
        let mut conn = self.conn.clone();
        let values: Vec<Option<String>> =
            timed(redis::cmd("MGET").arg(&keys).query_async(&mut conn)).await?;
        Ok(values
            .iter()
            .map(|v| v.as_deref().and_then(ProviderStage::decode))
            .collect())
    }

    /// Recounts each organisation's thumbnails in flight from the streams
    /// (the sweeper, now and then). Returns the count.
    pub async fn reconcile(&self) -> Result<u64, QueueError> {
        let mut invocation = self.keys.both_lanes_script(&fair::RECONCILE);
        invocation.arg(self.lookahead);
        let mut conn = self.conn.clone();
        let n: i64 = timed(invocation.invoke_async(&mut conn)).await?;
        Ok(n.max(0) as u64)
    }

    pub async fn missing(&self, thumbnail_ids: &[String]) -> Result<Vec<String>, QueueError> {
        if thumbnail_ids.is_empty() {
            return Ok(Vec::new());
        }
        let mut conn = self.conn.clone();
        let entries: Vec<Option<String>> = timed(
            redis::cmd("HMGET")
                .arg(&self.keys.live)
                .arg(thumbnail_ids)
                .query_async(&mut conn),
        )
        .await?;
        Ok(thumbnail_ids
            .iter()
            .zip(entries)
            .filter(|(_, entry)| entry.is_none())
            .map(|(id, _)| id.clone())
            .collect())
    }

    pub async fn ping(&self) -> Result<(), QueueError> {
        let mut conn = self.conn.clone();
        let _: String = timed(redis::cmd("PING").query_async(&mut conn)).await?;
        Ok(())
    }

    /// Jobs of both lanes waiting for their turn, in the streams or
    /// running.
    pub async fn depth(&self) -> Result<i64, QueueError> {
        let mut pipe = redis::pipe();
        for stream in self.keys.streams() {
            pipe.cmd("XLEN").arg(&stream);
            pipe.cmd("GET").arg(format!("{stream}:waiting"));
        }
        let mut conn = self.conn.clone();
        let counts: Vec<Option<i64>> = timed(pipe.query_async(&mut conn)).await?;
        Ok(counts.into_iter().flatten().map(|n| n.max(0)).sum())
    }

    /// Entries of both lanes delivered to a worker and not yet finished.
    pub async fn in_flight(&self) -> Result<i64, QueueError> {
        let mut total = 0;
        for lane in Lane::ALL {
            let mut conn = self.conn.clone();
            let summary: redis::Value = timed(
                redis::cmd("XPENDING")
                    .arg(&self.lane(lane).keys.stream)
                    .arg(GROUP)
                    .query_async(&mut conn),
            )
            .await?;
            if let redis::Value::Array(items) = summary
                && let Some(redis::Value::Int(n)) = items.first()
            {
                total += *n;
            }
        }
        Ok(total)
    }

    /// Deletes every key of this queue (tests and drills only).
    pub async fn destroy(&self) -> Result<(), QueueError> {
        let mut conn = self.conn.clone();
        let pattern = format!("{{{}}}:*", self.keys.prefix);
        let keys: Vec<String> = {
            let mut iter: redis::AsyncIter<String> = timed(conn.scan_match(&pattern)).await?;
            let mut keys = Vec::new();
            while let Some(key) = iter.next_item().await {
                keys.push(key?);
            }
            keys
        };
        for chunk in keys.chunks(500) {
            let _: i64 = timed(redis::cmd("DEL").arg(chunk).query_async(&mut conn)).await?;
        }
        Ok(())
    }
}

/// One script call for a batch of acknowledgements; a failure is every
/// op's failure (the entries stay pending, go idle and are delivered
/// again, and a job that finds its thumbnail terminal does nothing).
async fn ack_batch(queue: &RedisQueue, ops: Vec<AckOp>) {
    let keys = &queue.keys;
    let mut invocation = keys.lane_script(&fair::ACK);
    invocation
        .key(&keys.other)
        .arg(queue.lookahead)
        .arg(keys.lane.as_str())
        .arg(keys.lane.other().as_str());
    for op in &ops {
        invocation
            .arg(&op.entry_id)
            .arg(&op.thumbnail_id)
            .arg(&op.org_id);
    }
    let mut conn = queue.conn.clone();
    let result: Result<i64, _> = timed(invocation.invoke_async(&mut conn)).await;
    let result = result.map(|_| ()).map_err(Arc::new);
    for op in ops {
        let _ = op.reply.send(result.clone().map_err(QueueError::Shared));
    }
}

async fn ensure_group<C: redis::aio::ConnectionLike + Send>(
    conn: &mut C,
    stream: &str,
) -> Result<(), QueueError> {
    let created: Result<String, QueueError> = timed(
        redis::cmd("XGROUP")
            .arg("CREATE")
            .arg(stream)
            .arg(GROUP)
            .arg("0")
            .arg("MKSTREAM")
            .query_async(conn),
    )
    .await;
    match created {
        Err(QueueError::Redis(e)) if e.code() == Some("BUSYGROUP") => Ok(()),
        other => other.map(|_| ()),
    }
}

/// One job handed to this worker, with the stream entry to acknowledge.
#[derive(Debug, Clone)]
pub struct Delivery {
    pub entry_id: String,
    pub job: RenderThumbnail,
    /// How many times the entry has been delivered (1 = first time).
    pub delivered: usize,
}

/// How a worker process reads the stream.
#[derive(Debug, Clone)]
pub struct ConsumerSettings {
    /// Entries read per call; at most the worker's concurrency is sensible.
    pub batch: usize,
    /// How long one blocking read waits before checking for orphans.
    pub block: Duration,
    /// An entry no worker has touched for this long belongs to a dead
    /// worker and is taken over.
    pub claim_idle: Duration,
    /// How often a worker refreshes the idle time of what it holds.
    pub heartbeat: Duration,
}

type Fetch = futures::stream::Map<
    BoxStream<'static, Delivery>,
    fn(Delivery) -> Result<Option<Task<Delivery>>, BoxDynError>,
>;
type Discard = futures::sink::SinkMapErr<
    futures::sink::Drain<Task<Delivery>>,
    fn(std::convert::Infallible) -> BoxDynError,
>;

/// The apalis backend over a consumer: tasks come from `deliveries()`;
/// pushing goes through `RedisQueue::enqueue`, so the sink discards.
pub type RedisBackend = CustomBackend<Delivery, RedisConsumer, Fetch, Discard>;

fn to_task(delivery: Delivery) -> Result<Option<Task<Delivery>>, BoxDynError> {
    Ok(Some(Task::new(delivery)))
}

fn never(e: std::convert::Infallible) -> BoxDynError {
    match e {}
}

/// The consumer side for one worker process start, under a unique name.
#[derive(Clone)]
pub struct RedisConsumer {
    queue: RedisQueue,
    name: String,
    settings: ConsumerSettings,
    held: Arc<Mutex<HashSet<String>>>,
    acks: mpsc::Sender<AckOp>,
}

impl std::fmt::Debug for RedisConsumer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisConsumer")
            .field("name", &self.name)
            .finish()
    }
}

impl RedisConsumer {
    /// Starts the acknowledgement batcher on the current Tokio runtime.
    /// The consumer reads the lane of `queue` (see [`RedisQueue::lane`]).
    pub fn new(queue: RedisQueue, name: String, settings: ConsumerSettings) -> RedisConsumer {
        let (acks, rx) = mpsc::channel(1024);
        let ack_queue = queue.clone();
        tokio::spawn(thumbforge_core::batch::dispatch(
            rx,
            ACK_RUNNERS,
            ACK_BATCH,
            move |ops| {
                let queue = ack_queue.clone();
                async move { ack_batch(&queue, ops).await }
            },
        ));
        RedisConsumer {
            queue,
            name,
            settings,
            held: Arc::default(),
            acks,
        }
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// This consumer as an apalis backend, for `WorkerBuilder::backend`.
    pub fn backend(&self) -> RedisBackend {
        BackendBuilder::new()
            .database(self.clone())
            .fetcher(|consumer: &mut RedisConsumer, _: &(), _: &WorkerContext| {
                consumer.deliveries().map(to_task as _)
            })
            .sink(|_: &mut RedisConsumer, _: &()| futures::sink::drain().sink_map_err(never as _))
            .build()
            .expect("the backend has a database, fetcher and sink")
    }

    fn hold(&self, id: &str) {
        if let Ok(mut held) = self.held.lock() {
            held.insert(id.to_owned());
        }
    }

    fn forget(&self, id: &str) {
        if let Ok(mut held) = self.held.lock() {
            held.remove(id);
        }
    }

    fn held(&self) -> Vec<String> {
        self.held
            .lock()
            .map(|h| h.iter().cloned().collect())
            .unwrap_or_default()
    }

    /// An endless stream of deliveries. Redis errors never end it: it logs,
    /// backs off (50 ms doubling to 5 s), reconnects and carries on.
    pub fn deliveries(&self) -> BoxStream<'static, Delivery> {
        let state = Fetcher {
            consumer: self.clone(),
            conn: None,
            buffer: VecDeque::new(),
            next_reclaim: Instant::now(),
            next_prune: Instant::now() + Duration::from_secs(60),
            cursor: "0-0".to_owned(),
            backoff: Duration::from_millis(50),
        };
        stream::unfold(state, |mut state| async move {
            let delivery = state.next().await;
            Some((delivery, state))
        })
        .boxed()
    }

    /// The job ended (succeeded, failed for good, or had nothing to do).
    /// Batched with the acknowledgements of other jobs of this process
    /// that end meanwhile: one script call for all of them.
    pub async fn ack(&self, delivery: &Delivery) -> Result<(), QueueError> {
        let (reply, answer) = oneshot::channel();
        let op = AckOp {
            entry_id: delivery.entry_id.clone(),
            thumbnail_id: delivery.job.thumbnail_id.clone(),
            org_id: delivery.job.org_id.clone(),
            reply,
        };
        let result = match self.acks.send(op).await {
            Ok(()) => answer.await.unwrap_or(Err(QueueError::Stopped)),
            Err(_) => Err(QueueError::Stopped),
        };
        self.forget(&delivery.entry_id);
        result
    }

    /// The job hit an infrastructure error: stop refreshing the entry, so it
    /// goes idle and is delivered again after `claim_idle`.
    pub fn release(&self, delivery: &Delivery) {
        self.forget(&delivery.entry_id);
    }

    /// Refreshes the idle time of everything held, every `heartbeat`, until
    /// `stop` resolves.
    pub async fn heartbeat(&self, stop: impl Future<Output = ()>) {
        let mut tick = tokio::time::interval(self.settings.heartbeat);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        tokio::pin!(stop);
        loop {
            tokio::select! {
                () = &mut stop => return,
                _ = tick.tick() => {}
            }
            let ids = self.held();
            if ids.is_empty() {
                continue;
            }
            if let Err(e) = self.claim_ids(&ids, None).await {
                warn!(error = %e, held = ids.len(), "queue heartbeat failed");
            }
        }
    }

    /// `XCLAIM` the ids to this consumer with `JUSTID`; with `idle`, the
    /// entries are marked that idle (handing them back).
    async fn claim_ids(&self, ids: &[String], idle: Option<Duration>) -> Result<(), QueueError> {
        let mut cmd = redis::cmd("XCLAIM");
        cmd.arg(&self.queue.keys.stream)
            .arg(GROUP)
            .arg(&self.name)
            .arg(0)
            .arg(ids);
        if let Some(idle) = idle {
            cmd.arg("IDLE").arg(idle.as_millis() as u64);
        }
        cmd.arg("JUSTID");
        let mut conn = self.queue.conn.clone();
        let _: Vec<String> = timed(cmd.query_async(&mut conn)).await?;
        Ok(())
    }

    /// Hands back everything still held (read ahead but not started, or
    /// still running when the grace period ran out): any other worker's
    /// next orphan check takes it over.
    pub async fn hand_back(&self) -> Result<usize, QueueError> {
        let ids = self.held();
        if ids.is_empty() {
            return Ok(0);
        }
        let idle = self.settings.claim_idle + Duration::from_secs(1);
        self.claim_ids(&ids, Some(idle)).await?;
        if let Ok(mut held) = self.held.lock() {
            held.clear();
        }
        info!(count = ids.len(), "handed back held jobs");
        Ok(ids.len())
    }
}

struct Fetcher {
    consumer: RedisConsumer,
    conn: Option<MultiplexedConnection>,
    buffer: VecDeque<Delivery>,
    next_reclaim: Instant,
    next_prune: Instant,
    cursor: String,
    backoff: Duration,
}

impl Fetcher {
    async fn next(&mut self) -> Delivery {
        loop {
            if let Some(delivery) = self.buffer.pop_front() {
                return delivery;
            }
            match self.fill().await {
                Ok(()) => self.backoff = Duration::from_millis(50),
                Err(e) => {
                    warn!(error = %e, retry_in_ms = self.backoff.as_millis() as u64,
                        "reading the queue failed; reconnecting");
                    self.conn = None;
                    // Its connection is its own: let the shared handle learn
                    // whether the primary moved.
                    self.consumer.queue.conn.recheck().await;
                    tokio::time::sleep(self.backoff).await;
                    self.backoff = (self.backoff * 2).min(Duration::from_secs(5));
                }
            }
        }
    }

    async fn connection(&mut self) -> Result<MultiplexedConnection, QueueError> {
        if let Some(conn) = &self.conn {
            return Ok(conn.clone());
        }
        // A connection of its own: a blocking read holds it for `block`.
        let config = AsyncConnectionConfig::new()
            .set_connection_timeout(Some(OP_TIMEOUT))
            .set_response_timeout(Some(self.consumer.settings.block + OP_TIMEOUT));
        let conn = timed(
            self.consumer
                .queue
                .conn
                .client()
                .get_multiplexed_async_connection_with_config(&config),
        )
        .await?;
        self.conn = Some(conn.clone());
        Ok(conn)
    }

    async fn fill(&mut self) -> Result<(), QueueError> {
        let mut conn = self.connection().await?;
        let settings = self.consumer.settings.clone();
        let keys = self.consumer.queue.keys.clone();
        if Instant::now() >= self.next_reclaim {
            self.next_reclaim = Instant::now() + Duration::from_secs(1);
            let reply: Result<StreamAutoClaimReply, _> = redis::cmd("XAUTOCLAIM")
                .arg(&keys.stream)
                .arg(GROUP)
                .arg(&self.consumer.name)
                .arg(settings.claim_idle.as_millis() as u64)
                .arg(&self.cursor)
                .arg("COUNT")
                .arg(settings.batch)
                .query_async(&mut conn)
                .await;
            match reply {
                Ok(reply) => {
                    self.cursor = reply.next_stream_id;
                    if !reply.claimed.is_empty() {
                        info!(
                            count = reply.claimed.len(),
                            "took over jobs from a silent worker"
                        );
                    }
                    for entry in reply.claimed {
                        self.accept(entry, true).await;
                    }
                }
                Err(e) if e.code() == Some("NOGROUP") => {
                    ensure_group(&mut conn, &keys.stream).await?;
                }
                Err(e) => return Err(e.into()),
            }
            if Instant::now() >= self.next_prune {
                self.next_prune = Instant::now() + Duration::from_secs(300);
                let pruned: Result<i64, _> = Script::new(PRUNE)
                    .key(&keys.stream)
                    .arg(GROUP)
                    .arg(3_600_000)
                    .invoke_async(&mut conn)
                    .await;
                match pruned {
                    Ok(n) if n > 0 => debug!(n, "forgot idle queue consumers"),
                    Ok(_) => {}
                    Err(e) => debug!(error = %e, "pruning consumers failed"),
                }
            }
            if !self.buffer.is_empty() {
                return Ok(());
            }
        }
        // Fair dispatch: move the next jobs due into the stream first.
        let _moved: i64 = keys
            .lane_script(&fair::PROMOTE)
            .arg(settings.batch)
            .arg(keys.lane.as_str())
            .invoke_async(&mut conn)
            .await?;
        let reply: Result<Option<StreamReadReply>, _> = redis::cmd("XREADGROUP")
            .arg("GROUP")
            .arg(GROUP)
            .arg(&self.consumer.name)
            .arg("COUNT")
            .arg(settings.batch)
            .arg("BLOCK")
            .arg(settings.block.as_millis() as u64)
            .arg("STREAMS")
            .arg(&keys.stream)
            .arg(">")
            .query_async(&mut conn)
            .await;
        match reply {
            Ok(Some(reply)) => {
                for key in reply.keys {
                    for entry in key.ids {
                        self.accept(entry, false).await;
                    }
                }
                Ok(())
            }
            Ok(None) => Ok(()),
            Err(e) if e.code() == Some("NOGROUP") => {
                info!("queue group missing (Redis restarted or flushed); creating it");
                ensure_group(&mut conn, &keys.stream).await
            }
            Err(e) => Err(e.into()),
        }
    }

    async fn accept(&mut self, entry: StreamId, reclaimed: bool) {
        let payload: Option<Vec<u8>> = entry.get("job");
        let job = payload.and_then(|p| serde_json::from_slice::<RenderThumbnail>(&p).ok());
        match job {
            Some(job) => {
                self.consumer.hold(&entry.id);
                self.buffer.push_back(Delivery {
                    entry_id: entry.id,
                    job,
                    delivered: entry
                        .delivered_count
                        .unwrap_or(if reclaimed { 2 } else { 1 }),
                });
            }
            None => {
                // Not ours to run: drop it rather than redeliver it forever
                // (deleted too, or it would count as lookahead for good).
                error!(entry = %entry.id, "dropping an unreadable queue entry");
                let mut conn = self.consumer.queue.conn.clone();
                let _: Result<(i64, i64), _> = timed(
                    redis::pipe()
                        .cmd("XACK")
                        .arg(&self.consumer.queue.keys.stream)
                        .arg(GROUP)
                        .arg(&entry.id)
                        .cmd("XDEL")
                        .arg(&self.consumer.queue.keys.stream)
                        .arg(&entry.id)
                        .query_async(&mut conn),
                )
                .await;
            }
        }
    }
}
