//! Wires the render job into apalis: one worker per process with the
//! configured concurrency, supervised by a `Monitor` that restarts it when
//! it dies.
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
use thumbforge_config::Settings;
use thumbforge_core::ids::random_token;
use thumbforge_queue::{
    ConsumerSettings, Delivery, JobQueue, RENDER_QUEUE, RedisConsumer, RedisQueue, RenderThumbnail,
    SqliteQueue, SqliteQueueConfig, SqliteStorage,
};
use thumbforge_runtime::Deps;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tracing::{Instrument, error, info_span, warn};

use crate::{
    jobs::render_thumbnail::{self, JobEnv},
    sweeper::{self, SweepConfig},
};

async fn handle(job: RenderThumbnail, env: Data<Arc<JobEnv>>) -> Result<(), BoxDynError> {
    let span = info_span!(
        "render_thumbnail",
        thumbnail.id = %job.thumbnail_id,
        generation.id = %job.generation_id,
    );
    match render_thumbnail::run(&env, &job)
        .instrument(span.clone())
        .await
    {
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

/// A name no other worker process start has: host, pid and a random tail.
fn worker_name() -> String {
    let host = std::env::var("HOSTNAME").unwrap_or_else(|_| "worker".to_owned());
    format!("{host}-{}-{}", std::process::id(), random_token(6))
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
    }
}

/// Starts the worker and the sweeper; the returned task ends after
/// `shutdown` is cancelled and held jobs are finished or handed back.
pub fn start(deps: Arc<Deps>, settings: &Settings, shutdown: CancellationToken) -> JoinHandle<()> {
    let env = Arc::new(job_env(&deps, settings));
    let grace = Duration::from_secs(settings.worker.shutdown_grace_secs);
    let sweep = SweepConfig {
        interval: Duration::from_secs(settings.worker.sweep_interval_secs.max(1)),
        enqueue_grace: Duration::from_secs(settings.worker.enqueue_grace_secs),
        deadline: Duration::from_secs(settings.worker.deadline_secs),
        lost_check: Duration::from_secs(settings.worker.lost_check_secs),
    };
    let sweeper = tokio::spawn(sweeper::run(
        deps.db.clone(),
        deps.queue.clone(),
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
    match &deps.queue {
        JobQueue::Sqlite(queue) => {
            let monitor = sqlite_monitor(queue, settings, env).shutdown_timeout(grace);
            tokio::spawn(async move {
                if let Err(e) = monitor.run_with_signal(signal).await {
                    error!(error = %e, "worker monitor ended with an error");
                }
                let _ = sweeper.await;
            })
        }
        JobQueue::Redis(queue) => {
            let consumer = redis_consumer(queue, settings);
            let monitor = redis_monitor(&consumer, settings, env).shutdown_timeout(grace);
            let heartbeat = {
                let consumer = consumer.clone();
                let shutdown = shutdown.clone();
                tokio::spawn(async move { consumer.heartbeat(shutdown.cancelled_owned()).await })
            };
            tokio::spawn(async move {
                if let Err(e) = monitor.run_with_signal(signal).await {
                    error!(error = %e, "worker monitor ended with an error");
                }
                let _ = heartbeat.await;
                if let Err(e) = consumer.hand_back().await {
                    warn!(error = %e, "handing back held jobs failed; others take them over after claim_idle_secs");
                }
                let _ = sweeper.await;
            })
        }
    }
}

fn restart_policy(ctx: &WorkerContext, err: &WorkerError) -> bool {
    error!(worker = ctx.name(), error = %err, "worker stopped unexpectedly; restarting");
    true
}

fn sqlite_monitor(queue: &SqliteQueue, settings: &Settings, env: Arc<JobEnv>) -> Monitor {
    let concurrency = settings.worker.concurrency.max(1);
    let queue_config = SqliteQueueConfig::default()
        .queue(RENDER_QUEUE)
        .batch_size(concurrency)
        .heartbeat_interval(Duration::from_secs(settings.queue.heartbeat_secs.max(1)))
        .missed_heartbeats(settings.queue.missed_heartbeats.max(1));
    let poll = Duration::from_millis(settings.queue.poll_interval_ms.max(10));
    let listener = std::sync::Mutex::new(queue.take_listener());
    let pool = queue.pool().clone();
    Monitor::new()
        .register(move |_restarts| {
            let storage =
                SqliteStorage::<RenderThumbnail>::new(&pool).with_config(queue_config.clone());
            // The in-process update hook wakes the worker the moment the API
            // pushes; the interval finds jobs pushed by other processes.
            let mut strategy = Strategy::new().interval(poll);
            if let Some(listener) = listener.lock().ok().and_then(|mut l| l.take()) {
                strategy = strategy.stream(listener);
            }
            WorkerBuilder::new(format!("thumbforge-worker-{}", random_token(10)))
                .backend(storage.poll_with_strategy(strategy))
                .data(env.clone())
                .concurrency(concurrency)
                .catch_panic()
                .build(handle)
        })
        .should_restart(restart_policy)
}

fn redis_consumer(queue: &RedisQueue, settings: &Settings) -> RedisConsumer {
    let concurrency = settings.worker.concurrency.max(1);
    RedisConsumer::new(
        queue.clone(),
        worker_name(),
        ConsumerSettings {
            batch: settings.queue.batch.clamp(1, concurrency),
            block: Duration::from_secs(1),
            claim_idle: Duration::from_secs(settings.queue.claim_idle_secs.max(1)),
            heartbeat: Duration::from_secs(settings.queue.heartbeat_secs.max(1)),
        },
    )
}

fn redis_monitor(consumer: &RedisConsumer, settings: &Settings, env: Arc<JobEnv>) -> Monitor {
    let concurrency = settings.worker.concurrency.max(1);
    let env = Arc::new(RedisEnv {
        job: env,
        consumer: consumer.clone(),
    });
    let consumer = consumer.clone();
    Monitor::new()
        .register(move |_restarts| {
            WorkerBuilder::new(consumer.name().to_owned())
                .backend(consumer.backend())
                .data(env.clone())
                .concurrency(concurrency)
                .catch_panic()
                .build(handle_delivery)
        })
        .should_restart(restart_policy)
}

/// `/healthz` (alive) and `/readyz` (database and queue reachable) for the
/// standalone worker.
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
