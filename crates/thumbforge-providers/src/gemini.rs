//! Google Gemini: `POST /v1beta/models/{model}:generateContent` with the
//! `x-goog-api-key` header. The prompt and the references (`inlineData`)
//! go in `contents[].parts`; `generationConfig.responseModalities` is
//! `["IMAGE"]` with `imageConfig.aspectRatio`. The image comes back in
//! `candidates[].content.parts[].inlineData`. A safety block is HTTP 200
//! with no image and a `finishReason` such as `IMAGE_SAFETY`: it becomes a
//! generic safety failure, never a retry.

use base64::{Engine, engine::general_purpose::STANDARD};
use secrecy::ExposeSecret;
use serde::Deserialize;
use serde_json::{Value, json};
use tracing::warn;

use crate::{
    ImageModel, ImageRequest, Picture, ProviderError,
    http::{Upstream, decode_output, send_json_answer, with_retries},
};

const NAME: &str = "gemini";

/// Finish reasons that mean the model declined to draw.
const SAFETY_REASONS: &[&str] = &[
    "IMAGE_SAFETY",
    "IMAGE_PROHIBITED_CONTENT",
    "NO_IMAGE",
    "SAFETY",
    "PROHIBITED_CONTENT",
    "BLOCKLIST",
    "SPII",
    "IMAGE_RECITATION",
    "RECITATION",
];

#[derive(Debug, Clone)]
pub struct Gemini {
    pub up: Upstream,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct GenerateContentResponse {
    #[serde(default)]
    candidates: Vec<Candidate>,
    #[serde(default)]
    prompt_feedback: Option<PromptFeedback>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct PromptFeedback {
    block_reason: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Candidate {
    content: Option<Content>,
    finish_reason: Option<String>,
}

#[derive(Deserialize)]
struct Content {
    #[serde(default)]
    parts: Vec<Part>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Part {
    #[serde(alias = "inline_data")]
    inline_data: Option<InlineData>,
}

#[derive(Deserialize)]
struct InlineData {
    data: String,
}

impl Gemini {
    fn body(&self, request: &ImageRequest) -> Value {
        let mut parts = vec![json!({ "text": request.prompt })];
        for reference in &request.references {
            parts.push(json!({
                "inlineData": { "mimeType": "image/png", "data": STANDARD.encode(&reference.png) }
            }));
        }
        json!({
            "contents": [{ "role": "user", "parts": parts }],
            "generationConfig": {
                "responseModalities": ["IMAGE"],
                "imageConfig": { "aspectRatio": request.aspect.as_str() }
            }
        })
    }

    async fn call(&self, request: &ImageRequest) -> Result<Picture, ProviderError> {
        let http = self
            .up
            .client
            .post(format!(
                "{}/v1beta/models/{}:generateContent",
                self.up.base_url, self.up.model
            ))
            .header("x-goog-api-key", self.up.key.expose_secret())
            .json(&self.body(request));
        let (body, _): (GenerateContentResponse, _) =
            send_json_answer(NAME, http, &self.up.cpu).await?;
        if let Some(reason) = body.prompt_feedback.and_then(|f| f.block_reason) {
            warn!(reason, "gemini blocked the prompt");
            return Err(ProviderError::Safety);
        }
        let mut finish = None;
        for candidate in body.candidates {
            if let Some(data) = candidate
                .content
                .into_iter()
                .flat_map(|c| c.parts)
                .find_map(|p| p.inline_data)
            {
                let bytes = STANDARD.decode(data.data.as_bytes()).map_err(|_| {
                    ProviderError::Permanent("gemini returned invalid base64".to_owned())
                })?;
                return decode_output(&self.up.cpu, NAME, bytes).await;
            }
            finish = finish.or(candidate.finish_reason);
        }
        match finish.as_deref() {
            Some(reason) if SAFETY_REASONS.contains(&reason) => {
                warn!(reason, "gemini returned no image");
                Err(ProviderError::Safety)
            }
            Some(reason) => {
                warn!(reason, "gemini returned no image");
                Err(ProviderError::Permanent(
                    "gemini returned no image".to_owned(),
                ))
            }
            None => Err(ProviderError::Permanent(
                "gemini returned no image".to_owned(),
            )),
        }
    }
}

#[async_trait::async_trait]
impl ImageModel for Gemini {
    async fn generate(&self, request: &ImageRequest) -> Result<Picture, ProviderError> {
        with_retries(&self.up.policy, NAME, || self.call(request)).await
    }
}
