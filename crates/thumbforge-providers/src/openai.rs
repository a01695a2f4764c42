//! OpenAI Images: `POST /v1/images/generations` (JSON) and, with reference
//! images, `POST /v1/images/edits` (multipart, `image[]` parts). Answers
//! carry `data[].b64_json` and `usage`. The `x-ratelimit-*` headers are
//! followed: a 429 pauses the key for `Retry-After` (or
//! `x-ratelimit-reset-requests`), and an answer saying no requests remain
//! pauses it until the reset, for every worker ([`Gate`]).
//!
//! The same call serves self-hosted servers that copy this API
//! ([`crate::OpenAiCompatible`]): only the [`Dialect`] differs.

use std::time::Duration;

use base64::{Engine, engine::general_purpose::STANDARD};
use secrecy::ExposeSecret;
use serde::Deserialize;
use serde_json::json;
use thumbforge_core::AspectRatio;
use tracing::debug;
use url::Url;

use crate::{
    Gate, ImageModel, ImageRequest, Picture, ProviderError,
    http::{
        Upstream, decode_output, download_image, error_code, json_body, parse_go_duration,
        status_error, transport_error, with_retries, with_retries_in_place,
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
    /// Servers that copy the API may link the image instead.
    url: Option<String>,
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
    fn dialect(&self) -> Dialect<'_> {
        Dialect {
            name: NAME,
            quality: Some(&self.quality),
            moderation: Some(&self.moderation),
            output_format: Some("png"),
            response_format: None,
            image_field: "image[]",
            all_references: true,
        }
    }
}

/// How one OpenAI-style images endpoint is spoken to: OpenAI's own, or a
/// self-hosted server that copies its API ([`crate::OpenAiCompatible`]).
/// `None` leaves a field out of the request.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Dialect<'a> {
    /// The provider name in logs and errors.
    pub name: &'static str,
    pub quality: Option<&'a str>,
    pub moderation: Option<&'a str>,
    pub output_format: Option<&'a str>,
    /// `b64_json` asks servers that default to `url` to inline the image;
    /// gpt-image models refuse the field, so OpenAI's dialect omits it.
    pub response_format: Option<&'a str>,
    /// The multipart field of reference images on `/v1/images/edits`.
    pub image_field: &'static str,
    /// Every reference, or the primary one only (servers that take one).
    pub all_references: bool,
}

/// One call to `/v1/images/generations` (or `/edits`, with references):
/// the picture, from `b64_json` or from a `url` on the endpoint's own
/// origin. The key is sent when there is one; `gate` hears the
/// `x-ratelimit-*` headers when the key has shared capacity.
pub(crate) async fn images_call(
    up: &Upstream,
    dialect: Dialect<'_>,
    gate: Option<&Gate>,
    size: &str,
    request: &ImageRequest,
) -> Result<Picture, ProviderError> {
    let name = dialect.name;
    let builder = if request.references.is_empty() {
        let mut body = json!({
            "model": up.model,
            "prompt": request.prompt,
            "n": 1,
            "size": size,
        });
        for (field, value) in dialect.fields() {
            body[field] = json!(value);
        }
        up.client
            .post(format!("{}/v1/images/generations", up.base_url))
            .json(&body)
    } else {
        let mut form = reqwest::multipart::Form::new()
            .text("model", up.model.clone())
            .text("prompt", request.prompt.clone())
            .text("n", "1")
            .text("size", size.to_owned());
        for (field, value) in dialect.fields() {
            form = form.text(field, value.to_owned());
        }
        let count = if dialect.all_references {
            request.references.len()
        } else {
            1
        };
        for (i, reference) in request.references.iter().take(count).enumerate() {
            let part = reqwest::multipart::Part::bytes(reference.png.clone())
                .file_name(format!("reference-{i}.png"))
                .mime_str("image/png")
                .map_err(|_| ProviderError::Permanent("bad reference part".to_owned()))?;
            form = form.part(dialect.image_field, part);
        }
        up.client
            .post(format!("{}/v1/images/edits", up.base_url))
            .multipart(form)
    };
    let key = up.key.expose_secret();
    let builder = if key.is_empty() {
        builder
    } else {
        builder.bearer_auth(key)
    };
    let response = builder
        .send()
        .await
        .map_err(|e| transport_error(name, &e))?;
    if let Some(gate) = gate {
        gate.observe(response.headers()).await;
    }
    if !response.status().is_success() {
        let (status, headers, code) = error_code(response).await;
        if matches!(
            code.as_deref(),
            Some("moderation_blocked" | "content_policy_violation")
        ) {
            return Err(ProviderError::Safety);
        }
        let mut error = status_error(name, status, &headers, code.as_deref());
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
    up.cpu.hold_answer().await;
    let body: ImagesResponse = json_body(name, response, up.policy.max_image_bytes).await?;
    if let Some(usage) = &body.usage {
        debug!(%usage, provider = name, "images usage");
    }
    let no_image = || ProviderError::Permanent(format!("{name} returned no image"));
    let data = body
        .data
        .into_iter()
        .find(|d| d.b64_json.is_some() || d.url.is_some())
        .ok_or_else(no_image)?;
    if let Some(b64) = data.b64_json {
        let bytes = STANDARD
            .decode(b64.as_bytes())
            .map_err(|_| ProviderError::Permanent(format!("{name} returned invalid base64")))?;
        return decode_output(&up.cpu, name, bytes).await;
    }
    let url = data.url.ok_or_else(no_image)?;
    let url = same_origin(name, &up.base_url, &url)?;
    with_retries_in_place(&up.policy, name, || download_image(up, name, url.as_str())).await
}

impl Dialect<'_> {
    fn fields(&self) -> impl Iterator<Item = (&'static str, &str)> {
        [
            ("quality", self.quality),
            ("output_format", self.output_format),
            ("moderation", self.moderation),
            ("response_format", self.response_format),
        ]
        .into_iter()
        .filter_map(|(field, value)| value.map(|v| (field, v)))
    }
}

/// `url` (absolute, or relative to the endpoint) when it is on the
/// endpoint's own origin: an answer must not send the download elsewhere.
fn same_origin(name: &'static str, base_url: &str, url: &str) -> Result<Url, ProviderError> {
    let outside = || ProviderError::Permanent(format!("{name} linked an image outside its origin"));
    let base = Url::parse(&format!("{base_url}/")).map_err(|_| outside())?;
    let url = base.join(url).map_err(|_| outside())?;
    if url.origin() != base.origin() {
        return Err(outside());
    }
    Ok(url)
}

#[async_trait::async_trait]
impl ImageModel for OpenAiImages {
    async fn generate(&self, request: &ImageRequest) -> Result<Picture, ProviderError> {
        let size = size_for(request.aspect);
        with_retries(&self.up.policy, NAME, || {
            images_call(&self.up, self.dialect(), Some(&self.gate), size, request)
        })
        .await
    }
}
