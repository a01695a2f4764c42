#![doc = include_str!("../README.md")]

use std::{sync::Arc, time::Duration};

use anyhow::Context;
use secrecy::{ExposeSecret, SecretString};
use thumbforge_config::Settings;
use thumbforge_core::{
    capacity::{Capacity, InProcess},
    cpu::CpuSlots,
    ids::random_token,
};
use thumbforge_db::{Db, crypto::Sealer};
use thumbforge_providers::{FetchPolicy, ProviderDeps, Providers};
use thumbforge_queue::{Fairness, JobQueue, Lane, OrgPolicy, QueueTarget};
use thumbforge_storage::Storage;
use thumbforge_telemetry::metrics::{LaneLabels, Metrics, OrgLabels};

/// Everything a process talks to, as the settings name it.
#[derive(Debug, Clone)]
pub struct Deps {
    pub db: Db,
    pub queue: JobQueue,
    pub storage: Storage,
    pub providers: Providers,
    /// SSRF-safe fetching of user-given reference URLs.
    pub fetch: FetchPolicy,
    /// The server secret (it signs image URLs).
    pub secret: SecretString,
    /// Opens organisations' provider keys and webhook secrets.
    pub sealer: Sealer,
    pub metrics: Arc<Metrics>,
    /// The CPU slots (`worker.concurrency`) that decoding, fitting,
    /// encoding and the local model's drawing share.
    pub cpu: CpuSlots,
}

/// Connects to everything `settings` names and migrates the database.
pub async fn connect(settings: &Settings) -> anyhow::Result<Deps> {
    connect_as(settings, false).await
}

/// The image store: the bucket `storage.url` names, else local files.
pub fn open_storage(settings: &Settings) -> anyhow::Result<Storage> {
    let storage = &settings.storage;
    if !storage.is_s3() {
        if storage.urls == thumbforge_config::FileUrls::Presigned {
            anyhow::bail!("storage.urls = \"presigned\" needs storage.url = \"s3://…\"");
        }
        return Storage::local(&settings.images_dir()).context("opening image storage");
    }
    Storage::s3(&thumbforge_storage::S3Options {
        url: storage.url.trim().to_owned(),
        endpoint: storage.endpoint.clone(),
        region: storage.region.clone(),
        access_key_id: storage.access_key_id.clone(),
        secret_access_key: storage
            .secret_access_key
            .as_ref()
            .map(|s| secrecy::ExposeSecret::expose_secret(s).to_owned()),
        allow_http: storage.allow_http,
        virtual_hosted_style: storage.virtual_hosted_style,
        timeout: Duration::from_secs(storage.timeout_secs.max(1)),
        connect_timeout: Duration::from_secs(storage.timeout_secs.clamp(1, 10)),
    })
    .with_context(|| format!("opening image storage {}", storage.url))
}

/// [`connect`], with `async_commit` for a pool that serves only writes
/// worth redoing (the standalone worker's, `worker.async_commit`).
pub async fn connect_as(settings: &Settings, async_commit: bool) -> anyhow::Result<Deps> {
    raise_open_files_limit(settings.worker.max_in_flight);
    std::fs::create_dir_all(&settings.data_dir)
        .with_context(|| format!("creating data dir {}", settings.data_dir.display()))?;
    let db = Db::connect_with(
        &settings.database_url(),
        settings.database.max_connections,
        Duration::from_millis(settings.database.acquire_timeout_ms),
        async_commit,
    )
    .await
    .context("connecting to the database")?;
    db.migrate().await.context("migrating the database")?;
    let queue = JobQueue::open(
        &queue_target(settings),
        settings.queue.max_attempts,
        fairness(settings),
    )
    .await
    .context("opening the queue")?;
    let storage = open_storage(settings)?;
    tracing::info!(storage = storage.describe(), "image storage");
    let secret = settings.resolve_secret().with_context(|| {
        format!(
            "reading or creating the secret in {}",
            settings.data_dir.display()
        )
    })?;
    let fetch =
        thumbforge_providers::fetch_policy(&settings.references).map_err(anyhow::Error::msg)?;
    let cpu = CpuSlots::new(settings.worker.cpu_slots());
    let metrics = Metrics::new();
    // Provider caps are shared by every process on the same Redis.
    let capacity: Arc<dyn Capacity> = match &queue {
        JobQueue::Redis(redis) => Arc::new(redis.capacity(&process_name())),
        JobQueue::Sqlite(_) => Arc::new(InProcess::default()),
    };
    let providers = Providers::configured(
        &settings.providers,
        &settings.models,
        &settings.backends,
        ProviderDeps {
            cpu: cpu.clone(),
            capacity,
            metrics: metrics.clone(),
        },
    )
    .map_err(anyhow::Error::msg)?;
    Ok(Deps {
        db,
        queue,
        storage,
        providers,
        cpu,
        fetch,
        sealer: sealer(settings, &secret),
        secret,
        metrics,
    })
}

/// Raises the soft limit on open files to the hard one: each remote call
/// in flight holds a socket, and `worker.max_in_flight` (1000 by default)
/// with the pools passes the soft default of 1024 many systems start with.
fn raise_open_files_limit(max_in_flight: usize) {
    let wanted = max_in_flight as u64 + 256;
    match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(limit) if limit < wanted => tracing::warn!(
            limit,
            max_in_flight,
            "the open-file limit is below worker.max_in_flight plus the pools; raise `ulimit -n`"
        ),
        Ok(limit) => tracing::debug!(limit, "open-file limit"),
        Err(e) => tracing::warn!(error = %e, "the open-file limit could not be read or raised"),
    }
}

/// A name no other process start has: host, pid and a random tail.
pub fn process_name() -> String {
    let host = std::env::var("HOSTNAME").unwrap_or_else(|_| "worker".to_owned());
    format!("{host}-{}-{}", std::process::id(), random_token(6))
}

/// The sealer for provider keys and webhook secrets: the current secret,
/// and the previous one while a rotation is in progress.
pub fn sealer(settings: &Settings, secret: &SecretString) -> Sealer {
    Sealer::from_secret(secret.expose_secret())
        .with_previous(settings.previous_secret.as_ref().map(|s| s.expose_secret()))
}

/// Connects to the configured database with the configured pool limits.
pub async fn connect_db(settings: &Settings) -> anyhow::Result<Db> {
    Db::connect(
        &settings.database_url(),
        settings.database.max_connections,
        Duration::from_millis(settings.database.acquire_timeout_ms),
    )
    .await
    .context("connecting to the database")
}

/// Each plan's share of the workers and caps, from `limits.<plan>`.
pub fn fairness(settings: &Settings) -> Fairness {
    let policy = |limits: &thumbforge_config::PlanLimits| OrgPolicy {
        weight: limits.queue_weight.max(1),
        max_in_flight: limits.thumbnails_in_flight,
        max_queued: limits.max_queued,
    };
    Fairness {
        free: policy(&settings.limits.free),
        pro: policy(&settings.limits.pro),
        unlimited: policy(&settings.limits.unlimited),
    }
}

/// Redis when `queue.redis_url` (or `REDIS_URL`) is set, else the embedded
/// SQLite file.
fn queue_target(settings: &Settings) -> QueueTarget {
    match &settings.queue.redis_url {
        Some(url) => QueueTarget::Redis {
            url: url.clone(),
            prefix: settings.queue.prefix.clone(),
            lookahead: settings.queue.lookahead.max(1),
        },
        None => QueueTarget::Sqlite {
            path: settings.queue_sqlite_path(),
        },
    }
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
        if let Ok(orgs) = queue.waiting_by_org().await {
            let now = thumbforge_db::now_ms();
            metrics.org_waiting.clear();
            metrics.org_oldest_wait.clear();
            for org in orgs {
                let labels = OrgLabels { org: org.org_id };
                metrics
                    .org_waiting
                    .get_or_create(&labels)
                    .set(org.waiting as i64);
                let waited = (now - org.oldest_enqueued_ms).max(0) / 1000;
                metrics.org_oldest_wait.get_or_create(&labels).set(waited);
            }
        }
        if let JobQueue::Redis(redis) = queue {
            for lane in Lane::ALL {
                if let Ok(n) = redis.demand(lane).await {
                    let labels = LaneLabels {
                        lane: lane.as_str(),
                    };
                    metrics.queue_demand.get_or_create(&labels).set(n as i64);
                }
            }
        }
    };
    let _ = tokio::time::timeout(Duration::from_secs(1), sample).await;
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
