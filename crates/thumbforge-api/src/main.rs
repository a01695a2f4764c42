//! `thumbforge-api`: the HTTP API without in-process workers.

use thumbforge_config::{Overrides, Settings};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let settings = Settings::load(&Overrides::default())?;
    thumbforge_telemetry::init(&settings.log.filter, settings.log.json);
    thumbforge_api::run(settings).await
}
