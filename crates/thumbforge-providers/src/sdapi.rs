//! AUTOMATIC1111's web UI API (and the servers that copy it, such as
//! Forge and SD.Next): `POST /sdapi/v1/txt2img` with `prompt`,
//! `negative_prompt`, `width`, `height`, `seed`, `steps`, `cfg_scale` and
//! `batch_size` answers `{images: [base64 PNG], parameters, info}`; with a
//! reference image, `POST /sdapi/v1/img2img` takes it in `init_images`
//! with a `denoising_strength`. The call holds the connection until the
//! image is made, so while it runs `GET /sdapi/v1/progress` is polled for
//! the stage. A1111's `--api-auth user:pass` is HTTP basic auth on every
//! route.
//!
//! The server has one progress for whatever it is running, so it is
//! reported only while this process has one call there; with several, the
//! thumbnails show the worker's own stage. (A1111 1.6's `force_task_id`
//! and `/internal/progress` tell calls apart, but Forge and
//! stable-diffusion.cpp's server do not speak them.) Its `/interrupt`
//! would stop whichever job runs, so a dropped call is left to finish
//! there.

use std::{
    convert::Infallible,
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::Duration,
};

use base64::{Engine, engine::general_purpose::STANDARD};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use serde_json::json;
use thumbforge_core::{
    cpu::CpuSlots,
    progress::{self, ProviderStage},
};
use tracing::debug;

use crate::{
    HttpPolicy, ImageModel, ImageRequest, Picture, ProviderError,
    http::{Upstream, decode_output, send_json, send_json_answer, with_retries_in_place},
};
use thumbforge_config::SdApiSettings;

const NAME: &str = "sdapi";

/// An AUTOMATIC1111-compatible server.
#[derive(Debug, Clone)]
pub struct SdApi {
    up: Upstream,
    settings: SdApiSettings,
    /// This process's calls to the server now: its progress is one figure
    /// for whatever it runs, so it is reported only while there is one.
    in_flight: Arc<AtomicUsize>,
}

/// Counts a call while it lasts.
struct InFlight(Arc<AtomicUsize>);

impl InFlight {
    fn new(count: &Arc<AtomicUsize>) -> InFlight {
        count.fetch_add(1, Ordering::SeqCst);
        InFlight(count.clone())
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

#[derive(Deserialize)]
struct Generated {
    #[serde(default)]
    images: Vec<String>,
}

#[derive(Deserialize)]
struct Progress {
    #[serde(default)]
    progress: f64,
}

impl SdApi {
    /// The adapter `settings` describe, calling with `policy` (its timeout
    /// replaced by the server's own, if set).
    pub fn new(
        settings: &SdApiSettings,
        mut policy: HttpPolicy,
        cpu: CpuSlots,
    ) -> Result<SdApi, String> {
        let base_url = settings.base_url.trim_end_matches('/').to_owned();
        url::Url::parse(&base_url).map_err(|e| format!("sdapi base_url `{base_url}`: {e}"))?;
        if let Some(secs) = settings.timeout_secs {
            policy.timeout = Duration::from_secs(secs);
        }
        Ok(SdApi {
            up: Upstream {
                client: policy.backend_client(),
                policy,
                cpu,
                base_url,
                // Basic auth is added per request from the settings.
                key: SecretString::from(""),
                model: String::new(),
            },
            settings: settings.clone(),
            in_flight: Arc::default(),
        })
    }

    fn authorized(&self, request: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        match &self.settings.auth {
            Some(auth) => request.basic_auth(&auth.username, Some(auth.password.expose_secret())),
            None => request,
        }
    }

    fn body(&self, request: &ImageRequest) -> serde_json::Value {
        let s = &self.settings;
        let mut body = json!({
            "prompt": request.prompt,
            "negative_prompt": s.negative_prompt,
            "width": request.width,
            "height": request.height,
            // A seed of our own rather than -1, so each variation differs
            // and the server's logs name it.
            "seed": rand::random::<u32>(),
            "steps": s.steps,
            "cfg_scale": s.cfg_scale,
            "batch_size": 1,
            "n_iter": 1,
            "send_images": true,
            "save_images": false,
        });
        if let Some(sampler) = &s.sampler_name {
            body["sampler_name"] = json!(sampler);
        }
        if let Some(reference) = request.references.first() {
            body["init_images"] = json!([STANDARD.encode(&reference.png)]);
            body["denoising_strength"] = json!(s.denoising_strength);
            // Crop and resize: the reference keeps its proportions.
            body["resize_mode"] = json!(1);
        }
        body
    }

    async fn call(&self, request: &ImageRequest) -> Result<Picture, ProviderError> {
        let endpoint = if request.references.is_empty() {
            "txt2img"
        } else {
            "img2img"
        };
        let builder = self
            .up
            .client
            .post(format!("{}/sdapi/v1/{endpoint}", self.up.base_url))
            .json(&self.body(request));
        let (generated, _): (Generated, _) =
            send_json_answer(NAME, self.authorized(builder), &self.up.cpu).await?;
        let image = generated
            .images
            .into_iter()
            .next()
            .ok_or_else(|| ProviderError::Permanent("sdapi returned no image".to_owned()))?;
        // Some servers answer a data URI rather than bare base64.
        let b64 = image
            .split_once(";base64,")
            .map_or(image.as_str(), |(_, b)| b);
        let bytes = STANDARD
            .decode(b64.trim().as_bytes())
            .map_err(|_| ProviderError::Permanent("sdapi returned invalid base64".to_owned()))?;
        decode_output(&self.up.cpu, NAME, bytes).await
    }

    /// Reports the server's stage each poll interval, each change once;
    /// never ends by itself. A failed poll is skipped: progress is a hint.
    async fn watch_progress(&self) -> Infallible {
        let mut ticker = tokio::time::interval(self.up.policy.poll_interval);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut last = None;
        loop {
            ticker.tick().await;
            let request = self
                .up
                .client
                .get(format!(
                    "{}/sdapi/v1/progress?skip_current_image=true",
                    self.up.base_url
                ))
                .timeout(self.up.policy.poll_interval.max(Duration::from_secs(10)));
            let progress = match send_json::<Progress>(NAME, self.authorized(request)).await {
                Ok((progress, _)) => progress.progress,
                Err(e) => {
                    debug!(error = %e, "sdapi progress poll failed");
                    continue;
                }
            };
            // Several calls of this process share the server's one figure:
            // none of them can tell whose it is. (Other workers' calls to
            // the same server cannot be seen from here.)
            if self.in_flight.load(Ordering::SeqCst) > 1 {
                continue;
            }
            let stage = if progress > 0.0 {
                ProviderStage::running_at(progress)
            } else {
                ProviderStage::Queued { position: None }
            };
            // Back to zero after running means the image is being sent.
            let was_running = last.is_some_and(ProviderStage::is_running);
            if last != Some(stage) && (stage.is_running() || !was_running) {
                progress::report(stage);
                last = Some(stage);
            }
        }
    }
}

#[async_trait::async_trait]
impl ImageModel for SdApi {
    async fn generate(&self, request: &ImageRequest) -> Result<Picture, ProviderError> {
        let _counted = InFlight::new(&self.in_flight);
        let call = with_retries_in_place(&self.up.policy, NAME, || self.call(request));
        // Polled in this task, so the reports reach this call's progress
        // scope (a task-local).
        tokio::select! {
            picture = call => picture,
            never = self.watch_progress() => match never {},
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::Value;
    use wiremock::{
        Mock, MockServer, ResponseTemplate,
        matchers::{header, method, path, query_param},
    };

    use super::*;
    use crate::{
        Reference,
        tests::{Sequence, png, policy, received, recording, request},
    };

    fn settings(server: &MockServer) -> SdApiSettings {
        serde_json::from_value(json!({ "base_url": server.uri() })).expect("defaults")
    }

    fn sdapi(settings: &SdApiSettings) -> SdApi {
        SdApi::new(settings, policy(), CpuSlots::new(1)).expect("valid")
    }

    /// A1111's answer: base64 PNGs, the parameters sent, and `info` as a
    /// JSON string. `delay` keeps the call open while progress is polled.
    fn generated(delay: Duration) -> ResponseTemplate {
        ResponseTemplate::new(200)
            .set_delay(delay)
            .set_body_json(json!({
                "images": [STANDARD.encode(png(1280, 720))],
                "parameters": { "prompt": "x", "steps": 30 },
                "info": "{\"prompt\": \"x\", \"seed\": 1234, \"width\": 1280, \"height\": 720}"
            }))
    }

    fn progress(value: f64, job_count: u32) -> ResponseTemplate {
        ResponseTemplate::new(200).set_body_json(json!({
            "progress": value, "eta_relative": 3.2,
            "state": { "skipped": false, "interrupted": false, "job": "", "job_count": job_count,
                       "job_timestamp": "20260101000000", "job_no": 0,
                       "sampling_step": 12, "sampling_steps": 30 },
            "current_image": null, "textinfo": null
        }))
    }

    #[tokio::test]
    async fn txt2img_sends_the_settings_with_basic_auth_and_reports_progress() {
        let server = MockServer::start().await;
        // user:pass
        let auth = || header("authorization", "Basic dXNlcjpwYXNz");
        Mock::given(method("POST"))
            .and(path("/sdapi/v1/txt2img"))
            .and(auth())
            .respond_with(generated(Duration::from_millis(500)))
            .mount(&server)
            .await;
        Mock::given(method("GET"))
            .and(path("/sdapi/v1/progress"))
            .and(query_param("skip_current_image", "true"))
            .and(auth())
            .respond_with(Sequence::new(vec![progress(0.0, 0), progress(0.42, 1)]))
            .mount(&server)
            .await;
        let s: SdApiSettings = serde_json::from_value(json!({
            "base_url": format!("{}/", server.uri()),
            "steps": 30, "cfg_scale": 6.5, "sampler_name": "DPM++ 2M",
            "negative_prompt": "blurry, text",
            "auth": { "username": "user", "password": "pass" }
        }))
        .expect("settings");
        let (picture, stages) = recording(sdapi(&s).generate(&request("a red square"))).await;
        let picture = picture.expect("generates");
        assert_eq!((picture.image.width(), picture.image.height()), (1280, 720));
        assert_eq!(
            stages,
            [
                ProviderStage::Queued { position: None },
                // 0.42 done, in steps of 5%.
                ProviderStage::Running { percent: Some(40) }
            ]
        );
        let calls = received(&server, "POST", "/sdapi/v1/txt2img").await;
        assert_eq!(calls.len(), 1);
        let sent: Value = serde_json::from_slice(&calls[0].body).expect("json");
        assert_eq!(sent["prompt"], "a red square");
        assert_eq!(sent["negative_prompt"], "blurry, text");
        assert_eq!(
            (sent["width"].clone(), sent["height"].clone()),
            (json!(1280), json!(720))
        );
        assert_eq!(sent["steps"], 30);
        assert_eq!(sent["cfg_scale"], 6.5);
        assert_eq!(sent["sampler_name"], "DPM++ 2M");
        assert_eq!(sent["batch_size"], 1);
        assert!(sent["seed"].is_u64());
        assert!(sent.get("init_images").is_none());
    }

    #[tokio::test]
    async fn a_reference_goes_to_img2img_as_an_init_image() {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .and(path("/sdapi/v1/img2img"))
            .respond_with(generated(Duration::ZERO))
            .mount(&server)
            .await;
        Mock::given(method("GET"))
            .and(path("/sdapi/v1/progress"))
            .respond_with(progress(0.0, 0))
            .mount(&server)
            .await;
        let reference = png(8, 8);
        let mut req = request("the same face, smiling");
        req.references.push(Reference {
            image: image::DynamicImage::ImageRgb8(image::RgbImage::new(8, 8)),
            png: reference.clone(),
            url: None,
            role: crate::ReferenceRole::Image,
        });
        let picture = sdapi(&settings(&server))
            .generate(&req)
            .await
            .expect("generates");
        assert_eq!((picture.image.width(), picture.image.height()), (1280, 720));
        let calls = received(&server, "POST", "/sdapi/v1/img2img").await;
        assert!(calls[0].headers.get("authorization").is_none());
        let sent: Value = serde_json::from_slice(&calls[0].body).expect("json");
        assert_eq!(sent["init_images"], json!([STANDARD.encode(&reference)]));
        assert_eq!(sent["denoising_strength"], 0.6);
        assert_eq!(
            (sent["steps"].clone(), sent["cfg_scale"].clone()),
            (json!(25), json!(7.0))
        );
    }

    #[tokio::test]
    async fn refusals_are_permanent_and_server_errors_retryable() {
        for (status, attempts, retryable) in [(422, 1, false), (401, 1, false), (500, 3, true)] {
            let server = MockServer::start().await;
            Mock::given(method("POST"))
                .and(path("/sdapi/v1/txt2img"))
                .respond_with(ResponseTemplate::new(status).set_body_json(
                    json!({ "error": "OutOfMemoryError", "detail": "", "body": "", "errors": "CUDA out of memory" }),
                ))
                .mount(&server)
                .await;
            let err = sdapi(&settings(&server))
                .generate(&request("x"))
                .await
                .expect_err("fails");
            assert_eq!(err.is_retryable(), retryable, "{status}: {err}");
            assert!(!err.public_message().contains("CUDA"));
            let calls = received(&server, "POST", "/sdapi/v1/txt2img").await;
            assert_eq!(calls.len(), attempts, "{status}");
        }
    }
}
