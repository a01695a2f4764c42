//! fal's queue API: `POST {queue}/{model}` with `Authorization: Key …`
//! answers `request_id`, `status_url` and `response_url`; the status goes
//! `IN_QUEUE` → `IN_PROGRESS` → `COMPLETED`; the result holds
//! `images[].url`, which is downloaded. References travel as data URIs in
//! `image_urls` to the model's `/edit` endpoint.
//!
//! The status and result URLs are used only when they are on the configured
//! queue's origin, so the key is never sent elsewhere.

use std::time::Instant;

use base64::{Engine, engine::general_purpose::STANDARD};
use reqwest::Url;
use secrecy::ExposeSecret;
use serde::Deserialize;
use serde_json::json;
use thumbforge_core::progress::{self, ProviderStage};
use tracing::debug;

use crate::{
    ImageModel, ImageRequest, Picture, ProviderError,
    http::{Upstream, download_image, send_json, with_retries, with_retries_in_place},
};

const NAME: &str = "fal";

#[derive(Debug, Clone)]
pub struct Fal {
    pub up: Upstream,
}

#[derive(Deserialize)]
struct Submitted {
    request_id: String,
    status_url: String,
    response_url: String,
}

#[derive(Deserialize)]
struct Status {
    status: String,
    /// While `IN_QUEUE`: how many requests are ahead.
    #[serde(default)]
    queue_position: Option<u32>,
}

#[derive(Deserialize)]
struct Output {
    #[serde(default)]
    images: Vec<OutputImage>,
    #[serde(default)]
    has_nsfw_concepts: Vec<bool>,
}

#[derive(Deserialize)]
struct OutputImage {
    url: String,
}

impl Fal {
    fn same_origin(&self, url: &str) -> Result<String, ProviderError> {
        let base = Url::parse(&self.up.base_url).ok();
        let candidate = Url::parse(url).ok();
        match (base, candidate) {
            (Some(b), Some(c)) if b.origin() == c.origin() => Ok(url.to_owned()),
            _ => Err(ProviderError::Permanent(
                "fal answered with a URL outside its queue".to_owned(),
            )),
        }
    }

    fn authorized(&self, request: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        request.header(
            "Authorization",
            format!("Key {}", self.up.key.expose_secret()),
        )
    }

    async fn get_json<T: serde::de::DeserializeOwned>(
        &self,
        url: &str,
    ) -> Result<T, ProviderError> {
        Ok(send_json(NAME, self.authorized(self.up.client.get(url)))
            .await?
            .0)
    }

    async fn submit(&self, request: &ImageRequest) -> Result<Submitted, ProviderError> {
        let mut input = json!({
            "prompt": request.prompt,
            "num_images": 1,
            "aspect_ratio": request.aspect.as_str(),
            "output_format": "png",
        });
        let path = if request.references.is_empty() {
            self.up.model.clone()
        } else {
            input["image_urls"] = request
                .references
                .iter()
                .map(|r| format!("data:image/png;base64,{}", STANDARD.encode(&r.png)))
                .collect();
            format!("{}/edit", self.up.model)
        };
        let request = self
            .up
            .client
            .post(format!("{}/{}", self.up.base_url, path))
            .json(&input);
        Ok(send_json(NAME, self.authorized(request)).await?.0)
    }
}

#[async_trait::async_trait]
impl ImageModel for Fal {
    async fn generate(&self, request: &ImageRequest) -> Result<Picture, ProviderError> {
        let submitted = with_retries(&self.up.policy, NAME, || self.submit(request)).await?;
        debug!(request_id = %submitted.request_id, "fal request queued");
        // The task itself may take up to the provider timeout.
        let started = Instant::now();
        let status_url = self.same_origin(&submitted.status_url)?;
        let response_url = self.same_origin(&submitted.response_url)?;
        loop {
            let status: Status =
                with_retries_in_place(&self.up.policy, NAME, || self.get_json(&status_url)).await?;
            match status.status.as_str() {
                "IN_QUEUE" => progress::report(ProviderStage::Queued {
                    position: status.queue_position,
                }),
                "IN_PROGRESS" => progress::report(ProviderStage::RUNNING),
                _ => {}
            }
            match status.status.as_str() {
                "COMPLETED" => break,
                "IN_QUEUE" | "IN_PROGRESS" => {
                    if started.elapsed() >= self.up.policy.timeout {
                        return Err(ProviderError::Timeout);
                    }
                    tokio::time::sleep(self.up.policy.poll_interval).await;
                }
                other => {
                    return Err(ProviderError::Permanent(format!(
                        "fal reported status {other}"
                    )));
                }
            }
        }
        let output: Output =
            with_retries_in_place(&self.up.policy, NAME, || self.get_json(&response_url)).await?;
        if output.has_nsfw_concepts.first() == Some(&true) {
            return Err(ProviderError::Safety);
        }
        let url = output
            .images
            .into_iter()
            .next()
            .map(|i| i.url)
            .ok_or_else(|| ProviderError::Permanent("fal returned no image".to_owned()))?;
        with_retries_in_place(&self.up.policy, NAME, || {
            download_image(&self.up, NAME, &url)
        })
        .await
    }
}
