//! Wires the render job into apalis: one worker per lane in each process
//! (the CPU lane with `worker.concurrency` slots, the remote lane with
//! `worker.max_in_flight`), supervised by a `Monitor` that restarts a
//! worker when it dies.
//!
//! * SQLite (embedded): apalis-sqlite. It ends a worker whose fetch fails;
//!   each start registers under a fresh name, because apalis refuses a name
//!   whose last heartbeat is recent, and a crashed process's jobs are
//!   recovered from its stale name by the other workers' heartbeats.
//! * Redis (production): our Redis Streams consumer behind apalis's
//!   `CustomBackend`. Its stream never ends on a Redis error (it reconnects
//!   with backoff), a heartbeat keeps held jobs from looking orphaned, and a
//!   stop hands back whatever is still held.

use std::{sync::Arc, time::Duration};

use apalis::prelude::*;
use futures::StreamExt;
use thumbforge_config::Settings;
use thumbforge_core::ids::random_token;
use thumbforge_queue::{
    ConsumerSettings, Delivery, HookCallbackListener, JobQueue, Lane, RedisConsumer, RedisQueue,
    RenderThumbnail, SqliteQueue, SqliteQueueConfig, SqliteStorage,
};
use thumbforge_runtime::Deps;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tracing::{Instrument, error, info_span, warn};

use crate::{
    jobs::render_thumbnail::{self, JobEnv},
    org_slots::OrgSlots,
    sweeper::{self, RetentionConfig, SweepConfig, SweepDeps},
};

async fn handle(job: RenderThumbnail, env: Data<Arc<JobEnv>>) -> Result<(), BoxDynError> {
    let span = info_span!(
        "render_thumbnail",
        thumbnail.id = %job.thumbnail_id,
        generation.id = %job.generation_id,
    );
    let _org_slot = match &env.org_slots {
        Some(slots) => slots.acquire(&job).await,
        None => None,
    };
    // A job never outlives its claim: past it, the sweeper hands the
    // thumbnail to another worker, so a job stuck on a connection whose
    // peer vanished gives up its slot instead of holding it.
    let ran = tokio::time::timeout(env.lease(), render_thumbnail::run(&env, &job))
        .instrument(span.clone())
        .await
        .unwrap_or_else(|_| {
            Err(anyhow::anyhow!(
                "the job outlived its {:?} claim; another worker takes it over",
                env.lease()
            ))
        });
    match ran {
        Ok(_) => Ok(()),
        Err(e) => {
            span.in_scope(|| {
                warn!(
                    error = format!("{e:#}"),
                    "job failed; the queue will deliver it again"
                )
            });
            Err(e.into())
        }
    }
}

/// What a Redis-backed delivery needs besides the job environment.
struct RedisEnv {
    job: Arc<JobEnv>,
    consumer: RedisConsumer,
}

async fn handle_delivery(delivery: Delivery, env: Data<Arc<RedisEnv>>) -> Result<(), BoxDynError> {
    let result = handle(delivery.job.clone(), Data::new(env.job.clone())).await;
    match &result {
        Ok(()) => {
            if let Err(e) = env.consumer.ack(&delivery).await {
                // The job is done; a redelivery will find it terminal.
                warn!(error = %e, entry = %delivery.entry_id, "acknowledging a finished job failed");
            }
        }
        Err(_) => env.consumer.release(&delivery),
    }
    result
}

/// The render job's environment, from what the process connected to.
pub fn job_env(deps: &Deps, settings: &Settings) -> JobEnv {
    JobEnv {
        writer: thumbforge_db::batch::StatusWriter::new(deps.db.clone()),
        db: deps.db.clone(),
        storage: deps.storage.clone(),
        providers: deps.providers.clone(),
        fetch: deps.fetch.clone(),
        sealer: deps.sealer.clone(),
        job_timeout: Duration::from_secs(settings.worker.job_timeout_secs),
        max_attempts: settings.queue.max_attempts.max(1) as i32,
        metrics: deps.metrics.clone(),
        cpu: deps.cpu.clone(),
        queue: deps.queue.clone(),
        org_slots: match &deps.queue {
            JobQueue::Sqlite(queue) => Some(Arc::new(OrgSlots::new(queue.fairness()))),
            JobQueue::Redis(_) => None,
        },
    }
}

/// Starts the worker and the sweeper; the returned task ends after
/// `shutdown` is cancelled and held jobs are finished or handed back.
pub fn start(deps: Arc<Deps>, settings: &Settings, shutdown: CancellationToken) -> JoinHandle<()> {
    let env = Arc::new(job_env(&deps, settings));
    // The built-in model's fonts (the system's Noto families) load now, on
    // a blocking thread, rather than inside the first thumbnail.
    drop(tokio::task::spawn_blocking(thumbforge_render::warm_up));
    let grace = Duration::from_secs(settings.worker.shutdown_grace_secs);
    let sweep = SweepConfig {
        interval: Duration::from_secs(settings.worker.sweep_interval_secs.max(1)),
        enqueue_grace: Duration::from_secs(settings.worker.enqueue_grace_secs),
        deadline: Duration::from_secs(settings.worker.deadline_secs),
        lost_check: Duration::from_secs(settings.worker.lost_check_secs),
        retention: (settings.retention.generations_days > 0).then(|| RetentionConfig {
            keep: Duration::from_secs(u64::from(settings.retention.generations_days) * 86_400),
            batch: settings.retention.batch,
        }),
    };
    let sweeper = tokio::spawn(sweeper::run(
        SweepDeps {
            db: deps.db.clone(),
            queue: deps.queue.clone(),
            storage: deps.storage.clone(),
            metrics: deps.metrics.clone(),
        },
        sweep,
        shutdown.clone(),
    ));
    let deliveries = crate::webhooks::DeliveryConfig {
        interval: Duration::from_millis(settings.webhooks.interval_ms.max(50)),
        max_attempts: settings.webhooks.max_attempts.max(1) as i32,
        backoff_base: Duration::from_millis(settings.webhooks.backoff_base_ms),
        backoff_max: Duration::from_millis(settings.webhooks.backoff_max_ms),
        timeout: Duration::from_secs(settings.webhooks.timeout_secs),
    };
    // Dropped with the runtime; a send cut short is sent again after its lease.
    tokio::spawn(crate::webhooks::run(
        deps.db.clone(),
        deps.sealer.clone(),
        deps.fetch.clone(),
        deliveries,
        shutdown.clone(),
    ));
    let signal = {
        let shutdown = shutdown.clone();
        async move {
            shutdown.cancelled().await;
            Ok(())
        }
    };
    let lanes = lanes(settings);
    match &deps.queue {
        JobQueue::Sqlite(queue) => {
            let monitor = sqlite_monitor(queue, settings, &lanes, env).shutdown_timeout(grace);
            tokio::spawn(async move {
                if let Err(e) = monitor.run_with_signal(signal).await {
                    error!(error = %e, "worker monitor ended with an error");
                }
                let _ = sweeper.await;
            })
        }
        JobQueue::Redis(queue) => {
            let name = thumbforge_runtime::process_name();
            let consumers: Vec<(RedisConsumer, usize)> = lanes
                .iter()
                .map(|&(lane, slots)| (redis_consumer(queue, settings, &name, lane, slots), slots))
                .collect();
            let monitor = redis_monitor(&consumers, env).shutdown_timeout(grace);
            let heartbeats: Vec<_> = consumers
                .iter()
                .map(|(consumer, _)| {
                    let consumer = consumer.clone();
                    let shutdown = shutdown.clone();
                    tokio::spawn(
                        async move { consumer.heartbeat(shutdown.cancelled_owned()).await },
                    )
                })
                .collect();
            tokio::spawn(async move {
                if let Err(e) = monitor.run_with_signal(signal).await {
                    error!(error = %e, "worker monitor ended with an error");
                }
                for heartbeat in heartbeats {
                    let _ = heartbeat.await;
                }
                for (consumer, _) in &consumers {
                    if let Err(e) = consumer.hand_back().await {
                        warn!(error = %e, "handing back held jobs failed; others take them over after claim_idle_secs");
                    }
                }
                let _ = sweeper.await;
            })
        }
    }
}

/// The lanes this process takes jobs from, with its slots in each: the
/// remote lane `max_in_flight` (none when 0), the CPU lane one per CPU slot.
fn lanes(settings: &Settings) -> Vec<(Lane, usize)> {
    let mut lanes = vec![(Lane::Cpu, settings.worker.cpu_slots().max(1))];
    if settings.worker.max_in_flight > 0 {
        lanes.push((Lane::Remote, settings.worker.max_in_flight));
    }
    lanes
}

fn restart_policy(ctx: &WorkerContext, err: &WorkerError) -> bool {
    error!(worker = ctx.name(), error = %err, "worker stopped unexpectedly; restarting");
    true
}

fn sqlite_monitor(
    queue: &SqliteQueue,
    settings: &Settings,
    lanes: &[(Lane, usize)],
    env: Arc<JobEnv>,
) -> Monitor {
    let poll = Duration::from_millis(settings.queue.poll_interval_ms.max(10));
    let mut wakers = wake_each_lane(queue.take_listener(), lanes.len()).into_iter();
    let mut monitor = Monitor::new();
    for &(lane, slots) in lanes {
        let queue_config = SqliteQueueConfig::default()
            .queue(lane.queue_name())
            .batch_size(slots)
            .heartbeat_interval(Duration::from_secs(settings.queue.heartbeat_secs.max(1)))
            .missed_heartbeats(settings.queue.missed_heartbeats.max(1));
        let waker = std::sync::Mutex::new(wakers.next().flatten());
        let pool = queue.pool().clone();
        let env = env.clone();
        monitor = monitor.register(move |_restarts| {
            let storage =
                SqliteStorage::<RenderThumbnail>::new(&pool).with_config(queue_config.clone());
            // The in-process update hook wakes the worker the moment the API
            // pushes; the interval finds jobs pushed by other processes.
            let mut strategy = Strategy::new().interval(poll);
            if let Some(waker) = waker.lock().ok().and_then(|mut w| w.take()) {
                strategy = strategy.stream(waker);
            }
            WorkerBuilder::new(format!("thumbforge-worker-{}", random_token(10)))
                .backend(storage.poll_with_strategy(strategy))
                .data(env.clone())
                .concurrency(slots)
                .catch_panic()
                .build(handle)
        });
    }
    monitor.should_restart(restart_policy)
}

/// The queue file's update hook, passed on to each of `n` lanes' workers.
fn wake_each_lane(
    listener: Option<HookCallbackListener>,
    n: usize,
) -> Vec<Option<futures::channel::mpsc::UnboundedReceiver<()>>> {
    let Some(mut listener) = listener else {
        return (0..n).map(|_| None).collect();
    };
    let (senders, receivers): (Vec<_>, Vec<_>) =
        (0..n).map(|_| futures::channel::mpsc::unbounded()).unzip();
    tokio::spawn(async move {
        while listener.next().await.is_some() {
            for sender in &senders {
                let _ = sender.unbounded_send(());
            }
        }
    });
    receivers.into_iter().map(Some).collect()
}

fn redis_consumer(
    queue: &RedisQueue,
    settings: &Settings,
    name: &str,
    lane: Lane,
    slots: usize,
) -> RedisConsumer {
    RedisConsumer::new(
        queue.lane(lane),
        format!("{name}-{}", lane.as_str()),
        ConsumerSettings {
            batch: settings.queue.batch.clamp(1, slots),
            block: Duration::from_secs(1),
            claim_idle: Duration::from_secs(settings.queue.claim_idle_secs.max(1)),
            heartbeat: Duration::from_secs(settings.queue.heartbeat_secs.max(1)),
        },
    )
}

fn redis_monitor(consumers: &[(RedisConsumer, usize)], env: Arc<JobEnv>) -> Monitor {
    let mut monitor = Monitor::new();
    for (consumer, slots) in consumers {
        let env = Arc::new(RedisEnv {
            job: env.clone(),
            consumer: consumer.clone(),
        });
        let (consumer, slots) = (consumer.clone(), *slots);
        monitor = monitor.register(move |_restarts| {
            WorkerBuilder::new(consumer.name().to_owned())
                .backend(consumer.backend())
                .data(env.clone())
                .concurrency(slots)
                .catch_panic()
                .build(handle_delivery)
        });
    }
    monitor.should_restart(restart_policy)
}

/// `/scale`: each lane's demand (thumbnails running or able to start now),
/// for KEDA's metrics-api scaler (deploy/k8s/autoscaler.yaml). Redis only:
/// the embedded queue has one worker by design.
async fn scale(deps: actix_web::web::Data<Deps>) -> actix_web::HttpResponse {
    use actix_web::HttpResponse;
    let JobQueue::Redis(queue) = &deps.queue else {
        return HttpResponse::NotFound().json(serde_json::json!({"error": "no shared queue"}));
    };
    let (remote, cpu) = tokio::join!(queue.demand(Lane::Remote), queue.demand(Lane::Cpu));
    match (remote, cpu) {
        (Ok(remote), Ok(cpu)) => HttpResponse::Ok().json(serde_json::json!({
            "remote": remote,
            "cpu": cpu,
        })),
        _ => HttpResponse::ServiceUnavailable()
            .json(serde_json::json!({"error": "queue unavailable"})),
    }
}

/// `/healthz` (alive), `/readyz` (database and queue reachable), `/metrics`
/// and `/scale` for the standalone worker.
pub(crate) fn serve_health(
    deps: Deps,
    port: u16,
    shutdown: CancellationToken,
) -> anyhow::Result<JoinHandle<()>> {
    use actix_web::{App, HttpResponse, HttpServer, web};
    let deps = web::Data::new(deps);
    let server = HttpServer::new(move || {
        App::new()
            .app_data(deps.clone())
            .route(
                "/healthz",
                web::get()
                    .to(|| async { HttpResponse::Ok().json(serde_json::json!({"status": "ok"})) }),
            )
            .route(
                "/metrics",
                web::get().to(|deps: web::Data<Deps>| async move {
                    thumbforge_runtime::sample_queue(&deps.queue, &deps.db, &deps.metrics).await;
                    HttpResponse::Ok()
                        .content_type(thumbforge_telemetry::metrics::CONTENT_TYPE)
                        .body(deps.metrics.render())
                }),
            )
            .route("/scale", web::get().to(scale))
            .route(
                "/readyz",
                web::get().to(|deps: web::Data<Deps>| async move {
                    let db = deps.db.ping().await.is_ok();
                    let queue = deps.queue.ping().await.is_ok();
                    let body = serde_json::json!({"database": db, "queue": queue});
                    if db && queue {
                        HttpResponse::Ok().json(body)
                    } else {
                        HttpResponse::ServiceUnavailable().json(body)
                    }
                }),
            )
    })
    .workers(1)
    .disable_signals()
    .bind(("0.0.0.0", port))?
    .run();
    let handle = server.handle();
    Ok(tokio::spawn(async move {
        tokio::select! {
            _ = server => {},
            () = shutdown.cancelled() => handle.stop(true).await,
        }
    }))
}
