//! The embedded default: everything in one process with no server to
//! install. Used by `thumbforge serve` and by the integration tests.

use std::{net::SocketAddr, sync::Arc};

use anyhow::Context;
use thumbforge_api::{Application, ServerHandle};
use thumbforge_config::Settings;
use thumbforge_core::Plan;
use thumbforge_db::{Db, keys, orgs};
use thumbforge_runtime::Deps;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// The organisation `serve` creates on a fresh data dir. It is on the
/// unlimited plan: its thumbnails are clean, and a server's owner is not
/// rate-limited on their own server.
pub const DEV_ORG: &str = "dev";

pub struct Embedded {
    addr: SocketAddr,
    metrics_port: Option<u16>,
    api: ServerHandle,
    api_task: JoinHandle<std::io::Result<()>>,
    worker: Option<JoinHandle<()>>,
    shutdown: CancellationToken,
    first_key: Option<String>,
    deps: Deps,
}

impl Embedded {
    pub async fn start(settings: Settings) -> anyhow::Result<Embedded> {
        let deps = thumbforge_runtime::connect(&settings).await?;
        let first_key = bootstrap(&deps.db).await?;
        let app = Application::build(&settings, &deps).await?;
        let ip = settings
            .bind
            .parse::<SocketAddr>()
            .map(|a| a.ip())
            .unwrap_or(std::net::IpAddr::from([127, 0, 0, 1]));
        let addr = SocketAddr::new(ip, app.port());
        let metrics_port = app.metrics_port();
        let api = app.handle();
        let api_task = tokio::spawn(app.run_until_stopped());
        let shutdown = CancellationToken::new();
        // `--workers 0`: the API alone, for a deployment whose workers run
        // elsewhere.
        let worker = settings
            .worker
            .enabled()
            .then(|| thumbforge_worker::start(Arc::new(deps.clone()), &settings, shutdown.clone()));
        tracing::info!(%addr, ?metrics_port, "thumbforge started");
        Ok(Embedded {
            addr,
            metrics_port,
            api,
            api_task,
            worker,
            shutdown,
            first_key,
            deps,
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// Where `/metrics` is, when `api.metrics_bind` moved it off the
    /// public port.
    pub fn metrics_port(&self) -> Option<u16> {
        self.metrics_port
    }

    /// The key created on first start, if this start created one.
    pub fn first_key(&self) -> Option<&str> {
        self.first_key.as_deref()
    }

    pub fn db(&self) -> &Db {
        &self.deps.db
    }

    /// Stops taking requests and jobs, finishes what is running, closes.
    pub async fn stop(self) {
        self.api.stop(true).await;
        let _ = self.api_task.await;
        self.shutdown.cancel();
        if let Some(worker) = self.worker {
            let _ = worker.await;
        }
        self.deps.queue.close().await;
    }
}

/// On a data dir with no organisation yet, creates the development org and
/// a key for it.
async fn bootstrap(db: &Db) -> anyhow::Result<Option<String>> {
    if orgs::count(db).await? > 0 {
        return Ok(None);
    }
    let org = orgs::ensure(db, DEV_ORG, Some(Plan::Unlimited))
        .await
        .context("creating the development organisation")?;
    let key = keys::create(db, &org.id, keys::DEFAULT_SCOPES)
        .await
        .context("creating the development key")?;
    Ok(Some(key))
}
