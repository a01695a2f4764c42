//! `thumbforge-api`: the HTTP API without in-process workers.

use thumbforge_config::{Overrides, Settings};

/// See docs/decisions.md ("mimalloc as the global allocator").
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let settings = Settings::load(&Overrides::default())?;
    thumbforge_telemetry::init(&settings.log.filter, settings.log.json);
    thumbforge_api::run(settings).await
}
