//! A model whose behaviour the prompt scripts, for tests and drills:
//! `[sleep:MS]` waits before answering, `[fail]` fails every thumbnail,
//! `[fail:N]` fails only variation N, `[retryable]` fails with a retryable
//! error, `[safety]` reports a safety block, `[flat]` answers at once with a
//! plain image (benchmarks of everything but the model). Otherwise it
//! renders like `local`.

use std::time::Duration;

use image::DynamicImage;

use crate::{ImageModel, ImageRequest, LocalRenderer, Picture, ProviderError};

/// Renders like `local` (on its CPU slots) unless the prompt says otherwise.
#[derive(Debug, Clone)]
pub struct ScriptedModel(pub LocalRenderer);

fn directive<'a>(prompt: &'a str, name: &str) -> Option<&'a str> {
    let open = format!("[{name}");
    let start = prompt.find(&open)? + open.len();
    let rest = &prompt[start..];
    let end = rest.find(']')?;
    Some(rest[..end].trim_start_matches(':'))
}

#[async_trait::async_trait]
impl ImageModel for ScriptedModel {
    async fn generate(&self, request: &ImageRequest) -> Result<Picture, ProviderError> {
        let prompt = &request.prompt;
        if let Some(ms) = directive(prompt, "sleep").and_then(|v| v.parse::<u64>().ok()) {
            tokio::time::sleep(Duration::from_millis(ms)).await;
        }
        if let Some(which) = directive(prompt, "fail") {
            let all = which.is_empty();
            if all || which.split(',').any(|n| n.parse() == Ok(request.variation)) {
                return Err(ProviderError::Permanent("scripted failure".to_owned()));
            }
        }
        if directive(prompt, "retryable").is_some() {
            return Err(ProviderError::Retryable {
                message: "scripted outage".to_owned(),
                retry_after: None,
            });
        }
        if directive(prompt, "safety").is_some() {
            return Err(ProviderError::Safety);
        }
        if directive(prompt, "flat").is_some() {
            let shade = 40 + (request.variation as u8 % 4) * 40;
            return Ok(Picture::from(DynamicImage::ImageRgb8(
                image::RgbImage::from_pixel(
                    request.width,
                    request.height,
                    image::Rgb([shade, 60, 90]),
                ),
            )));
        }
        self.0.generate(request).await
    }
}

#[cfg(test)]
mod tests {
    fn model() -> ScriptedModel {
        ScriptedModel(LocalRenderer(thumbforge_core::cpu::CpuSlots::new(1)))
    }

    use super::*;

    fn req(prompt: &str, variation: u32) -> ImageRequest {
        ImageRequest {
            prompt: prompt.to_owned(),
            headline: None,
            width: 64,
            height: 36,
            aspect: thumbforge_core::AspectRatio::Landscape16x9,
            variation,
            references: Vec::new(),
            style: None,
        }
    }

    #[tokio::test]
    async fn directives_script_the_outcome() {
        assert!(model().generate(&req("ok", 0)).await.is_ok());
        assert!(matches!(
            model().generate(&req("x [fail]", 3)).await,
            Err(ProviderError::Permanent(_))
        ));
        assert!(model().generate(&req("x [fail:1]", 0)).await.is_ok());
        assert!(model().generate(&req("x [fail:0,1]", 1)).await.is_err());
        assert!(matches!(
            model().generate(&req("x [safety]", 0)).await,
            Err(ProviderError::Safety)
        ));
        let flat = model()
            .generate(&req("x [flat]", 1))
            .await
            .expect("flat image");
        assert_eq!((flat.image.width(), flat.image.height()), (64, 36));
    }

    #[test]
    fn safety_errors_are_generic() {
        let msg = ProviderError::Safety.public_message();
        assert!(msg.contains("content policy"));
    }
}
