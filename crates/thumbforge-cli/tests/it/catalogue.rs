//! The operator's catalogue: models added in configuration, served by
//! self-hosted backends (an AUTOMATIC1111-compatible server and an
//! OpenAI-compatible endpoint, both mocks speaking their documented wire
//! formats), listed, priced and refused like the built-in ones.

use base64::{Engine, engine::general_purpose::STANDARD};
use serde_json::{Value, json};
use thumbforge_config::{BackendSettings, CatalogueEntrySettings};
use wiremock::{
    Mock, MockServer, ResponseTemplate,
    matchers::{method, path},
};

use crate::helpers::TestApp;

fn png_b64(width: u32, height: u32) -> String {
    let mut out = std::io::Cursor::new(Vec::new());
    image::DynamicImage::ImageRgb8(image::RgbImage::from_fn(width, height, |x, y| {
        image::Rgb([(x % 256) as u8, (y % 256) as u8, 90])
    }))
    .write_to(&mut out, image::ImageFormat::Png)
    .expect("png");
    STANDARD.encode(out.into_inner())
}

fn backend(settings: Value) -> BackendSettings {
    serde_json::from_value(settings).expect("backend settings")
}

fn entry(route: &str, credits: u32) -> CatalogueEntrySettings {
    CatalogueEntrySettings {
        routes: vec![route.to_owned()],
        credits,
        plan: "free".to_owned(),
    }
}

#[tokio::test]
async fn operator_models_on_self_hosted_backends_make_thumbnails() {
    let gpu = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/sdapi/v1/txt2img"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "images": [png_b64(1280, 720)],
            "parameters": {},
            "info": "{}"
        })))
        .mount(&gpu)
        .await;
    Mock::given(method("GET"))
        .and(path("/sdapi/v1/progress"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "progress": 0.5, "eta_relative": 3.0, "state": {"job_count": 1}
        })))
        .mount(&gpu)
        .await;
    Mock::given(method("POST"))
        .and(path("/v1/images/generations"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "created": 1, "data": [{ "b64_json": png_b64(1024, 1024) }]
        })))
        .mount(&gpu)
        .await;
    let uri = gpu.uri();
    let app = TestApp::spawn_with(move |s| {
        s.backends.insert(
            "gpu-box".to_owned(),
            backend(json!({"kind": "sdapi", "base_url": uri, "steps": 12})),
        );
        s.backends.insert(
            "local-ai".to_owned(),
            backend(json!({"kind": "openai-compatible", "base_url": uri, "model": "sd-3.5"})),
        );
        s.models
            .catalogue
            .insert("my-sdxl".to_owned(), entry("backend:gpu-box", 2));
        s.models
            .catalogue
            .insert("my-sd35".to_owned(), entry("backend:local-ai", 1));
    })
    .await;

    for (model, count) in [("my-sdxl", 2), ("my-sd35", 1)] {
        let id = app
            .generate(
                &app.key,
                json!({"prompt": "a cat astronaut", "model": model, "count": count}),
            )
            .await;
        let done = app.wait_terminal(&app.key, &id).await;
        assert_eq!(done["status"], "succeeded", "{done}");
        for t in done["thumbnails"].as_array().expect("thumbnails") {
            let bytes = app
                .download(t["url"].as_str().expect("url"))
                .await
                .bytes()
                .await
                .expect("bytes");
            let image = image::load_from_memory(&bytes).expect("an image");
            assert_eq!((image.width(), image.height()), (1280, 720));
        }
    }

    let requests = gpu.received_requests().await.expect("recorded");
    let body = |p: &str| -> Vec<Value> {
        requests
            .iter()
            .filter(|r| r.url.path() == p)
            .map(|r| serde_json::from_slice(&r.body).expect("json body"))
            .collect()
    };
    let txt2img = body("/sdapi/v1/txt2img");
    assert_eq!(txt2img.len(), 2, "one call per thumbnail");
    assert!(
        txt2img[0]["prompt"]
            .as_str()
            .expect("prompt")
            .contains("a cat astronaut")
    );
    assert_eq!(txt2img[0]["steps"], 12);
    let generations = body("/v1/images/generations");
    assert_eq!(generations.len(), 1);
    assert_eq!(generations[0]["model"], "sd-3.5");

    // The catalogue lists them with the operator's prices.
    let (status, models) = app.get_json(&app.key, "/api/v1/models").await;
    assert_eq!(status, 200);
    let mine = models["data"]
        .as_array()
        .expect("models")
        .iter()
        .find(|m| m["name"] == "my-sdxl")
        .cloned()
        .expect("listed");
    assert_eq!(
        (mine["credits"].clone(), mine["available"].clone()),
        (json!(2), json!(true))
    );

    // A name no catalogue holds is refused, as before.
    let refused = app
        .post_generate(&app.key, &json!({"prompt": "x", "model": "their-sdxl"}))
        .await;
    assert_eq!(refused.status(), 422);
    let problem: Value = refused.json().await.expect("problem");
    assert_eq!(problem["code"], "unknown_model");
}

#[tokio::test]
async fn a_backends_progress_reaches_the_record() {
    let gpu = MockServer::start().await;
    // The image takes a while; meanwhile the server says it is half done.
    Mock::given(method("POST"))
        .and(path("/sdapi/v1/txt2img"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_delay(std::time::Duration::from_secs(3))
                .set_body_json(json!({ "images": [png_b64(1280, 720)] })),
        )
        .mount(&gpu)
        .await;
    Mock::given(method("GET"))
        .and(path("/sdapi/v1/progress"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "progress": 0.5, "state": {"job_count": 1}
        })))
        .mount(&gpu)
        .await;
    let uri = gpu.uri();
    let app = TestApp::spawn_with(move |s| {
        s.providers.poll_interval_ms = 50;
        s.backends.insert(
            "gpu-box".to_owned(),
            backend(json!({"kind": "sdapi", "base_url": uri})),
        );
        s.models
            .catalogue
            .insert("my-sdxl".to_owned(), entry("backend:gpu-box", 1));
    })
    .await;
    let id = app
        .generate(&app.key, json!({"prompt": "slow", "model": "my-sdxl"}))
        .await;
    let seen = app
        .first_progress_until(&app.key, &id, |p| p["provider"]["percent"].is_number())
        .await;
    assert_eq!(seen["provider"], json!({"stage": "running", "percent": 50}));
    let done = app.wait_terminal(&app.key, &id).await;
    assert_eq!(done["status"], "succeeded", "{done}");
}
