//! kie.ai's Market API: `POST /api/v1/jobs/createTask` with
//! `{model, input: {prompt, aspect_ratio, output_format, image_input}}`
//! answers `{code, msg, data: {taskId}}`; `GET /api/v1/jobs/recordInfo?
//! taskId=…` reports `state` (`waiting`, `queuing`, `generating`,
//! `success`, `fail`) and, on success, `resultJson` (a JSON string) with
//! `resultUrls`. kie reports errors in the body's `code` as well as the
//! HTTP status. References are passed as their URLs (`image_input` takes
//! URLs only), so uploaded assets are not sent to kie.

use std::time::Instant;

use reqwest::StatusCode;
use secrecy::ExposeSecret;
use serde::Deserialize;
use serde_json::json;
use thumbforge_core::progress::{self, ProviderStage};
use tracing::{debug, warn};

use crate::{
    ImageModel, ImageRequest, Picture, ProviderError,
    http::{
        Upstream, download_image, send_json, status_error, with_retries, with_retries_in_place,
    },
};

const NAME: &str = "kie";

#[derive(Debug, Clone)]
pub struct Kie {
    pub up: Upstream,
}

#[derive(Deserialize)]
struct Envelope<T> {
    code: i64,
    data: Option<T>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Created {
    task_id: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Record {
    state: String,
    #[serde(default)]
    result_json: Option<String>,
    #[serde(default)]
    fail_code: Option<serde_json::Value>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ResultJson {
    #[serde(default)]
    result_urls: Vec<String>,
}

impl Kie {
    /// kie's body `code`: 200 is success; the rest follow HTTP meanings
    /// (429 rate limited, 455 unavailable, 5xx server errors).
    fn check<T>(
        &self,
        envelope: Envelope<T>,
        headers: &reqwest::header::HeaderMap,
    ) -> Result<T, ProviderError> {
        if envelope.code == 200 {
            return envelope
                .data
                .ok_or_else(|| ProviderError::Permanent("kie answered without data".to_owned()));
        }
        let status = match envelope.code {
            455 => StatusCode::SERVICE_UNAVAILABLE,
            501 => StatusCode::BAD_REQUEST, // generation failed: not worth repeating
            code => u16::try_from(code)
                .ok()
                .and_then(|c| StatusCode::from_u16(c).ok())
                .unwrap_or(StatusCode::BAD_GATEWAY),
        };
        let code = envelope.code.to_string();
        Err(status_error(NAME, status, headers, Some(&code)))
    }

    async fn create(&self, request: &ImageRequest) -> Result<String, ProviderError> {
        let urls: Vec<&str> = request
            .references
            .iter()
            .filter_map(|r| r.url.as_deref())
            .collect();
        let request = self
            .up
            .client
            .post(format!("{}/api/v1/jobs/createTask", self.up.base_url))
            .bearer_auth(self.up.key.expose_secret())
            .json(&json!({
                "model": self.up.model,
                "input": {
                    "prompt": request.prompt,
                    "aspect_ratio": request.aspect.as_str(),
                    "output_format": "png",
                    "image_input": urls,
                }
            }));
        let (envelope, headers): (Envelope<Created>, _) = send_json(NAME, request).await?;
        Ok(self.check(envelope, &headers)?.task_id)
    }

    async fn record(&self, task_id: &str) -> Result<Record, ProviderError> {
        let url = reqwest::Url::parse_with_params(
            &format!("{}/api/v1/jobs/recordInfo", self.up.base_url),
            &[("taskId", task_id)],
        )
        .map_err(|_| ProviderError::Permanent("kie base URL is not valid".to_owned()))?;
        let request = self
            .up
            .client
            .get(url)
            .bearer_auth(self.up.key.expose_secret());
        let (envelope, headers): (Envelope<Record>, _) = send_json(NAME, request).await?;
        self.check(envelope, &headers)
    }
}

#[async_trait::async_trait]
impl ImageModel for Kie {
    async fn generate(&self, request: &ImageRequest) -> Result<Picture, ProviderError> {
        let task_id = with_retries(&self.up.policy, NAME, || self.create(request)).await?;
        debug!(task_id, "kie task created");
        // The task itself may take up to the provider timeout.
        let started = Instant::now();
        let record = loop {
            let record =
                with_retries_in_place(&self.up.policy, NAME, || self.record(&task_id)).await?;
            match record.state.as_str() {
                "waiting" | "queuing" => progress::report(ProviderStage::Queued { position: None }),
                "generating" => progress::report(ProviderStage::RUNNING),
                _ => {}
            }
            match record.state.as_str() {
                "success" => break record,
                "fail" => {
                    warn!(fail_code = ?record.fail_code, "kie task failed");
                    return Err(ProviderError::Permanent(
                        "kie could not make the image".to_owned(),
                    ));
                }
                _ => {
                    if started.elapsed() >= self.up.policy.timeout {
                        return Err(ProviderError::Timeout);
                    }
                    tokio::time::sleep(self.up.policy.poll_interval).await;
                }
            }
        };
        let result: ResultJson = record
            .result_json
            .as_deref()
            .and_then(|s| serde_json::from_str(s).ok())
            .ok_or_else(|| ProviderError::Permanent("kie returned no result".to_owned()))?;
        let url = result
            .result_urls
            .into_iter()
            .next()
            .ok_or_else(|| ProviderError::Permanent("kie returned no image".to_owned()))?;
        with_retries_in_place(&self.up.policy, NAME, || {
            download_image(&self.up, NAME, &url)
        })
        .await
    }
}
