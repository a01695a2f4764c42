//! `thumbforge-api`: the HTTP API without in-process workers.

use clap::Parser;
use thumbforge_config::{Overrides, Settings};

/// The thumbforge HTTP API without in-process workers: it takes requests and enqueues jobs; thumbforge-worker renders them.
#[derive(Parser)]
#[command(version, after_help = thumbforge_config::CONFIG_HELP)]
struct Args {}

/// See docs/decisions.md ("mimalloc as the global allocator").
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// One thread for this runtime: the HTTP workers are actix's own threads,
/// and what runs here (the submit runner, its push stage, their drivers)
/// is a few short tasks a millisecond (docs/decisions.md).
#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    Args::parse();
    let settings = Settings::load(&Overrides::default())?;
    thumbforge_telemetry::init(&settings.log.filter, settings.log.json);
    thumbforge_api::run(settings).await
}
