//! Each adapter against a local mock (wiremock) answering with bodies
//! shaped like the provider's documented ones: success, a 429 then success
//! (honouring `Retry-After`), 5xx until the attempts run out, a permanent
//! 400, safety blocks, and a timeout.

use std::{
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use base64::{Engine, engine::general_purpose::STANDARD};
use serde_json::{Value, json};
use thumbforge_config::{ProviderLimitTable, ProviderSettings, Settings};
use thumbforge_core::{
    AspectRatio, ModelId, ProviderChoice, ProviderKind, cpu::CpuSlots, progress::ProviderStage,
};
use wiremock::{
    Mock, MockServer, Request, Respond, ResponseTemplate,
    matchers::{body_partial_json, header, method, path, query_param},
};

use crate::{
    Credentials, ImageRequest, ProviderDeps, ProviderError, Providers, Reference, ReferenceRole,
};

pub(crate) fn png(w: u32, h: u32) -> Vec<u8> {
    crate::decode::to_png(&image::DynamicImage::ImageRgb8(
        image::RgbImage::from_pixel(w, h, image::Rgb([200, 30, 30])),
    ))
    .expect("png")
}

fn settings(server: &MockServer) -> ProviderSettings {
    let mut s = Settings::defaults_in(std::path::Path::new("/nonexistent")).providers;
    s.timeout_secs = 1;
    s.max_attempts = 3;
    s.backoff_base_ms = 1;
    s.backoff_max_ms = 3000;
    s.poll_interval_ms = 5;
    s.openai_base_url = server.uri();
    s.gemini_base_url = server.uri();
    s.fal_queue_url = server.uri();
    s.kie_base_url = server.uri();
    // The caps have tests of their own.
    s.limits = ProviderLimitTable::unlimited();
    s
}

fn with_key(mut s: ProviderSettings, provider: ProviderKind) -> ProviderSettings {
    let key = Some(format!("server-{provider}-key").into());
    match provider {
        ProviderKind::OpenAi => s.openai_api_key = key,
        ProviderKind::Google => s.gemini_api_key = key,
        ProviderKind::Fal => s.fal_key = key,
        ProviderKind::Kie => s.kie_api_key = key,
    }
    s
}

pub(crate) fn request(prompt: &str) -> ImageRequest {
    ImageRequest {
        prompt: prompt.to_owned(),
        headline: None,
        width: 1280,
        height: 720,
        aspect: AspectRatio::Landscape16x9,
        variation: 0,
        references: Vec::new(),
        style: None,
    }
}

/// The model `provider` serves first for platform requests in these tests.
fn model_for(provider: ProviderKind) -> ModelId {
    match provider {
        ProviderKind::OpenAi => ModelId::GPT_IMAGE_2,
        ProviderKind::Google => ModelId::GEMINI_3_PRO,
        ProviderKind::Fal => ModelId::STANDARD,
        ProviderKind::Kie => ModelId::PRO,
    }
}

async fn generate(
    server: &MockServer,
    provider: ProviderKind,
    req: &ImageRequest,
) -> Result<crate::Picture, ProviderError> {
    let providers = Providers::new(
        &with_key(settings(server), provider),
        false,
        ProviderDeps::local(CpuSlots::new(1)),
    );
    let model = providers
        .model(model_for(provider), Credentials::Platform)
        .expect("route");
    model.generate(req).await
}

/// Answers from a list in turn (the last one repeats), recording when.
#[derive(Clone)]
pub(crate) struct Sequence {
    answers: Arc<Vec<ResponseTemplate>>,
    seen: Arc<Mutex<Vec<Instant>>>,
}

impl Sequence {
    pub(crate) fn new(answers: Vec<ResponseTemplate>) -> Sequence {
        Sequence {
            answers: Arc::new(answers),
            seen: Arc::default(),
        }
    }

    pub(crate) fn times(&self) -> Vec<Instant> {
        self.seen.lock().expect("lock").clone()
    }
}

impl Respond for Sequence {
    fn respond(&self, _: &Request) -> ResponseTemplate {
        let mut seen = self.seen.lock().expect("lock");
        seen.push(Instant::now());
        let i = (seen.len() - 1).min(self.answers.len() - 1);
        self.answers[i].clone()
    }
}

/// A policy for adapters built from their own settings: quick polls and
/// backoff, three attempts.
pub(crate) fn policy() -> crate::HttpPolicy {
    crate::HttpPolicy {
        timeout: Duration::from_secs(10),
        max_attempts: 3,
        backoff_base: Duration::from_millis(1),
        backoff_max: Duration::from_millis(10),
        poll_interval: Duration::from_millis(5),
        max_image_bytes: 50 * 1024 * 1024,
    }
}

/// Runs `work` in a progress scope: its output and the stages reported.
pub(crate) async fn recording<F: Future>(work: F) -> (F::Output, Vec<ProviderStage>) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let sink = seen.clone();
    let reporter: thumbforge_core::progress::Reporter =
        Arc::new(move |stage| sink.lock().expect("lock").push(stage));
    let output = thumbforge_core::progress::scope(reporter, work).await;
    let stages = seen.lock().expect("lock").clone();
    (output, stages)
}

/// The requests `server` received for `path`, in order.
pub(crate) async fn received(server: &MockServer, http_method: &str, at: &str) -> Vec<Request> {
    server
        .received_requests()
        .await
        .expect("recording is on")
        .into_iter()
        .filter(|r| r.method.as_str() == http_method && r.url.path() == at)
        .collect()
}

fn openai_ok() -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(json!({
        "created": 1713833628,
        "data": [{ "b64_json": STANDARD.encode(png(1280, 720)) }],
        "usage": { "total_tokens": 100, "input_tokens": 50, "output_tokens": 50,
                   "input_tokens_details": { "text_tokens": 10, "image_tokens": 40 } }
    }))
}

fn gemini_ok() -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(json!({
        "candidates": [{
            "content": { "role": "model", "parts": [
                { "text": "Here is your thumbnail." },
                { "inlineData": { "mimeType": "image/png", "data": STANDARD.encode(png(1376, 768)) } }
            ]},
            "finishReason": "STOP",
            "index": 0
        }],
        "usageMetadata": { "promptTokenCount": 12, "candidatesTokenCount": 1290, "totalTokenCount": 1302 },
        "modelVersion": "gemini-3-pro-image-preview"
    }))
}

fn gemini_blocked(reason: &str) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(json!({
        "candidates": [{ "content": { "role": "model", "parts": [] }, "finishReason": reason, "index": 0 }],
        "usageMetadata": { "promptTokenCount": 12, "totalTokenCount": 12 }
    }))
}

/// Mounts the provider's documented endpoint answering `answers` in turn,
/// plus whatever follow-up endpoints the provider's flow needs (fal status
/// and result, kie record, and image downloads) answering success.
async fn mount(
    server: &MockServer,
    provider: ProviderKind,
    answers: Vec<ResponseTemplate>,
) -> Sequence {
    let seq = Sequence::new(answers);
    let uri = server.uri();
    match provider {
        ProviderKind::OpenAi => {
            Mock::given(method("POST"))
                .and(path("/v1/images/generations"))
                .and(header("authorization", "Bearer server-openai-key"))
                .and(body_partial_json(json!({
                    "model": "gpt-image-2", "n": 1, "size": "1280x720",
                    "quality": "high", "output_format": "png", "moderation": "auto"
                })))
                .respond_with(seq.clone())
                .mount(server)
                .await;
        }
        ProviderKind::Google => {
            Mock::given(method("POST"))
                .and(path("/v1beta/models/gemini-3-pro-image-preview:generateContent"))
                .and(header("x-goog-api-key", "server-google-key"))
                .and(body_partial_json(json!({
                    "generationConfig": { "responseModalities": ["IMAGE"], "imageConfig": { "aspectRatio": "16:9" } }
                })))
                .respond_with(seq.clone())
                .mount(server)
                .await;
        }
        ProviderKind::Fal => {
            Mock::given(method("POST"))
                .and(path("/fal-ai/nano-banana"))
                .and(header("authorization", "Key server-fal-key"))
                .and(body_partial_json(
                    json!({ "num_images": 1, "aspect_ratio": "16:9" }),
                ))
                .respond_with(seq.clone())
                .mount(server)
                .await;
            Mock::given(method("GET"))
                .and(path("/fal-ai/nano-banana/requests/req-1/status"))
                .respond_with(Sequence::new(vec![
                    ResponseTemplate::new(202)
                        .set_body_json(json!({ "status": "IN_QUEUE", "queue_position": 0 })),
                    ResponseTemplate::new(202)
                        .set_body_json(json!({ "status": "IN_PROGRESS", "logs": [] })),
                    ResponseTemplate::new(200)
                        .set_body_json(json!({ "status": "COMPLETED", "logs": [] })),
                ]))
                .mount(server)
                .await;
            Mock::given(method("GET"))
                .and(path("/fal-ai/nano-banana/requests/req-1"))
                .respond_with(ResponseTemplate::new(200).set_body_json(json!({
                    "images": [{ "url": format!("{uri}/files/out.png"), "content_type": "image/png", "width": 1344, "height": 768 }],
                    "description": ""
                })))
                .mount(server)
                .await;
        }
        ProviderKind::Kie => {
            Mock::given(method("POST"))
                .and(path("/api/v1/jobs/createTask"))
                .and(header("authorization", "Bearer server-kie-key"))
                .and(body_partial_json(json!({ "model": "nano-banana-pro", "input": { "aspect_ratio": "16:9", "output_format": "png" } })))
                .respond_with(seq.clone())
                .mount(server)
                .await;
            Mock::given(method("GET"))
                .and(path("/api/v1/jobs/recordInfo"))
                .and(query_param("taskId", "task_nano-banana-pro_1"))
                .respond_with(Sequence::new(vec![
                    ResponseTemplate::new(200).set_body_json(json!({ "code": 200, "msg": "success",
                        "data": { "taskId": "task_nano-banana-pro_1", "model": "nano-banana-pro", "state": "generating",
                                  "param": "{}", "resultJson": "", "failCode": "", "failMsg": "" } })),
                    ResponseTemplate::new(200).set_body_json(json!({ "code": 200, "msg": "success",
                        "data": { "taskId": "task_nano-banana-pro_1", "model": "nano-banana-pro", "state": "success",
                                  "param": "{}", "resultJson": format!("{{\"resultUrls\":[\"{uri}/files/out.png\"]}}"),
                                  "failCode": "", "failMsg": "", "completeTime": 1698765432000i64 } })),
                ]))
                .mount(server)
                .await;
        }
    }
    Mock::given(method("GET"))
        .and(path("/files/out.png"))
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header("content-type", "image/png")
                .set_body_bytes(png(1344, 768)),
        )
        .mount(server)
        .await;
    seq
}

/// The documented success answer of the first call.
fn ok(provider: ProviderKind) -> ResponseTemplate {
    match provider {
        ProviderKind::OpenAi => openai_ok(),
        ProviderKind::Google => gemini_ok(),
        ProviderKind::Fal => {
            // fal answers with absolute URLs on its own queue host.
            ResponseTemplate::new(200).set_body_json(json!({
                "request_id": "req-1",
                "status_url": "STATUS",
                "response_url": "RESPONSE",
                "cancel_url": "CANCEL",
                "queue_position": 0
            }))
        }
        ProviderKind::Kie => ResponseTemplate::new(200).set_body_json(json!({
            "code": 200, "msg": "success", "data": { "taskId": "task_nano-banana-pro_1" }
        })),
    }
}

/// fal's submit answer needs the mock's address in it.
fn fix_fal(server: &MockServer, t: ResponseTemplate, provider: ProviderKind) -> ResponseTemplate {
    if provider != ProviderKind::Fal {
        return t;
    }
    let uri = server.uri();
    t.set_body_json(json!({
        "request_id": "req-1",
        "status_url": format!("{uri}/fal-ai/nano-banana/requests/req-1/status"),
        "response_url": format!("{uri}/fal-ai/nano-banana/requests/req-1"),
        "cancel_url": format!("{uri}/fal-ai/nano-banana/requests/req-1/cancel"),
        "queue_position": 0
    }))
}

#[tokio::test]
async fn each_adapter_succeeds_with_the_documented_shapes() {
    for provider in ProviderKind::ALL {
        let server = MockServer::start().await;
        let seq = mount(
            &server,
            provider,
            vec![fix_fal(&server, ok(provider), provider)],
        )
        .await;
        let picture = generate(&server, provider, &request("a red square"))
            .await
            .unwrap_or_else(|e| panic!("{provider}: {e}"));
        let width = picture.image.width();
        assert!(width >= 1280, "{provider}: {width}");
        // Each answers an 8-bit RGB PNG, which the worker may store as is.
        let png = picture.png.unwrap_or_else(|| panic!("{provider}: no PNG"));
        let stored = image::load_from_memory(&png).expect("the kept PNG decodes");
        assert_eq!(stored.to_rgb8(), picture.image.to_rgb8(), "{provider}");
        assert_eq!(seq.times().len(), 1, "{provider}: one call");
    }
}

#[tokio::test]
async fn fal_and_kie_report_where_they_have_the_call() {
    for (provider, expected) in [
        (
            ProviderKind::Fal,
            vec![
                ProviderStage::Queued { position: Some(0) },
                ProviderStage::RUNNING,
            ],
        ),
        (ProviderKind::Kie, vec![ProviderStage::RUNNING]),
    ] {
        let server = MockServer::start().await;
        mount(
            &server,
            provider,
            vec![fix_fal(&server, ok(provider), provider)],
        )
        .await;
        let seen = Arc::new(Mutex::new(Vec::new()));
        let sink = seen.clone();
        let reporter: thumbforge_core::progress::Reporter =
            Arc::new(move |stage| sink.lock().expect("lock").push(stage));
        thumbforge_core::progress::scope(reporter, generate(&server, provider, &request("x")))
            .await
            .unwrap_or_else(|e| panic!("{provider}: {e}"));
        assert_eq!(*seen.lock().expect("lock"), expected, "{provider}");
    }
}

#[tokio::test]
async fn a_429_is_retried_after_the_retry_after_it_names() {
    for provider in ProviderKind::ALL {
        let server = MockServer::start().await;
        let too_many = ResponseTemplate::new(429)
            .insert_header("retry-after", "1")
            .set_body_json(
                json!({ "error": { "code": "rate_limit_exceeded", "message": "slow down" } }),
            );
        let seq = mount(
            &server,
            provider,
            vec![too_many, fix_fal(&server, ok(provider), provider)],
        )
        .await;
        generate(&server, provider, &request("x"))
            .await
            .unwrap_or_else(|e| panic!("{provider}: {e}"));
        let times = seq.times();
        assert_eq!(times.len(), 2, "{provider}: one retry");
        // The backoff alone would be about a millisecond; the second call
        // waited for the second the provider asked for.
        assert!(
            times[1] - times[0] >= Duration::from_millis(950),
            "{provider}: retried after {:?}",
            times[1] - times[0]
        );
    }
}

#[tokio::test]
async fn a_429_spends_no_attempt() {
    for provider in ProviderKind::ALL {
        let server = MockServer::start().await;
        let too_many = ResponseTemplate::new(429).insert_header("retry-after", "0");
        // One attempt, and five 429s before the answer: only the answer
        // counts against the attempts.
        let mut answers = vec![too_many; 5];
        answers.push(fix_fal(&server, ok(provider), provider));
        let seq = mount(&server, provider, answers).await;
        let mut s = with_key(settings(&server), provider);
        s.max_attempts = 1;
        let providers = Providers::new(&s, false, ProviderDeps::local(CpuSlots::new(1)));
        let model = providers
            .model(model_for(provider), Credentials::Platform)
            .expect("route");
        model
            .generate(&request("x"))
            .await
            .unwrap_or_else(|e| panic!("{provider}: {e}"));
        assert_eq!(seq.times().len(), 6, "{provider}");
    }
}

#[tokio::test]
async fn a_429_pauses_the_key_for_every_call_that_shares_the_capacity() {
    let server = MockServer::start().await;
    let too_many = ResponseTemplate::new(429).insert_header("retry-after", "2");
    let seq = mount(
        &server,
        ProviderKind::OpenAi,
        vec![too_many, ok(ProviderKind::OpenAi)],
    )
    .await;
    let deps = ProviderDeps::local(CpuSlots::new(1));
    let s = with_key(settings(&server), ProviderKind::OpenAi);
    // Two processes' worth of adapters over one capacity store.
    let first = Providers::new(&s, false, deps.clone());
    let second = Providers::new(&s, false, deps.clone());
    let model = |p: &Providers| {
        p.model(ModelId::GPT_IMAGE_2, Credentials::Platform)
            .expect("route")
    };
    let (a, b) = (model(&first), model(&second));
    let first_request = request("x");
    let limited = a.generate(&first_request);
    let other = async {
        // Starts after the first call's 429 has paused the key.
        tokio::time::sleep(Duration::from_millis(500)).await;
        b.generate(&request("y")).await
    };
    let (x, y) = tokio::join!(limited, other);
    x.expect("first");
    y.expect("second");
    let times = seq.times();
    assert_eq!(times.len(), 3);
    // Neither call went out again before the pause ended.
    for later in &times[1..] {
        assert!(
            *later - times[0] >= Duration::from_millis(1950),
            "{:?}",
            *later - times[0]
        );
    }
    let metrics = deps.metrics.render();
    assert!(
        metrics.contains("thumbforge_provider_rate_limited_total{provider=\"openai\"} 1"),
        "{metrics}"
    );
}

#[tokio::test]
async fn a_call_waiting_for_capacity_ends_at_the_deadline_without_calling() {
    let server = MockServer::start().await;
    let seq = mount(
        &server,
        ProviderKind::OpenAi,
        vec![ok(ProviderKind::OpenAi)],
    )
    .await;
    let mut s = with_key(settings(&server), ProviderKind::OpenAi);
    s.limits.openai.rpm = 1;
    let providers = Providers::new(&s, false, ProviderDeps::local(CpuSlots::new(1)));
    let model = providers
        .model(ModelId::GPT_IMAGE_2, Credentials::Platform)
        .expect("route");
    model.generate(&request("x")).await.expect("the first call");
    // The next start is a minute away; the job's deadline comes first.
    let next = request("y");
    let waited = tokio::time::timeout(Duration::from_millis(300), model.generate(&next)).await;
    assert!(waited.is_err(), "still waiting at the deadline");
    assert_eq!(
        seq.times().len(),
        1,
        "the waiting call never reached the provider"
    );
}

#[tokio::test]
async fn server_errors_exhaust_the_attempts_and_400_is_not_retried() {
    for provider in ProviderKind::ALL {
        let server = MockServer::start().await;
        let seq = mount(&server, provider, vec![ResponseTemplate::new(503)]).await;
        let err = generate(&server, provider, &request("x"))
            .await
            .expect_err("fails");
        assert!(err.is_retryable(), "{provider}: {err}");
        assert_eq!(seq.times().len(), 3, "{provider}: max_attempts calls");

        let server = MockServer::start().await;
        let bad = ResponseTemplate::new(400).set_body_json(json!({
            "error": { "code": "invalid_value", "message": "Invalid size, key sk-secret-1234 leaked?" }
        }));
        let seq = mount(&server, provider, vec![bad]).await;
        let err = generate(&server, provider, &request("x"))
            .await
            .expect_err("fails");
        assert!(
            matches!(err, ProviderError::Permanent(_)),
            "{provider}: {err}"
        );
        assert!(
            !err.public_message().contains("sk-secret"),
            "no provider detail leaks"
        );
        assert_eq!(seq.times().len(), 1, "{provider}: not retried");
    }
}

#[tokio::test]
async fn a_provider_that_does_not_answer_times_out() {
    for provider in ProviderKind::ALL {
        let server = MockServer::start().await;
        let slow = fix_fal(&server, ok(provider), provider).set_delay(Duration::from_secs(3));
        let seq = mount(&server, provider, vec![slow]).await;
        let err = generate(&server, provider, &request("x"))
            .await
            .expect_err("times out");
        assert!(matches!(err, ProviderError::Timeout), "{provider}: {err}");
        assert_eq!(seq.times().len(), 3, "{provider}: each attempt timed out");
        assert!(err.public_message().contains("did not answer in time"));
    }
}

#[tokio::test]
async fn gemini_safety_finish_reasons_are_a_generic_safety_error() {
    for reason in ["IMAGE_SAFETY", "IMAGE_PROHIBITED_CONTENT", "NO_IMAGE"] {
        let server = MockServer::start().await;
        let seq = mount(&server, ProviderKind::Google, vec![gemini_blocked(reason)]).await;
        let err = generate(&server, ProviderKind::Google, &request("x"))
            .await
            .expect_err("blocked");
        assert!(matches!(err, ProviderError::Safety), "{reason}: {err}");
        assert_eq!(seq.times().len(), 1, "{reason}: never retried");
        assert!(!err.public_message().contains(reason));
    }
}

#[tokio::test]
async fn openai_moderation_and_fal_nsfw_are_safety_errors() {
    let server = MockServer::start().await;
    let blocked = ResponseTemplate::new(400).set_body_json(json!({
        "error": { "message": "Your request was rejected by the safety system.", "type": "image_generation_user_error",
                   "param": null, "code": "moderation_blocked" }
    }));
    mount(&server, ProviderKind::OpenAi, vec![blocked]).await;
    let err = generate(&server, ProviderKind::OpenAi, &request("x"))
        .await
        .expect_err("blocked");
    assert!(matches!(err, ProviderError::Safety), "{err}");

    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/fal-ai/nano-banana/requests/req-1"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "images": [{ "url": format!("{}/files/out.png", server.uri()) }], "has_nsfw_concepts": [true]
        })))
        .with_priority(1)
        .mount(&server)
        .await;
    mount(
        &server,
        ProviderKind::Fal,
        vec![fix_fal(&server, ok(ProviderKind::Fal), ProviderKind::Fal)],
    )
    .await;
    let err = generate(&server, ProviderKind::Fal, &request("x"))
        .await
        .expect_err("nsfw");
    assert!(matches!(err, ProviderError::Safety), "{err}");
}

#[tokio::test]
async fn kie_body_codes_and_failed_tasks_map_like_http() {
    // kie reports a rate limit as HTTP 200 with code 429 in the body.
    let server = MockServer::start().await;
    let limited =
        ResponseTemplate::new(200).set_body_json(json!({ "code": 429, "msg": "rate limited" }));
    let seq = mount(
        &server,
        ProviderKind::Kie,
        vec![limited, ok(ProviderKind::Kie)],
    )
    .await;
    generate(&server, ProviderKind::Kie, &request("x"))
        .await
        .expect("retried");
    assert_eq!(seq.times().len(), 2);

    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/api/v1/jobs/recordInfo"))
        .respond_with(ResponseTemplate::new(200).set_body_json(
            json!({ "code": 200, "msg": "success",
            "data": { "taskId": "task_nano-banana-pro_1", "state": "fail", "resultJson": "",
                      "failCode": "500", "failMsg": "internal" } }),
        ))
        .with_priority(1)
        .mount(&server)
        .await;
    mount(&server, ProviderKind::Kie, vec![ok(ProviderKind::Kie)]).await;
    let err = generate(&server, ProviderKind::Kie, &request("x"))
        .await
        .expect_err("failed task");
    assert!(matches!(err, ProviderError::Permanent(_)), "{err}");
}

#[tokio::test]
async fn references_travel_in_each_documented_form() {
    let reference = Reference {
        image: image::DynamicImage::ImageRgb8(image::RgbImage::new(8, 8)),
        png: png(8, 8),
        url: Some("https://img.example/ref.png".to_owned()),
        role: ReferenceRole::Image,
    };
    let mut req = request("with a reference");
    req.references.push(reference.clone());

    // OpenAI: the edits endpoint, multipart with an image[] part.
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/images/edits"))
        .respond_with(openai_ok())
        .mount(&server)
        .await;
    generate(&server, ProviderKind::OpenAi, &req)
        .await
        .expect("edit");
    let received = server.received_requests().await.expect("recorded");
    let body = String::from_utf8_lossy(&received[0].body);
    assert!(body.contains("name=\"image[]\""), "multipart image part");
    assert!(body.contains("name=\"model\"") && body.contains("gpt-image-2"));

    // Gemini: inlineData parts after the text.
    let server = MockServer::start().await;
    let seq = mount(&server, ProviderKind::Google, vec![gemini_ok()]).await;
    generate(&server, ProviderKind::Google, &req)
        .await
        .expect("gemini");
    assert_eq!(seq.times().len(), 1);
    let received = server.received_requests().await.expect("recorded");
    let sent: Value = serde_json::from_slice(&received[0].body).expect("json");
    assert_eq!(sent["contents"][0]["parts"][0]["text"], "with a reference");
    assert_eq!(
        sent["contents"][0]["parts"][1]["inlineData"]["mimeType"],
        "image/png"
    );

    // kie: the URL in image_input.
    let server = MockServer::start().await;
    mount(&server, ProviderKind::Kie, vec![ok(ProviderKind::Kie)]).await;
    generate(&server, ProviderKind::Kie, &req)
        .await
        .expect("kie");
    let received = server.received_requests().await.expect("recorded");
    let sent: Value = serde_json::from_slice(&received[0].body).expect("json");
    assert_eq!(
        sent["input"]["image_input"][0],
        "https://img.example/ref.png"
    );
}

#[test]
fn routing_follows_the_catalogue_and_the_configured_keys() {
    let server_settings = Settings::defaults_in(std::path::Path::new("/x")).providers;
    let none = Providers::new(
        &server_settings,
        false,
        ProviderDeps::local(CpuSlots::new(1)),
    );
    assert!(
        none.route(ModelId::GEMINI_3_PRO, ProviderChoice::Platform)
            .is_err()
    );
    assert!(none.route(ModelId::LOCAL, ProviderChoice::Platform).is_ok());
    let mut with_fal = server_settings.clone();
    with_fal.fal_key = Some("k".to_owned().into());
    let p = Providers::new(&with_fal, false, ProviderDeps::local(CpuSlots::new(1)));
    let Ok(crate::Serving::Route(route)) = p.route(ModelId::GEMINI_3_PRO, ProviderChoice::Platform)
    else {
        panic!("fal serves it");
    };
    assert_eq!(
        (route.provider, route.model),
        (ProviderKind::Fal, "fal-ai/nano-banana-pro")
    );
    // BYOK needs no server key, only a route on that provider.
    assert!(
        none.route(
            ModelId::GPT_IMAGE_2,
            ProviderChoice::Byok(ProviderKind::OpenAi)
        )
        .is_ok()
    );
    assert!(
        none.route(
            ModelId::GPT_IMAGE_2,
            ProviderChoice::Byok(ProviderKind::Google)
        )
        .is_err()
    );
}
