//! sea-orm entities, one per table. Status columns hold the text forms of
//! the core status enums.

pub mod api_keys;
pub mod assets;
pub mod generations;
pub mod idempotency_keys;
pub mod open_thumbnails;
pub mod organizations;
pub mod provider_keys;
pub mod styles;
pub mod thumbnails;
pub mod unsettled_generations;
pub mod webhook_attempts;
pub mod webhook_deliveries;
