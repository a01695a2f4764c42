//! `thumbforge-worker`: renders queued thumbnails.

use clap::Parser;
use thumbforge_config::{Overrides, Settings};

/// The thumbforge worker: renders queued thumbnails (model calls, PNG output, status updates) for the API processes that share its database and queue.
#[derive(Parser)]
#[command(version, after_help = thumbforge_config::CONFIG_HELP)]
struct Args {}

/// See docs/decisions.md ("mimalloc as the global allocator").
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    Args::parse();
    let settings = Settings::load(&Overrides::default())?;
    thumbforge_telemetry::init(&settings.log.filter, settings.log.json);
    thumbforge_worker::run(settings).await
}
