//! OpenAI Images: `POST /v1/images/generations` (JSON) and, with reference
//! images, `POST /v1/images/edits` (multipart, `image[]` parts). Answers
//! carry `data[].b64_json` and `usage`. The `x-ratelimit-*` headers are
//! followed: a 429 pauses the key for `Retry-After` (or
//! `x-ratelimit-reset-requests`), and an answer saying no requests remain
//! pauses it until the reset, for every worker ([`Gate`]).

use std::time::Duration;

use base64::{Engine, engine::general_purpose::STANDARD};
use secrecy::ExposeSecret;
use serde::Deserialize;
use serde_json::json;
use thumbforge_core::AspectRatio;
use tracing::debug;

use crate::{
    Gate, ImageModel, ImageRequest, Picture, ProviderError,
    http::{
        Upstream, decode_output, error_code, json_body, parse_go_duration, status_error,
        transport_error, with_retries,
    },
};

const NAME: &str = "openai";

#[derive(Debug, Clone)]
pub struct OpenAiImages {
    pub up: Upstream,
    pub quality: String,
    pub moderation: String,
    /// Where `x-ratelimit-*` is reported, for every worker.
    pub gate: Gate,
}

#[derive(Deserialize)]
struct ImagesResponse {
    data: Vec<ImageData>,
    #[serde(default)]
    usage: Option<serde_json::Value>,
}

#[derive(Deserialize)]
struct ImageData {
    b64_json: Option<String>,
}

/// A 16:9-capable (or 4:3, square) size; the result is downscaled to the
/// target afterwards.
pub fn size_for(aspect: AspectRatio) -> &'static str {
    match aspect {
        AspectRatio::Landscape16x9 => "1280x720",
        AspectRatio::Standard4x3 => "960x720",
        AspectRatio::Square1x1 => "1024x1024",
    }
}

impl OpenAiImages {
    async fn call(&self, request: &ImageRequest) -> Result<Picture, ProviderError> {
        let size = size_for(request.aspect);
        let builder = if request.references.is_empty() {
            self.up
                .client
                .post(format!("{}/v1/images/generations", self.up.base_url))
                .json(&json!({
                    "model": self.up.model,
                    "prompt": request.prompt,
                    "n": 1,
                    "size": size,
                    "quality": self.quality,
                    "output_format": "png",
                    "moderation": self.moderation,
                }))
        } else {
            let mut form = reqwest::multipart::Form::new()
                .text("model", self.up.model.clone())
                .text("prompt", request.prompt.clone())
                .text("n", "1")
                .text("size", size)
                .text("quality", self.quality.clone())
                .text("output_format", "png")
                .text("moderation", self.moderation.clone());
            for (i, reference) in request.references.iter().enumerate() {
                let part = reqwest::multipart::Part::bytes(reference.png.clone())
                    .file_name(format!("reference-{i}.png"))
                    .mime_str("image/png")
                    .map_err(|_| ProviderError::Permanent("bad reference part".to_owned()))?;
                form = form.part("image[]", part);
            }
            self.up
                .client
                .post(format!("{}/v1/images/edits", self.up.base_url))
                .multipart(form)
        };
        let response = builder
            .bearer_auth(self.up.key.expose_secret())
            .send()
            .await
            .map_err(|e| transport_error(NAME, &e))?;
        self.gate.observe(response.headers()).await;
        if !response.status().is_success() {
            let (status, headers, code) = error_code(response).await;
            if matches!(
                code.as_deref(),
                Some("moderation_blocked" | "content_policy_violation")
            ) {
                return Err(ProviderError::Safety);
            }
            let mut error = status_error(NAME, status, &headers, code.as_deref());
            if let ProviderError::RateLimited { retry_after } = &mut error
                && retry_after.is_none()
            {
                *retry_after = headers
                    .get("x-ratelimit-reset-requests")
                    .and_then(|v| v.to_str().ok())
                    .and_then(parse_go_duration)
                    .filter(|d| *d <= Duration::from_secs(600));
            }
            return Err(error);
        }
        self.up.cpu.hold_answer().await;
        let body: ImagesResponse =
            json_body(NAME, response, self.up.policy.max_image_bytes).await?;
        if let Some(usage) = &body.usage {
            debug!(%usage, "openai usage");
        }
        let b64 = body
            .data
            .into_iter()
            .find_map(|d| d.b64_json)
            .ok_or_else(|| ProviderError::Permanent("openai returned no image".to_owned()))?;
        let bytes = STANDARD
            .decode(b64.as_bytes())
            .map_err(|_| ProviderError::Permanent("openai returned invalid base64".to_owned()))?;
        decode_output(&self.up.cpu, NAME, bytes).await
    }
}

#[async_trait::async_trait]
impl ImageModel for OpenAiImages {
    async fn generate(&self, request: &ImageRequest) -> Result<Picture, ProviderError> {
        with_retries(&self.up.policy, NAME, || self.call(request)).await
    }
}
