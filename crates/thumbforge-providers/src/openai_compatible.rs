//! A self-hosted server that speaks OpenAI's Images API (LocalAI,
//! stable-diffusion.cpp's server, vLLM): its own base URL, model name and,
//! when it has one, key. The call is OpenAI's ([`crate::openai`]) in a
//! plainer [`Dialect`]: no `quality` or `moderation`, `response_format`
//! asked for, one reference image on `/edits`, and the size asked for
//! rather than one of OpenAI's. A `url` answer is downloaded from the
//! server's own origin. No shared capacity: the operator's own server is
//! not rate-limited per key.

use std::time::Duration;

use secrecy::SecretString;
use thumbforge_core::cpu::CpuSlots;

use crate::{
    HttpPolicy, ImageModel, ImageRequest, Picture, ProviderError,
    http::{Upstream, with_retries_in_place},
    openai::{Dialect, images_call},
};
use thumbforge_config::OpenAiCompatibleSettings;

const NAME: &str = "openai-compatible";

/// An OpenAI-compatible images endpoint.
#[derive(Debug, Clone)]
pub struct OpenAiCompatible {
    up: Upstream,
    response_format: String,
}

impl OpenAiCompatible {
    /// The adapter `settings` describe, calling with `policy` (its timeout
    /// replaced by the endpoint's own, if set).
    pub fn new(
        settings: &OpenAiCompatibleSettings,
        mut policy: HttpPolicy,
        cpu: CpuSlots,
    ) -> Result<OpenAiCompatible, String> {
        let base_url = settings.base_url.trim_end_matches('/').to_owned();
        url::Url::parse(&base_url)
            .map_err(|e| format!("openai-compatible base_url `{base_url}`: {e}"))?;
        if settings.model.trim().is_empty() {
            return Err("openai-compatible model must not be empty".to_owned());
        }
        if let Some(secs) = settings.timeout_secs {
            policy.timeout = Duration::from_secs(secs);
        }
        Ok(OpenAiCompatible {
            up: Upstream {
                client: policy.backend_client(),
                policy,
                cpu,
                base_url,
                key: settings
                    .api_key
                    .clone()
                    .unwrap_or_else(|| SecretString::from("")),
                model: settings.model.clone(),
            },
            response_format: settings.response_format.clone(),
        })
    }

    fn dialect(&self) -> Dialect<'_> {
        Dialect {
            name: NAME,
            quality: None,
            moderation: None,
            output_format: None,
            response_format: Some(self.response_format.as_str()).filter(|f| !f.is_empty()),
            image_field: "image",
            all_references: false,
        }
    }
}

#[async_trait::async_trait]
impl ImageModel for OpenAiCompatible {
    async fn generate(&self, request: &ImageRequest) -> Result<Picture, ProviderError> {
        let size = format!("{}x{}", request.width, request.height);
        with_retries_in_place(&self.up.policy, NAME, || {
            images_call(&self.up, self.dialect(), None, &size, request)
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use base64::{Engine, engine::general_purpose::STANDARD};
    use serde_json::{Value, json};
    use wiremock::{
        Mock, MockServer, ResponseTemplate,
        matchers::{body_partial_json, header, method, path},
    };

    use super::*;
    use crate::{
        Reference,
        tests::{png, policy, received, request},
    };

    fn endpoint(server: &MockServer, key: Option<&str>) -> OpenAiCompatible {
        let settings: OpenAiCompatibleSettings = serde_json::from_value(json!({
            "base_url": server.uri(),
            "model": "sd-turbo",
            "api_key": key,
        }))
        .expect("settings");
        OpenAiCompatible::new(&settings, policy(), CpuSlots::new(1)).expect("valid")
    }

    #[tokio::test]
    async fn a_b64_json_answer_without_a_key() {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .and(path("/v1/images/generations"))
            .and(body_partial_json(json!({
                "model": "sd-turbo", "n": 1, "size": "1280x720", "response_format": "b64_json"
            })))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!({
                "created": 1713833628,
                "data": [{ "b64_json": STANDARD.encode(png(1280, 720)) }]
            })))
            .mount(&server)
            .await;
        let picture = endpoint(&server, None)
            .generate(&request("a red square"))
            .await
            .expect("generates");
        assert_eq!((picture.image.width(), picture.image.height()), (1280, 720));
        let calls = received(&server, "POST", "/v1/images/generations").await;
        assert!(calls[0].headers.get("authorization").is_none());
        let sent: Value = serde_json::from_slice(&calls[0].body).expect("json");
        // OpenAI's own fields are not sent to a server that may refuse them.
        for field in ["quality", "moderation", "output_format"] {
            assert!(sent.get(field).is_none(), "{field}: {sent}");
        }
    }

    #[tokio::test]
    async fn a_url_answer_is_downloaded_from_the_same_server_only() {
        let server = MockServer::start().await;
        let uri = server.uri();
        Mock::given(method("POST"))
            .and(path("/v1/images/generations"))
            .and(header("authorization", "Bearer local-key"))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!({
                "created": 1713833628,
                "data": [{ "url": format!("{uri}/generated-images/b641.png") }]
            })))
            .mount(&server)
            .await;
        Mock::given(method("GET"))
            .and(path("/generated-images/b641.png"))
            .respond_with(
                ResponseTemplate::new(200)
                    .insert_header("content-type", "image/png")
                    .set_body_bytes(png(1280, 720)),
            )
            .mount(&server)
            .await;
        let picture = endpoint(&server, Some("local-key"))
            .generate(&request("a red square"))
            .await
            .expect("generates");
        assert_eq!((picture.image.width(), picture.image.height()), (1280, 720));

        // A link to another origin (here another loopback port) is refused
        // without being fetched.
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .and(path("/v1/images/generations"))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!({
                "data": [{ "url": "http://127.0.0.1:1/generated-images/b641.png" }]
            })))
            .mount(&server)
            .await;
        let err = endpoint(&server, None)
            .generate(&request("x"))
            .await
            .expect_err("outside");
        assert!(matches!(err, ProviderError::Permanent(_)), "{err}");

        // Nor can a same-origin link redirect the download elsewhere.
        let elsewhere = MockServer::start().await;
        Mock::given(method("GET"))
            .respond_with(ResponseTemplate::new(200).set_body_bytes(png(1280, 720)))
            .mount(&elsewhere)
            .await;
        let server = MockServer::start().await;
        let uri = server.uri();
        Mock::given(method("POST"))
            .and(path("/v1/images/generations"))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!({
                "data": [{ "url": format!("{uri}/generated-images/moved.png") }]
            })))
            .mount(&server)
            .await;
        Mock::given(method("GET"))
            .and(path("/generated-images/moved.png"))
            .respond_with(
                ResponseTemplate::new(302)
                    .insert_header("location", format!("{}/metadata", elsewhere.uri())),
            )
            .mount(&server)
            .await;
        endpoint(&server, None)
            .generate(&request("x"))
            .await
            .expect_err("a redirect is not followed");
        let fetched = elsewhere.received_requests().await.expect("recorded");
        assert!(
            fetched.is_empty(),
            "the other host was reached: {fetched:?}"
        );
    }

    #[tokio::test]
    async fn a_reference_goes_to_edits_as_one_image_part() {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .and(path("/v1/images/edits"))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!({
                "data": [{ "b64_json": STANDARD.encode(png(1280, 720)) }]
            })))
            .mount(&server)
            .await;
        let reference = Reference {
            image: image::DynamicImage::ImageRgb8(image::RgbImage::new(8, 8)),
            png: png(8, 8),
            url: None,
            role: crate::ReferenceRole::Image,
        };
        let mut req = request("with references");
        req.references = vec![reference.clone(), reference];
        endpoint(&server, None).generate(&req).await.expect("edits");
        let calls = received(&server, "POST", "/v1/images/edits").await;
        let body = String::from_utf8_lossy(&calls[0].body);
        assert_eq!(body.matches("name=\"image\"").count(), 1, "{body}");
        assert!(body.contains("name=\"response_format\"") && body.contains("b64_json"));
        assert!(!body.contains("image[]"));
    }

    #[tokio::test]
    async fn a_400_is_permanent_and_a_503_retried() {
        for (status, attempts, retryable) in [(400, 1, false), (503, 3, true)] {
            let server = MockServer::start().await;
            Mock::given(method("POST"))
                .and(path("/v1/images/generations"))
                .respond_with(ResponseTemplate::new(status).set_body_json(
                    json!({ "error": { "code": 400, "message": "model not found", "type": "" } }),
                ))
                .mount(&server)
                .await;
            let err = endpoint(&server, None)
                .generate(&request("x"))
                .await
                .expect_err("fails");
            assert_eq!(err.is_retryable(), retryable, "{status}: {err}");
            let calls = received(&server, "POST", "/v1/images/generations").await;
            assert_eq!(calls.len(), attempts, "{status}");
        }
    }
}
