//! The built-in offline renderer as an image model.

use image::DynamicImage;
use thumbforge_render::{RenderSpec, render};

use crate::{ImageModel, ImageRequest, ProviderError};

#[derive(Debug, Clone, Copy)]
pub struct LocalRenderer;

#[async_trait::async_trait]
impl ImageModel for LocalRenderer {
    async fn generate(&self, request: &ImageRequest) -> Result<DynamicImage, ProviderError> {
        let request = request.clone();
        // Rendering is CPU work; keep it off the async threads.
        tokio::task::spawn_blocking(move || {
            DynamicImage::ImageRgb8(render(&RenderSpec {
                width: request.width,
                height: request.height,
                prompt: &request.prompt,
                headline: request.headline.as_deref(),
                variation: request.variation,
                background: request.references.first().map(|r| &r.image),
                style: request.style.as_ref(),
            }))
        })
        .await
        .map_err(|e| ProviderError::Retryable {
            message: format!("renderer task failed: {e}"),
            retry_after: None,
        })
    }
}
