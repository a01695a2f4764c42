#![doc = include_str!("../README.md")]

mod local;
mod scripted;

use std::{collections::HashMap, sync::Arc, time::Duration};

use image::DynamicImage;
use thumbforge_core::ModelId;

pub use local::LocalRenderer;
pub use scripted::ScriptedModel;

/// What a model is asked for.
#[derive(Debug, Clone)]
pub struct ImageRequest {
    pub prompt: String,
    /// Text to show, when the caller has one (a video title).
    pub headline: Option<String>,
    pub width: u32,
    pub height: u32,
    /// Position within the generation; models use it to vary output.
    pub variation: u32,
}

#[derive(Debug, thiserror::Error)]
pub enum ProviderError {
    /// Worth trying again (rate limits, 5xx, connection failures).
    #[error("temporary provider failure: {message}")]
    Retryable {
        message: String,
        retry_after: Option<Duration>,
    },
    /// Trying again gives the same answer (bad request, forbidden).
    #[error("provider refused the request: {0}")]
    Permanent(String),
    /// The model declined on safety grounds; detail is never shown.
    #[error("blocked by the provider's safety filter")]
    Safety,
}

impl ProviderError {
    pub fn is_retryable(&self) -> bool {
        matches!(self, ProviderError::Retryable { .. })
    }

    /// The error a client may see on the thumbnail.
    pub fn public_message(&self) -> String {
        match self {
            ProviderError::Retryable { .. } => {
                "The image model was unavailable; please try again later.".to_owned()
            }
            ProviderError::Permanent(message) => {
                format!("The image model could not make this image: {message}")
            }
            ProviderError::Safety => {
                "This image could not be generated because it may violate the content policy."
                    .to_owned()
            }
        }
    }
}

/// One image model.
#[async_trait::async_trait]
pub trait ImageModel: Send + Sync + std::fmt::Debug {
    async fn generate(&self, request: &ImageRequest) -> Result<DynamicImage, ProviderError>;
}

/// Why a known model cannot run on this server.
#[derive(Debug, Clone, thiserror::Error)]
#[error("model `{model}` is not available on this server: {hint}")]
pub struct ModelUnavailable {
    pub model: ModelId,
    pub hint: &'static str,
}

/// The models this server can run.
#[derive(Debug, Clone)]
pub struct Providers {
    models: HashMap<ModelId, Arc<dyn ImageModel>>,
}

impl Providers {
    pub fn new(enable_test_model: bool) -> Providers {
        let mut models: HashMap<ModelId, Arc<dyn ImageModel>> = HashMap::new();
        models.insert(ModelId::Local, Arc::new(LocalRenderer));
        if enable_test_model {
            models.insert(ModelId::Test, Arc::new(ScriptedModel));
        }
        Providers { models }
    }

    pub fn get(&self, model: ModelId) -> Result<Arc<dyn ImageModel>, ModelUnavailable> {
        self.models.get(&model).cloned().ok_or(ModelUnavailable {
            model,
            hint: match model {
                ModelId::Gemini3Pro => "it needs a Gemini provider key, and none is configured",
                ModelId::GptImage2 => "it needs an OpenAI provider key, and none is configured",
                ModelId::Test => "the test model is enabled only by models.enable_test_model",
                ModelId::Local => "the local renderer is disabled",
            },
        })
    }
}
