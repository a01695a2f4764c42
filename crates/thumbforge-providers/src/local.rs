//! The built-in offline renderer as an image model.

use image::DynamicImage;
use thumbforge_core::cpu::CpuSlots;
use thumbforge_render::{RenderSpec, render};

use crate::{ImageModel, ImageRequest, Picture, ProviderError};

/// Draws on one of the process's CPU slots.
#[derive(Debug, Clone)]
pub struct LocalRenderer(pub CpuSlots);

#[async_trait::async_trait]
impl ImageModel for LocalRenderer {
    async fn generate(&self, request: &ImageRequest) -> Result<Picture, ProviderError> {
        let request = request.clone();
        self.0
            .run(move || {
                Picture::from(DynamicImage::ImageRgb8(render(&RenderSpec {
                    width: request.width,
                    height: request.height,
                    prompt: &request.prompt,
                    headline: request.headline.as_deref(),
                    variation: request.variation,
                    background: request.references.first().map(|r| &r.image),
                    style: request.style.as_ref(),
                })))
            })
            .await
            .map_err(|e| ProviderError::Retryable {
                message: format!("renderer task failed: {e}"),
                retry_after: None,
            })
    }
}
