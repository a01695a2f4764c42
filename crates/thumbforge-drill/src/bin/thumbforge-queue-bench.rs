//! `thumbforge-queue-bench`: the Redis queue core alone, through apalis,
//! with a handler that only acknowledges. The numbers `docs/queue.md`
//! compares with BullMQ on the same Redis.
//!
//! 1. no-op throughput: `--jobs` pushed, then drained at `--concurrency`;
//! 2. pickup: an idle worker, one job at a time; time from the push call to
//!    the handler starting (both in this process, so one clock);
//! 3. backlog: `--backlog` jobs pushed, then drained; any worker restart is
//!    counted (apalis-redis 1.0.0 died at about 8,000 due jobs);
//! 4. with `--database`: queue plus the real status writes of a job (claim
//!    with lease, succeed, refresh the generation) on PostgreSQL, through
//!    the worker's batched `StatusWriter`, for `--jobs` thumbnails; only the
//!    model call and the PNG are left out.

use std::{
    collections::HashMap,
    sync::{
        Arc, Mutex,
        atomic::{AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};

use apalis::prelude::*;
use clap::Parser;
use thumbforge_queue::{ConsumerSettings, Delivery, RedisConsumer, RedisQueue, RenderThumbnail};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

/// The allocator of `thumbforge-worker`, whose path this measures.
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Debug, Parser)]
struct Args {
    #[arg(long, default_value = "redis://127.0.0.1:6379")]
    redis: String,
    #[arg(long, default_value_t = 20_000)]
    jobs: usize,
    #[arg(long, default_value_t = 50)]
    concurrency: usize,
    #[arg(long, default_value_t = 1_000)]
    pickup_samples: usize,
    #[arg(long, default_value_t = 100_000)]
    backlog: usize,
    /// A PostgreSQL URL for the status-writes measure (its tables are
    /// created by migration; rows are added).
    #[arg(long)]
    database: Option<String>,
    /// Only the status-writes measure (needs `--database`).
    #[arg(long)]
    writes_only: bool,
}

struct Ctx {
    consumer: RedisConsumer,
    writer: Option<thumbforge_db::batch::StatusWriter>,
    done: AtomicUsize,
    notify: Notify,
    pushed_at: Mutex<HashMap<String, Instant>>,
    pickups: Mutex<Vec<Duration>>,
    /// Microseconds spent waiting on claim, record and ack, over all jobs.
    spent_us: [std::sync::atomic::AtomicU64; 3],
}

impl Ctx {
    fn spent(&self, step: usize, since: Instant) -> Instant {
        let now = Instant::now();
        self.spent_us[step].fetch_add((now - since).as_micros() as u64, Ordering::Relaxed);
        now
    }
}

async fn noop(delivery: Delivery, ctx: Data<Arc<Ctx>>) -> Result<(), BoxDynError> {
    let started = Instant::now();
    if let Some(at) = ctx
        .pushed_at
        .lock()
        .expect("map")
        .remove(&delivery.job.thumbnail_id)
    {
        ctx.pickups.lock().expect("pickups").push(started - at);
    }
    if let Some(writer) = &ctx.writer {
        use thumbforge_db::lifecycle::{JobResult, Success};
        let lease = thumbforge_db::now_ms() + 60_000;
        let t = Instant::now();
        let claimed = writer.claim(&delivery.job.thumbnail_id, lease).await?;
        let t = ctx.spent(0, t);
        if let Some(job) = claimed {
            let success = Success {
                storage_key: "bench".to_owned(),
                watermarked_key: None,
                file_size_bytes: 1,
                clean_size_bytes: 1,
                width: 1280,
                height: 720,
                generation_time_ms: 0,
            };
            writer.record(&job, JobResult::Succeeded(success)).await?;
            ctx.spent(1, t);
        }
    }
    let t = Instant::now();
    ctx.consumer.ack(&delivery).await?;
    ctx.spent(2, t);
    ctx.done.fetch_add(1, Ordering::Relaxed);
    ctx.notify.notify_one();
    Ok(())
}

fn job(i: usize) -> (RenderThumbnail, i32) {
    (
        RenderThumbnail {
            thumbnail_id: format!("thm_bench{i}"),
            generation_id: "gen_bench".to_owned(),
            enqueued_at_ms: 0,
            ..Default::default()
        },
        0,
    )
}

async fn push(queue: &RedisQueue, range: std::ops::Range<usize>) -> anyhow::Result<()> {
    let jobs: Vec<_> = range.map(job).collect();
    for chunk in jobs.chunks(500) {
        queue.enqueue(chunk).await?;
    }
    Ok(())
}

struct Running {
    ctx: Arc<Ctx>,
    restarts: Arc<AtomicUsize>,
    stop: CancellationToken,
    task: tokio::task::JoinHandle<()>,
}

fn start_worker(queue: &RedisQueue, concurrency: usize, db: Option<thumbforge_db::Db>) -> Running {
    let consumer = RedisConsumer::new(
        queue.clone(),
        format!("bench-{}", std::process::id()),
        ConsumerSettings {
            batch: concurrency.min(64),
            block: Duration::from_secs(1),
            claim_idle: Duration::from_secs(30),
            heartbeat: Duration::from_secs(5),
        },
    );
    let ctx = Arc::new(Ctx {
        consumer: consumer.clone(),
        writer: db.map(thumbforge_db::batch::StatusWriter::new),
        done: AtomicUsize::new(0),
        notify: Notify::new(),
        pushed_at: Mutex::new(HashMap::new()),
        pickups: Mutex::new(Vec::new()),
        spent_us: Default::default(),
    });
    let restarts = Arc::new(AtomicUsize::new(0));
    let stop = CancellationToken::new();
    let monitor = {
        let ctx = ctx.clone();
        let restarts = restarts.clone();
        Monitor::new()
            .register(move |_| {
                WorkerBuilder::new(consumer.name().to_owned())
                    .backend(consumer.backend())
                    .data(ctx.clone())
                    .concurrency(concurrency)
                    .build(noop)
            })
            .should_restart(move |_, err| {
                eprintln!("worker died: {err}");
                restarts.fetch_add(1, Ordering::Relaxed);
                true
            })
    };
    let signal = {
        let stop = stop.clone();
        async move {
            stop.cancelled().await;
            Ok(())
        }
    };
    let task = tokio::spawn(async move {
        let _ = monitor.run_with_signal(signal).await;
    });
    Running {
        ctx,
        restarts,
        stop,
        task,
    }
}

impl Running {
    async fn wait_done(&self, n: usize) {
        while self.ctx.done.load(Ordering::Relaxed) < n {
            let _ =
                tokio::time::timeout(Duration::from_millis(100), self.ctx.notify.notified()).await;
        }
    }

    async fn stop(self) -> usize {
        self.stop.cancel();
        let _ = self.task.await;
        self.restarts.load(Ordering::Relaxed)
    }
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i]
}

async fn fresh_queue(url: &str, name: &str) -> anyhow::Result<RedisQueue> {
    let queue = RedisQueue::connect(url, &format!("bench-{name}-{}", std::process::id())).await?;
    queue.destroy().await?;
    Ok(RedisQueue::connect(url, &format!("bench-{name}-{}", std::process::id())).await?)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    if args.writes_only {
        let url = args
            .database
            .as_deref()
            .ok_or_else(|| anyhow::anyhow!("--writes-only needs --database"))?;
        return status_writes(&args, url).await;
    }

    // 1. No-op throughput.
    let queue = fresh_queue(&args.redis, "noop").await?;
    push(&queue, 0..args.jobs).await?;
    let start = Instant::now();
    let worker = start_worker(&queue, args.concurrency, None);
    worker.wait_done(args.jobs).await;
    let secs = start.elapsed().as_secs_f64();
    let restarts = worker.stop().await;
    queue.destroy().await?;
    println!(
        "noop: {} jobs at concurrency {} in {:.2} s = {:.0} jobs/s (worker restarts: {restarts})",
        args.jobs,
        args.concurrency,
        secs,
        args.jobs as f64 / secs
    );

    // 2. Pickup latency of an idle worker.
    let queue = fresh_queue(&args.redis, "pickup").await?;
    let worker = start_worker(&queue, args.concurrency, None);
    tokio::time::sleep(Duration::from_millis(300)).await;
    for i in 0..args.pickup_samples {
        let (job, attempt) = job(i);
        worker
            .ctx
            .pushed_at
            .lock()
            .expect("map")
            .insert(job.thumbnail_id.clone(), Instant::now());
        queue.enqueue(&[(job, attempt)]).await?;
        worker.wait_done(i + 1).await;
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    let mut pickups = worker.ctx.pickups.lock().expect("pickups").clone();
    pickups.sort();
    worker.stop().await;
    queue.destroy().await?;
    println!(
        "pickup: {} samples, p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        pickups.len(),
        percentile(&pickups, 0.5).as_secs_f64() * 1000.0,
        percentile(&pickups, 0.99).as_secs_f64() * 1000.0,
        pickups.last().copied().unwrap_or_default().as_secs_f64() * 1000.0
    );

    // 3. Backlog drain.
    let queue = fresh_queue(&args.redis, "backlog").await?;
    let push_start = Instant::now();
    push(&queue, 0..args.backlog).await?;
    let push_secs = push_start.elapsed().as_secs_f64();
    let depth = queue.depth().await?;
    let start = Instant::now();
    let worker = start_worker(&queue, args.concurrency, None);
    worker.wait_done(args.backlog).await;
    let secs = start.elapsed().as_secs_f64();
    let restarts = worker.stop().await;
    let left = queue.depth().await?;
    queue.destroy().await?;
    println!(
        "backlog: {} queued (pushed in {:.1} s), drained in {:.1} s = {:.0} jobs/s, worker restarts {restarts}, left {left}",
        depth,
        push_secs,
        secs,
        args.backlog as f64 / secs
    );
    if let Some(url) = &args.database {
        status_writes(&args, url).await?;
    }
    Ok(())
}

/// Queue plus the real status writes, on `jobs` one-thumbnail generations.
async fn status_writes(args: &Args, url: &str) -> anyhow::Result<()> {
    use thumbforge_core::{GenerateRequest, ModelId, Plan, Prompt, ThumbnailCount};
    // As `thumbforge-worker` connects with `worker.async_commit` (default).
    let db = thumbforge_db::Db::connect_with(url, 60, Duration::from_secs(5), true).await?;
    db.migrate().await?;
    let org = thumbforge_db::orgs::ensure(&db, "queue-bench", Some(Plan::Pro)).await?;
    let request = GenerateRequest {
        prompt: Prompt::try_from("status writes".to_owned())
            .map_err(|e| anyhow::anyhow!("{e:?}"))?,
        model: None,
        count: ThumbnailCount::try_from(1).map_err(|e| anyhow::anyhow!("{e:?}"))?,
        aspect_ratio: Default::default(),
        person_ids: Default::default(),
        inspiration_ids: Default::default(),
        reference_urls: Default::default(),
        provider: Default::default(),
        title: None,
        card_id: None,
        webhook: None,
        style: None,
        format: Default::default(),
    };
    let queue = fresh_queue(&args.redis, "writes").await?;
    let mut jobs = Vec::with_capacity(args.jobs);
    for _ in 0..args.jobs {
        let view =
            thumbforge_db::generations::create(&db, &org.id, Plan::Pro, ModelId::TEST, 1, &request)
                .await?;
        jobs.push((
            RenderThumbnail {
                thumbnail_id: view.thumbnails[0].id.clone(),
                generation_id: view.generation.id.clone(),
                enqueued_at_ms: 0,
                ..Default::default()
            },
            0,
        ));
    }
    for chunk in jobs.chunks(500) {
        queue.enqueue(chunk).await?;
    }
    let start = Instant::now();
    let worker = start_worker(&queue, args.concurrency, Some(db));
    worker.wait_done(args.jobs).await;
    let secs = start.elapsed().as_secs_f64();
    let mean_ms = |step: usize| {
        worker.ctx.spent_us[step].load(Ordering::Relaxed) as f64 / args.jobs as f64 / 1000.0
    };
    let waits = format!(
        "mean wait per job: claim {:.2} ms, record {:.2} ms, ack {:.2} ms",
        mean_ms(0),
        mean_ms(1),
        mean_ms(2)
    );
    let restarts = worker.stop().await;
    queue.destroy().await?;
    println!(
        "writes: {} jobs with claim + succeed + refresh on PostgreSQL at concurrency {} in {:.2} s = {:.0} jobs/s (worker restarts: {restarts}; {waits})",
        args.jobs,
        args.concurrency,
        secs,
        args.jobs as f64 / secs
    );
    Ok(())
}
