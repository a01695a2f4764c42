//! The whole path: generate → poll → download, as a FatThumb client does it.

use std::collections::HashSet;

use serde_json::{Value, json};

use crate::helpers::{TestApp, png_dimensions, prompt};

#[tokio::test]
async fn generate_poll_download_gives_real_pngs() {
    let app = TestApp::spawn().await;
    let response = app
        .post_generate(
            &app.key,
            &json!({"prompt": "I built a Rust service in 24 hours", "count": 2}),
        )
        .await;
    assert_eq!(response.status(), 202);
    let location = response.headers()["location"]
        .to_str()
        .expect("ascii")
        .to_owned();
    let accepted: Value = response.json().await.expect("json");
    let id = accepted["generationId"].as_str().expect("id");
    assert_eq!(location, format!("/api/v1/generations/{id}"));
    assert_eq!(accepted["status"], "processing");
    assert_eq!(accepted["thumbnailIds"].as_array().map(Vec::len), Some(2));

    let done = app.wait_terminal(&app.key, id).await;
    assert_eq!(done["status"], "succeeded");
    assert_eq!(done["model"], "local", "the server default applies");
    assert_eq!(done["count"], 2);
    assert!(
        done["createdAt"]
            .as_i64()
            .is_some_and(|t| t > 1_700_000_000_000),
        "createdAt is Unix ms"
    );
    // Exactly the documented fields (FatThumb's, then the extensions that
    // say what it was made from), no more.
    let mut keys: Vec<_> = done.as_object().expect("object").keys().cloned().collect();
    keys.sort();
    assert_eq!(
        keys,
        [
            "aspectRatio",
            "count",
            "createdAt",
            "id",
            "model",
            "prompt",
            "status",
            "thumbnails",
            "title"
        ]
    );
    assert_eq!(done["prompt"], "I built a Rust service in 24 hours");
    assert_eq!(done["aspectRatio"], "16:9");
    assert_eq!(done["title"], Value::Null);

    let thumbs = done["thumbnails"].as_array().expect("thumbnails");
    let ids: Vec<_> = thumbs
        .iter()
        .map(|t| t["id"].as_str().expect("id").to_owned())
        .collect();
    assert_eq!(Value::from(ids), accepted["thumbnailIds"]);
    for t in thumbs {
        let mut fields: Vec<_> = t.as_object().expect("object").keys().cloned().collect();
        fields.sort();
        // FatThumb's fields, and thumbforge's two: the stored file's
        // format and size.
        assert_eq!(
            fields,
            [
                "error",
                "fileSizeBytes",
                "format",
                "id",
                "isHidden",
                "isWatermarked",
                "status",
                "url"
            ]
        );
        assert_eq!(t["status"], "succeeded");
        assert_eq!(t["isWatermarked"], false);
        assert_eq!(t["isHidden"], false);
        assert!(t["error"].is_null());
        let url = t["url"].as_str().expect("url once succeeded");
        let image = app.download(url).await;
        assert_eq!(image.status(), 200);
        assert_eq!(image.headers()["content-type"], "image/png");
        let bytes = image.bytes().await.expect("bytes");
        assert_eq!(png_dimensions(&bytes), (1280, 720));
    }
}

#[tokio::test]
async fn url_is_null_while_processing() {
    let app = TestApp::spawn().await;
    let id = app
        .generate(
            &app.key,
            json!({"prompt": "slow [sleep:1500]", "model": "test"}),
        )
        .await;
    let body: Value = app
        .get_generation(&app.key, &id)
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(body["status"], "processing");
    assert_eq!(body["thumbnails"][0]["status"], "processing");
    assert!(body["thumbnails"][0]["url"].is_null());
    let done = app.wait_terminal(&app.key, &id).await;
    assert_eq!(done["status"], "succeeded");
}

#[tokio::test]
async fn count_four_gives_four_distinct_thumbnails() {
    let app = TestApp::spawn().await;
    let id = app
        .generate(
            &app.key,
            json!({"prompt": "Four takes on one idea", "count": 4}),
        )
        .await;
    let done = app.wait_terminal(&app.key, &id).await;
    assert_eq!(done["status"], "succeeded");
    let thumbs = done["thumbnails"].as_array().expect("thumbnails");
    assert_eq!(thumbs.len(), 4);
    let mut ids = HashSet::new();
    let mut images = HashSet::new();
    for t in thumbs {
        ids.insert(t["id"].as_str().expect("id").to_owned());
        let bytes = app
            .download(t["url"].as_str().expect("url"))
            .await
            .bytes()
            .await
            .expect("bytes");
        assert_eq!(png_dimensions(&bytes), (1280, 720));
        images.insert(bytes.to_vec());
    }
    assert_eq!(ids.len(), 4, "four thumbnail ids");
    assert_eq!(images.len(), 4, "four different images");
}

#[tokio::test]
async fn aspect_ratios_give_their_documented_sizes() {
    let app = TestApp::spawn().await;
    for (ratio, size) in [
        ("16:9", (1280, 720)),
        ("4:3", (960, 720)),
        ("1:1", (720, 720)),
    ] {
        let id = app
            .generate(&app.key, json!({"prompt": "Shapes", "aspectRatio": ratio}))
            .await;
        let done = app.wait_terminal(&app.key, &id).await;
        let url = done["thumbnails"][0]["url"].as_str().expect("url");
        let bytes = app.download(url).await.bytes().await.expect("bytes");
        assert_eq!(png_dimensions(&bytes), size, "aspect ratio {ratio}");
    }
}

#[tokio::test]
async fn timestamps_durations_and_sizes_are_recorded() {
    use thumbforge_db::thumbnails;
    let app = TestApp::spawn().await;
    let id = app.generate(&app.key, prompt("Recorded facts")).await;
    let done = app.wait_terminal(&app.key, &id).await;
    let thumb_id = done["thumbnails"][0]["id"].as_str().expect("id");
    let row = thumbnails::find(app.db(), thumb_id)
        .await
        .expect("db")
        .expect("row");
    let bytes = app
        .download(done["thumbnails"][0]["url"].as_str().expect("url"))
        .await
        .bytes()
        .await
        .expect("bytes");
    assert_eq!(row.file_size_bytes, Some(bytes.len() as i64));
    assert_eq!((row.width, row.height), (Some(1280), Some(720)));
    assert!(row.generation_time_ms.is_some_and(|ms| ms >= 0));
    let (started, completed) = (
        row.started_at.expect("started"),
        row.completed_at.expect("completed"),
    );
    assert!(row.created_at <= started && started <= completed);
    assert!(row.enqueued_at.is_some());
    assert_eq!(
        row.lease_expires_at, None,
        "a finished thumbnail holds no lease"
    );
}

#[tokio::test]
async fn health_endpoints_answer() {
    let app = TestApp::spawn().await;
    assert_eq!(app.get("/healthz").await.status(), 200);
    let readyz = app.get("/readyz").await;
    assert_eq!(readyz.status(), 200);
    let body: Value = readyz.json().await.expect("json");
    assert_eq!(body["database"], true);
    assert_eq!(body["queue"], true);
}

#[tokio::test]
async fn metrics_count_requests_and_jobs() {
    let app = TestApp::spawn().await;
    let id = app
        .generate(&app.key, json!({"prompt": "metered", "count": 2}))
        .await;
    app.wait_terminal(&app.key, &id).await;
    // The queue acknowledges a job just after its outcome is written, so
    // the generation can be terminal a moment before the queue is empty.
    let mut text = String::new();
    for _ in 0..50 {
        text = app.text("/metrics").await;
        if text.lines().any(|l| l == "thumbforge_queue_depth 0") {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let value = |series: &str| -> f64 {
        text.lines()
            .find_map(|l| l.strip_prefix(series)?.trim().parse().ok())
            .unwrap_or_else(|| panic!("no {series} in\n{text}"))
    };
    assert_eq!(
        value(
            r#"thumbforge_http_requests_total{method="POST",route="/api/v1/generate",status="202"}"#
        ),
        1.0
    );
    assert!(
        value(
            r#"thumbforge_http_requests_total{method="GET",route="/api/v1/generations/{id}",status="200"}"#
        ) >= 1.0
    );
    assert_eq!(value("thumbforge_jobs_started_total"), 2.0);
    assert_eq!(value("thumbforge_jobs_succeeded_total"), 2.0);
    assert_eq!(value("thumbforge_jobs_failed_total"), 0.0);
    assert_eq!(value("thumbforge_job_duration_seconds_count"), 2.0);
    assert_eq!(value("thumbforge_job_enqueue_to_start_seconds_count"), 2.0);
    assert_eq!(value("thumbforge_queue_depth"), 0.0);
    assert_eq!(value("thumbforge_queue_oldest_age_seconds"), 0.0);
    assert_eq!(
        value(r#"thumbforge_model_calls_total{model="local",outcome="ok"}"#),
        2.0
    );
    assert!(text.contains(r#"thumbforge_http_request_duration_seconds_bucket{le="#));
}

#[tokio::test]
async fn metrics_can_move_off_the_public_port() {
    let app = TestApp::spawn_with(|s| s.api.metrics_bind = Some("127.0.0.1:0".to_owned())).await;
    let port = app
        .app
        .as_ref()
        .and_then(|a| a.metrics_port())
        .expect("a metrics port");
    assert_ne!(Some(port), app.app.as_ref().map(|a| a.port()));
    let public = app
        .client
        .get(format!("{}/metrics", app.address))
        .send()
        .await
        .expect("sent");
    assert_eq!(public.status(), 404, "the public port no longer serves it");
    let apart = app
        .client
        .get(format!("http://127.0.0.1:{port}/metrics"))
        .send()
        .await
        .expect("sent");
    assert_eq!(apart.status(), 200);
    let text = apart.text().await.expect("text");
    assert!(text.contains("thumbforge_queue_depth"), "{text}");
    let other = app
        .client
        .get(format!("http://127.0.0.1:{port}/api/v1/models"))
        .send()
        .await
        .expect("sent");
    assert_eq!(other.status(), 404, "the metrics port serves nothing else");
}

#[tokio::test]
async fn model_failures_and_queue_age_are_measured() {
    // No workers: what is queued waits, and its age shows.
    let app = TestApp::spawn_with(|s| s.worker.concurrency = Some(0)).await;
    app.generate(&app.key, json!({"prompt": "waiting"})).await;
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let text = app.text("/metrics").await;
    let age: f64 = text
        .lines()
        .find_map(|l| {
            l.strip_prefix("thumbforge_queue_oldest_age_seconds ")?
                .parse()
                .ok()
        })
        .expect("the age series");
    assert!(age >= 1.0, "{age}");

    let app = TestApp::spawn().await;
    let id = app
        .generate(&app.key, json!({"prompt": "[fail]", "model": "test"}))
        .await;
    app.wait_terminal(&app.key, &id).await;
    let text = app.text("/metrics").await;
    assert!(
        text.lines()
            .any(|l| l == r#"thumbforge_model_calls_total{model="test",outcome="refused"} 1"#),
        "{text}"
    );
}

#[tokio::test]
async fn the_openapi_spec_and_its_docs_ui_are_served_offline() {
    let app = crate::helpers::TestApp::spawn().await;
    let spec: Value = app
        .get("/api/v1/openapi.json")
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(spec["openapi"], "3.1.0");
    for path in [
        "/api/v1/generate",
        "/api/v1/generations/{id}",
        "/api/v1/thumbnail-generator/generate",
        "/api/v1/assets",
    ] {
        assert!(spec["paths"][path].is_object(), "{path} documented");
    }
    let checked_in: Value = serde_json::from_str(include_str!("../../../../docs/openapi.json"))
        .expect("docs/openapi.json parses");
    assert_eq!(spec, checked_in, "served and checked-in specs agree");
    let ui = app.get("/docs/").await;
    assert_eq!(ui.status(), 200);
    let html = ui.text().await.expect("html");
    assert!(html.contains("swagger-ui"), "the bundled Swagger UI");
    assert!(
        !html.contains("cdn") && !html.contains("unpkg"),
        "nothing from a CDN"
    );
}
