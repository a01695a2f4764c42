//! Real provider adapters end to end, against local mocks: outcomes reach
//! the thumbnails, safety errors stay generic, and bring-your-own-key
//! routing, its refusals and its encryption at rest.

use base64::{Engine, engine::general_purpose::STANDARD};
use image::ImageEncoder;
use reqwest::Method;
use sea_orm::{ConnectionTrait, Statement};
use serde_json::{Value, json};
use thumbforge_core::Plan;
use thumbforge_db::{crypto::Sealer, entities::generations};
use wiremock::{
    Mock, MockServer, ResponseTemplate,
    matchers::{header, method, path},
};

use crate::helpers::TestApp;

fn png_b64() -> String {
    let mut out = std::io::Cursor::new(Vec::new());
    image::DynamicImage::ImageRgb8(image::RgbImage::from_pixel(
        2048,
        1152,
        image::Rgb([1, 2, 3]),
    ))
    .write_to(&mut out, image::ImageFormat::Png)
    .expect("png");
    STANDARD.encode(out.into_inner())
}

pub fn openai_ok() -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(json!({
        "created": 1713833628,
        "data": [{ "b64_json": png_b64() }],
        "usage": { "total_tokens": 100, "input_tokens": 50, "output_tokens": 50 }
    }))
}

/// An app whose providers point at `mock`, with fast retries.
pub async fn app_with_mock(mock: &MockServer, server_keys: bool) -> TestApp {
    let uri = mock.uri();
    TestApp::spawn_with(move |s| {
        s.providers.openai_base_url = uri.clone();
        s.providers.gemini_base_url = uri.clone();
        s.providers.fal_queue_url = uri.clone();
        s.providers.kie_base_url = uri;
        s.providers.max_attempts = 2;
        s.providers.backoff_base_ms = 1;
        s.providers.backoff_max_ms = 50;
        s.providers.timeout_secs = 10;
        s.providers.limits = thumbforge_config::ProviderLimitTable::unlimited();
        s.providers.byok_limits = thumbforge_config::ProviderLimitTable::unlimited();
        if server_keys {
            s.providers.openai_api_key = Some("server-openai-key".to_owned().into());
            s.providers.gemini_api_key = Some("server-gemini-key".to_owned().into());
        }
    })
    .await
}

async fn generation_row(app: &TestApp, id: &str) -> generations::Model {
    use sea_orm::EntityTrait;
    generations::Entity::find_by_id(id.to_owned())
        .one(app.db().conn())
        .await
        .expect("read")
        .expect("row")
}

#[tokio::test]
async fn provider_outcomes_reach_the_thumbnails() {
    let mock = MockServer::start().await;
    // One success, then server errors: of two thumbnails one succeeds and
    // the other exhausts its attempts.
    Mock::given(method("POST"))
        .and(path("/v1/images/generations"))
        .respond_with(openai_ok())
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&mock)
        .await;
    Mock::given(method("POST"))
        .and(path("/v1/images/generations"))
        .respond_with(
            ResponseTemplate::new(500)
                .set_body_json(json!({"error": {"message": "boom", "type": "server_error"}})),
        )
        .mount(&mock)
        .await;
    Mock::given(method("POST"))
        .and(path("/v1beta/models/gemini-3-pro-image-preview:generateContent"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "candidates": [{ "content": { "role": "model", "parts": [] }, "finishReason": "IMAGE_SAFETY", "index": 0 }]
        })))
        .mount(&mock)
        .await;
    let app = app_with_mock(&mock, true).await;

    let id = app
        .generate(
            &app.key,
            json!({"prompt": "two tries", "model": "gpt-image-2", "count": 2}),
        )
        .await;
    let done = app.wait_terminal(&app.key, &id).await;
    assert_eq!(done["status"], "partial", "{done}");
    let errors: Vec<&str> = done["thumbnails"]
        .as_array()
        .expect("thumbnails")
        .iter()
        .filter_map(|t| t["error"].as_str())
        .collect();
    assert_eq!(errors.len(), 1, "{done}");
    assert!(errors[0].contains("unavailable"), "{}", errors[0]);
    assert!(!errors[0].contains("boom"), "provider detail never shown");
    // 1 success + 2 attempts for the failed thumbnail.
    let openai_calls = mock
        .received_requests()
        .await
        .expect("recorded")
        .iter()
        .filter(|r| r.url.path() == "/v1/images/generations")
        .count();
    assert_eq!(openai_calls, 3);
    // 2 x 8 credits, the failed thumbnail's 8 refunded.
    let row = generation_row(&app, &id).await;
    assert_eq!(
        (row.provider_used.as_str(), row.credits_consumed),
        ("system", 8)
    );

    let id = app
        .generate(
            &app.key,
            json!({"prompt": "blocked", "model": "gemini-3-pro"}),
        )
        .await;
    let done = app.wait_terminal(&app.key, &id).await;
    assert_eq!(done["status"], "failed", "{done}");
    let error = done["thumbnails"][0]["error"].as_str().expect("error");
    assert!(error.contains("content policy"), "{error}");
    assert!(!error.contains("IMAGE_SAFETY"), "{error}");
    // Priced at 6 credits on the platform's key, all refunded on failure.
    let row = generation_row(&app, &id).await;
    assert_eq!(
        (row.provider_used.as_str(), row.credits_consumed),
        ("system", 0)
    );
}

#[tokio::test]
async fn a_png_at_the_target_size_is_stored_as_it_came_and_watermarked_from_its_pixels() {
    let picture = image::RgbImage::from_fn(1280, 720, |x, y| {
        image::Rgb([(x % 251) as u8, (y % 241) as u8, ((x * y) % 239) as u8])
    });
    // Compressed harder than the worker's own encode, so a re-encode would
    // show.
    let mut answer = Vec::new();
    image::codecs::png::PngEncoder::new_with_quality(
        &mut answer,
        image::codecs::png::CompressionType::Best,
        image::codecs::png::FilterType::Adaptive,
    )
    .write_image(picture.as_raw(), 1280, 720, image::ExtendedColorType::Rgb8)
    .expect("png");
    let mock = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/images/generations"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "created": 1713833628,
            "data": [{ "b64_json": STANDARD.encode(&answer) }],
        })))
        .mount(&mock)
        .await;
    let app = app_with_mock(&mock, true).await;
    let free = app.create_key("free-org", Plan::Free).await;

    // Pro: the provider's file itself (it has only critical chunks).
    let id = app
        .generate(
            &app.key,
            json!({"prompt": "as it came", "model": "gpt-image-2"}),
        )
        .await;
    let done = app.wait_terminal(&app.key, &id).await;
    assert_eq!(done["status"], "succeeded", "{done}");
    let url = done["thumbnails"][0]["url"].as_str().expect("url");
    let stored = app.download(url).await.bytes().await.expect("bytes");
    assert!(stored == answer, "the clean file is the provider's PNG");

    // Free: the watermark is drawn on the provider's pixels.
    let id = app
        .generate(&free, json!({"prompt": "marked", "model": "creative"}))
        .await;
    let done = app.wait_terminal(&free, &id).await;
    assert_eq!(done["status"], "succeeded", "{done}");
    let url = done["thumbnails"][0]["url"].as_str().expect("url");
    let marked = app.download(url).await.bytes().await.expect("bytes");
    let mut expected = picture;
    thumbforge_render::apply_watermark(&mut expected);
    let marked = image::load_from_memory(&marked).expect("png").to_rgb8();
    assert!(
        marked == expected,
        "the watermark over the provider's pixels"
    );
}

#[tokio::test]
async fn byok_uses_the_orgs_own_key_costs_nothing_and_is_sealed_at_rest() {
    let mock = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/images/generations"))
        .and(header("authorization", "Bearer sk-org-own-key"))
        .respond_with(openai_ok())
        .mount(&mock)
        .await;
    // No server keys at all: only the org's key can serve the model.
    let app = app_with_mock(&mock, false).await;
    let body = json!({"prompt": "mine", "model": "gpt-image-2", "provider": "openai"});

    let refused = app.post_generate(&app.key, &body).await;
    assert_eq!(refused.status(), 422);
    let problem: Value = refused.json().await.expect("json");
    assert_eq!(problem["code"], "provider_not_configured", "{problem}");

    let set = app
        .send(
            Method::PUT,
            "/api/v1/provider-keys/openai",
            &app.key,
            Some(&json!({"apiKey": "sk-org-own-key"})),
        )
        .await;
    assert_eq!(set.status(), 204);
    let listed: Value = app
        .send(Method::GET, "/api/v1/provider-keys", &app.key, None)
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(listed["data"][0]["provider"], "openai");
    assert!(
        !listed.to_string().contains("sk-org-own-key"),
        "never returned"
    );

    let id = app.generate(&app.key, body.clone()).await;
    let done = app.wait_terminal(&app.key, &id).await;
    assert_eq!(done["status"], "succeeded", "{done}");
    let row = generation_row(&app, &id).await;
    assert_eq!(
        (row.provider_used.as_str(), row.credits_consumed),
        ("openai", 0)
    );

    // The platform path has no server key for this model.
    let platform = app
        .post_generate(&app.key, &json!({"prompt": "x", "model": "gpt-image-2"}))
        .await;
    let problem: Value = platform.json().await.expect("json");
    assert_eq!(problem["code"], "model_not_configured");

    // Another org's key does not serve this org.
    let other = app.create_key("other-org", Plan::Pro).await;
    let response = app.post_generate(&other, &body).await;
    assert_eq!(response.status(), 422);

    // At rest: the raw row holds no plaintext, and opens only with this
    // server's secret and this row's identity.
    let raw = app
        .db()
        .conn()
        .query_one_raw(Statement::from_string(
            app.db().conn().get_database_backend(),
            "SELECT org_id, sealed FROM provider_keys",
        ))
        .await
        .expect("query")
        .expect("row");
    let org_id: String = raw.try_get("", "org_id").expect("org_id");
    let sealed: String = raw.try_get("", "sealed").expect("sealed");
    assert!(!sealed.contains("sk-org-own-key"));
    assert!(
        !STANDARD
            .decode(&sealed)
            .expect("base64")
            .windows(14)
            .any(|w| w == b"sk-org-own-key")
    );
    let secret = app.settings.resolve_secret().expect("secret");
    let sealer = Sealer::from_secret(secrecy::ExposeSecret::expose_secret(&secret));
    assert_eq!(
        sealer
            .open(&sealed, &format!("{org_id}/openai"))
            .ok()
            .as_deref(),
        Some("sk-org-own-key")
    );
    assert!(
        Sealer::from_secret("another secret")
            .open(&sealed, &format!("{org_id}/openai"))
            .is_err()
    );
    // Every call went out with the org's key.
    for request in mock.received_requests().await.expect("recorded") {
        assert_eq!(
            request
                .headers
                .get("authorization")
                .and_then(|v| v.to_str().ok()),
            Some("Bearer sk-org-own-key")
        );
    }

    let removed = app
        .send(
            Method::DELETE,
            "/api/v1/provider-keys/openai",
            &app.key,
            None,
        )
        .await;
    assert_eq!(removed.status(), 204);
    let refused = app.post_generate(&app.key, &body).await;
    assert_eq!(refused.status(), 422);
}

#[tokio::test]
async fn provider_choices_and_plans_are_checked_at_submit() {
    let app = TestApp::spawn().await;
    let free = app.create_key("free-org", Plan::Free).await;
    for (key, body, status, code) in [
        (
            &app.key,
            json!({"prompt": "x", "model": "gpt-image-2", "provider": "google"}),
            422,
            "model_not_on_provider",
        ),
        (
            &app.key,
            json!({"prompt": "x", "provider": "azure"}),
            422,
            "unknown_provider",
        ),
        (
            &app.key,
            json!({"prompt": "x", "model": "local", "provider": "openai"}),
            422,
            "model_not_on_provider",
        ),
        (
            &free,
            json!({"prompt": "x", "model": "gpt-image-2"}),
            403,
            "plan_required",
        ),
        (
            &free,
            json!({"prompt": "x", "model": "gemini-3-pro", "provider": "google"}),
            422,
            "byok_not_in_plan",
        ),
        (
            &app.key,
            json!({"prompt": "x", "model": "pro"}),
            422,
            "model_not_configured",
        ),
    ] {
        let response = app.post_generate(key, &body).await;
        assert_eq!(response.status(), status, "{body}");
        let problem: Value = response.json().await.expect("json");
        assert_eq!(problem["code"], code, "{body}");
    }
    let put = app
        .send(
            Method::PUT,
            "/api/v1/provider-keys/azure",
            &app.key,
            Some(&json!({"apiKey": "k"})),
        )
        .await;
    assert_eq!(put.status(), 422);
}

/// fal's status answers `IN_QUEUE` at position 5 until released.
struct HeldInFalsQueue(std::sync::Arc<std::sync::atomic::AtomicBool>);

impl wiremock::Respond for HeldInFalsQueue {
    fn respond(&self, _: &wiremock::Request) -> ResponseTemplate {
        if self.0.load(std::sync::atomic::Ordering::SeqCst) {
            ResponseTemplate::new(200).set_body_json(json!({ "status": "COMPLETED", "logs": [] }))
        } else {
            ResponseTemplate::new(202)
                .set_body_json(json!({ "status": "IN_QUEUE", "queue_position": 5 }))
        }
    }
}

#[tokio::test]
async fn a_providers_queue_position_reaches_the_record() {
    let mock = MockServer::start().await;
    let uri = mock.uri();
    Mock::given(method("POST"))
        .and(path("/fal-ai/nano-banana-pro"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "request_id": "req-1",
            "status_url": format!("{uri}/fal-ai/nano-banana-pro/requests/req-1/status"),
            "response_url": format!("{uri}/fal-ai/nano-banana-pro/requests/req-1"),
        })))
        .mount(&mock)
        .await;
    let released = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    Mock::given(method("GET"))
        .and(path("/fal-ai/nano-banana-pro/requests/req-1/status"))
        .respond_with(HeldInFalsQueue(released.clone()))
        .mount(&mock)
        .await;
    Mock::given(method("GET"))
        .and(path("/fal-ai/nano-banana-pro/requests/req-1"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "images": [{ "url": format!("{uri}/files/out.png") }]
        })))
        .mount(&mock)
        .await;
    let png = STANDARD.decode(png_b64()).expect("png");
    Mock::given(method("GET"))
        .and(path("/files/out.png"))
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header("content-type", "image/png")
                .set_body_bytes(png),
        )
        .mount(&mock)
        .await;
    let app = TestApp::spawn_with(move |s| {
        s.providers.fal_queue_url = uri.clone();
        s.providers.fal_key = Some("server-fal-key".to_owned().into());
        s.providers.poll_interval_ms = 50;
        s.providers.timeout_secs = 30;
        s.providers.limits = thumbforge_config::ProviderLimitTable::unlimited();
    })
    .await;
    let id = app
        .generate(&app.key, json!({"prompt": "held", "model": "gemini-3-pro"}))
        .await;
    let seen = app
        .first_progress_until(&app.key, &id, |p| p["provider"]["queuePosition"] == 5)
        .await;
    assert_eq!(
        seen,
        json!({"stage": "rendering", "provider": {"stage": "queued", "queuePosition": 5}})
    );
    released.store(true, std::sync::atomic::Ordering::SeqCst);
    let done = app.wait_terminal(&app.key, &id).await;
    assert_eq!(done["status"], "succeeded", "{done}");
    assert!(done["thumbnails"][0].get("progress").is_none(), "{done}");
}
