#![doc = include_str!("../README.md")]

mod access;
mod app;
pub mod auth;
mod body;
pub mod error;
#[cfg(test)]
mod fuzz;
mod mcp;
pub mod openapi;
pub mod ratelimit;
mod routes;
pub mod signing;
mod startup;
mod state;
pub mod submit;
mod wire;

pub use actix_web::dev::ServerHandle;
pub use startup::Application;
pub use state::AppState;

/// The `thumbforge-api` process: the HTTP API alone (workers run elsewhere).
pub async fn run(settings: thumbforge_config::Settings) -> anyhow::Result<()> {
    let deps = thumbforge_runtime::connect(&settings).await?;
    let app = Application::build(&settings, &deps).await?;
    tracing::info!(port = app.port(), "API listening");
    let handle = app.handle();
    let server = tokio::spawn(app.run_until_stopped());
    thumbforge_runtime::shutdown_signal().await;
    handle.stop(true).await;
    server.await??;
    Ok(())
}
