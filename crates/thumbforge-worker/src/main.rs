//! `thumbforge-worker`: renders queued thumbnails.

use thumbforge_config::{Overrides, Settings};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let settings = Settings::load(&Overrides::default())?;
    thumbforge_telemetry::init(&settings.log.filter, settings.log.json);
    thumbforge_worker::run(settings).await
}
