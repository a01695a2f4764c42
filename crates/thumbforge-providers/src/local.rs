//! The built-in offline renderer as an image model.

use image::DynamicImage;
use thumbforge_core::cpu::CpuSlots;
use thumbforge_render::{RenderError, RenderSpec, render};

use crate::{ImageModel, ImageRequest, Picture, ProviderError, ReferenceRole};

/// Draws on one of the process's CPU slots.
#[derive(Debug, Clone)]
pub struct LocalRenderer(pub CpuSlots);

#[async_trait::async_trait]
impl ImageModel for LocalRenderer {
    async fn generate(&self, request: &ImageRequest) -> Result<Picture, ProviderError> {
        let request = request.clone();
        self.0
            .run(move || {
                let of = |role: ReferenceRole| -> Vec<DynamicImage> {
                    request
                        .references
                        .iter()
                        .filter(|r| r.role == role)
                        .map(|r| r.image.clone())
                        .collect()
                };
                let (people, inspirations) =
                    (of(ReferenceRole::Person), of(ReferenceRole::Inspiration));
                let background = request
                    .references
                    .iter()
                    .find(|r| r.role == ReferenceRole::Image)
                    .map(|r| &r.image);
                render(&RenderSpec {
                    width: request.width,
                    height: request.height,
                    prompt: &request.prompt,
                    headline: request.headline.as_deref(),
                    variation: request.variation,
                    background,
                    people: &people,
                    inspirations: &inspirations,
                    style: request.style.as_ref(),
                })
                .map(|image| Picture::from(DynamicImage::ImageRgb8(image)))
                .map_err(|e| match e {
                    // The same headline fails the same way every time.
                    RenderError::NoFont(e) => ProviderError::Permanent(e.to_string()),
                    RenderError::Size(..) | RenderError::Encode(_) => {
                        ProviderError::Permanent(e.to_string())
                    }
                })
            })
            .await
            .map_err(|e| ProviderError::Retryable {
                message: format!("renderer task failed: {e}"),
                retry_after: None,
            })?
    }
}
