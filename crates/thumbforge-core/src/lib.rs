#![doc = include_str!("../README.md")]

pub mod ids;
pub mod model;
pub mod plan;
pub mod request;
pub mod status;

pub use ids::{ApiKeyId, GenerationId, OrgId, ThumbnailId};
pub use model::ModelId;
pub use plan::Plan;
pub use request::{AspectRatio, GenerateRequest, Prompt, ThumbnailCount, ValidationError};
pub use status::{GenerationStatus, ThumbnailStatus};
