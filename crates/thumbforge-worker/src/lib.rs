#![doc = include_str!("../README.md")]

pub mod jobs;
mod runtime;
pub mod sweeper;
pub mod webhooks;

pub use runtime::{WorkerDeps, start};

use std::sync::Arc;

use anyhow::Context;
use thumbforge_config::Settings;
use thumbforge_db::Db;
use thumbforge_providers::Providers;
use thumbforge_queue::{JobQueue, QueueTarget};
use thumbforge_storage::Storage;
use thumbforge_telemetry::metrics::Metrics;
use tokio_util::sync::CancellationToken;

/// Connects to everything `settings` names and migrates the database.
pub async fn connect(settings: &Settings) -> anyhow::Result<WorkerDeps> {
    connect_as(settings, false).await
}

async fn connect_as(settings: &Settings, async_commit: bool) -> anyhow::Result<WorkerDeps> {
    std::fs::create_dir_all(&settings.data_dir)
        .with_context(|| format!("creating data dir {}", settings.data_dir.display()))?;
    let db = Db::connect_with(
        &settings.database_url(),
        settings.database.max_connections,
        std::time::Duration::from_millis(settings.database.acquire_timeout_ms),
        async_commit,
    )
    .await
    .context("connecting to the database")?;
    db.migrate().await.context("migrating the database")?;
    let queue = JobQueue::open(&queue_target(settings), settings.queue.max_attempts)
        .await
        .context("opening the queue")?;
    let storage = Storage::local(&settings.images_dir()).context("opening image storage")?;
    let secret = settings
        .resolve_secret()
        .context("reading or creating the server secret")?;
    let fetch =
        thumbforge_providers::fetch_policy(&settings.references).map_err(anyhow::Error::msg)?;
    Ok(WorkerDeps {
        db,
        queue,
        storage,
        providers: Providers::new(&settings.providers, settings.models.enable_test_model),
        fetch,
        sealer: sealer(settings, &secret),
        metrics: Metrics::new(),
    })
}

/// The sealer for provider keys and webhook secrets: the current secret,
/// and the previous one while a rotation is in progress.
pub fn sealer(
    settings: &Settings,
    secret: &secrecy::SecretString,
) -> thumbforge_db::crypto::Sealer {
    use secrecy::ExposeSecret;
    thumbforge_db::crypto::Sealer::from_secret(secret.expose_secret())
        .with_previous(settings.previous_secret.as_ref().map(|s| s.expose_secret()))
}

/// Samples queue depth, the Redis in-flight count and the oldest waiting
/// thumbnail's age into the gauges, giving up after a second so a scrape
/// never hangs on a dead queue or database.
pub async fn sample_queue(queue: &JobQueue, db: &Db, metrics: &Metrics) {
    let sample = async {
        if let Ok(oldest) = thumbforge_db::admin::oldest_waiting_enqueued(db).await {
            let age_ms = oldest.map_or(0, |at| (thumbforge_db::now_ms() - at).max(0));
            metrics.queue_oldest_age.set(age_ms / 1000);
        }
        if let Ok(depth) = queue.depth().await {
            metrics.queue_depth.set(depth);
        }
        if let Ok(Some(n)) = queue.in_flight().await {
            metrics.queue_in_flight.set(n);
        }
    };
    let _ = tokio::time::timeout(std::time::Duration::from_secs(1), sample).await;
}

/// Connects to the configured database with the configured pool limits.
pub async fn connect_db(settings: &Settings) -> anyhow::Result<Db> {
    Db::connect(
        &settings.database_url(),
        settings.database.max_connections,
        std::time::Duration::from_millis(settings.database.acquire_timeout_ms),
    )
    .await
    .context("connecting to the database")
}

/// Redis when `queue.redis_url` (or `REDIS_URL`) is set, else the embedded
/// SQLite file.
pub fn queue_target(settings: &Settings) -> QueueTarget {
    match &settings.queue.redis_url {
        Some(url) => QueueTarget::Redis {
            url: url.clone(),
            prefix: settings.queue.prefix.clone(),
        },
        None => QueueTarget::Sqlite {
            path: settings.queue_sqlite_path(),
        },
    }
}

/// The `thumbforge-worker` process: workers, sweeper and health endpoints
/// until SIGINT/SIGTERM, then a graceful stop. Its database pool serves
/// only redoable worker writes, so `worker.async_commit` may apply.
pub async fn run(settings: Settings) -> anyhow::Result<()> {
    let deps = connect_as(&settings, settings.worker.async_commit).await?;
    let shutdown = CancellationToken::new();
    let health = match settings.worker.health_port {
        0 => None,
        port => Some(runtime::serve_health(deps.clone(), port, shutdown.clone())?),
    };
    let worker = start(Arc::new(deps), &settings, shutdown.clone());
    shutdown_signal().await;
    tracing::info!("shutting down: no new jobs; finishing or handing back held ones");
    shutdown.cancel();
    worker.await.context("worker task")?;
    if let Some(health) = health {
        let _ = health.await;
    }
    Ok(())
}

/// Resolves on Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
}
