//! Wires the render job into apalis: one worker per process with the
//! configured concurrency, supervised by a `Monitor` that restarts it when
//! it dies (apalis ends a worker whose fetch fails). Each start registers
//! under a fresh name, because apalis refuses a name whose last heartbeat is
//! recent, and a crashed process's jobs are recovered from its stale name by
//! the other workers' heartbeats.

use std::{sync::Arc, time::Duration};

use apalis::prelude::*;
use thumbforge_config::Settings;
use thumbforge_core::ids::random_token;
use thumbforge_db::Db;
use thumbforge_providers::Providers;
use thumbforge_queue::{JobQueue, RENDER_QUEUE, RenderThumbnail, SqliteQueueConfig, SqliteStorage};
use thumbforge_storage::Storage;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tracing::{Instrument, error, info_span, warn};

use crate::{
    jobs::render_thumbnail::{self, JobEnv},
    sweeper::{self, SweepConfig},
};

/// Everything a worker talks to.
#[derive(Debug, Clone)]
pub struct WorkerDeps {
    pub db: Db,
    pub queue: JobQueue,
    pub storage: Storage,
    pub providers: Providers,
}

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

/// Starts the worker and the sweeper; the returned task ends after
/// `shutdown` is cancelled and held jobs are finished or handed back.
pub fn start(
    deps: Arc<WorkerDeps>,
    settings: &Settings,
    shutdown: CancellationToken,
) -> JoinHandle<()> {
    let concurrency = settings.worker.concurrency.max(1);
    let env = Arc::new(JobEnv {
        db: deps.db.clone(),
        storage: deps.storage.clone(),
        providers: deps.providers.clone(),
        job_timeout: Duration::from_secs(settings.worker.job_timeout_secs),
    });
    let queue_config = SqliteQueueConfig::default()
        .queue(RENDER_QUEUE)
        .batch_size(concurrency)
        .heartbeat_interval(Duration::from_secs(settings.queue.heartbeat_secs.max(1)))
        .missed_heartbeats(settings.queue.missed_heartbeats.max(1));
    let poll = Duration::from_millis(settings.queue.poll_interval_ms.max(10));
    let listener = std::sync::Mutex::new(deps.queue.take_listener());
    let pool = deps.queue.pool().clone();
    let grace = Duration::from_secs(settings.worker.job_timeout_secs + 5);

    let monitor = Monitor::new()
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
        .should_restart(|ctx, err| {
            error!(worker = ctx.name(), error = %err, "worker stopped unexpectedly; restarting");
            true
        })
        .shutdown_timeout(grace);

    let sweep = SweepConfig {
        interval: Duration::from_secs(settings.worker.sweep_interval_secs.max(1)),
        enqueue_grace: Duration::from_secs(settings.worker.enqueue_grace_secs),
        deadline: Duration::from_secs(settings.worker.deadline_secs),
    };
    let sweeper = tokio::spawn(sweeper::run(
        deps.db.clone(),
        deps.queue.clone(),
        sweep,
        shutdown.clone(),
    ));
    tokio::spawn(async move {
        let signal = async move {
            shutdown.cancelled().await;
            Ok(())
        };
        if let Err(e) = monitor.run_with_signal(signal).await {
            error!(error = %e, "worker monitor ended with an error");
        }
        let _ = sweeper.await;
    })
}

/// `/healthz` (alive) and `/readyz` (database and queue reachable) for the
/// standalone worker.
pub(crate) fn serve_health(
    deps: WorkerDeps,
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
                "/readyz",
                web::get().to(|deps: web::Data<WorkerDeps>| async move {
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
