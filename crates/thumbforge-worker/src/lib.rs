#![doc = include_str!("../README.md")]

pub mod jobs;
mod org_slots;
mod runtime;
pub mod sweeper;
pub mod webhooks;

pub use runtime::{job_env, start};

use std::sync::Arc;

use anyhow::Context;
use thumbforge_config::Settings;
use thumbforge_runtime::shutdown_signal;
use tokio_util::sync::CancellationToken;

/// The `thumbforge-worker` process: workers, sweeper and health endpoints
/// until SIGINT/SIGTERM, then a graceful stop. Its database pool serves
/// only redoable worker writes, so `worker.async_commit` may apply.
pub async fn run(settings: Settings) -> anyhow::Result<()> {
    let deps = thumbforge_runtime::connect_as(&settings, settings.worker.async_commit).await?;
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
