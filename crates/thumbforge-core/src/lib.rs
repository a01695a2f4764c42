#![doc = include_str!("../README.md")]

pub mod batch;
pub mod capacity;
pub mod cpu;
pub mod error_code;
pub mod ids;
pub mod model;
pub mod output;
pub mod plan;
pub mod progress;
pub mod request;
pub mod status;
pub mod style;

pub use error_code::ErrorCode;
pub use ids::{ApiKeyId, AssetId, GenerationId, OrgId, ThumbnailId};
pub use model::{CatalogEntry, Catalogue, ModelId, ProviderChoice, ProviderKind, Route};
pub use output::{MAX_OUTPUT_BYTES, OutputFormat};
pub use plan::Plan;
pub use request::{
    AspectRatio, GenerateRequest, Label, ModelName, Prompt, ReferenceUrls, ThumbnailCount, Title,
    ValidationError, Webhook, refuse_nul,
};
pub use status::{EndReason, Failure, GenerationStatus, ThumbnailStatus};
pub use style::StyleSpec;
