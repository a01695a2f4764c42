//! Flokan's Thumbnail Generator API, field for field against the seed
//! document (`../shared/seeds/flokan-thumbnail-generator-api.txt`).

use std::collections::BTreeSet;

use base64::{Engine, engine::general_purpose::STANDARD};
use serde_json::{Value, json};
use thumbforge_core::Plan;
use wiremock::{
    Mock, MockServer, ResponseTemplate,
    matchers::{method, path, query_param},
};

use crate::helpers::{TestApp, json_answer};

const BASE: &str = "/api/v1/thumbnail-generator";

async fn gemini_mock() -> MockServer {
    let mock = MockServer::start().await;
    let mut png = std::io::Cursor::new(Vec::new());
    image::DynamicImage::ImageRgb8(image::RgbImage::from_pixel(
        1376,
        768,
        image::Rgb([9, 90, 200]),
    ))
    .write_to(&mut png, image::ImageFormat::Png)
    .expect("png");
    Mock::given(method("POST"))
        .and(path("/v1beta/models/gemini-3-pro-image-preview:generateContent"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "candidates": [{ "content": { "role": "model", "parts": [
                { "inlineData": { "mimeType": "image/png", "data": STANDARD.encode(png.into_inner()) } }
            ]}, "finishReason": "STOP", "index": 0 }]
        })))
        .mount(&mock)
        .await;
    mock
}

async fn app_with(
    mock: &MockServer,
    tweak: impl FnOnce(&mut thumbforge_config::Settings),
) -> TestApp {
    let uri = mock.uri();
    TestApp::spawn_with(move |s| {
        s.providers.gemini_base_url = uri.clone();
        s.providers.gemini_api_key = Some("server-gemini-key".to_owned().into());
        s.youtube.base_url = uri;
        tweak(s);
    })
    .await
}

async fn call(
    app: &TestApp,
    key: Option<&str>,
    verb: &str,
    route: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let url = format!("{}{BASE}{route}", app.address);
    let mut request = match verb {
        "POST" => app.client.post(url),
        "DELETE" => app.client.delete(url),
        _ => app.client.get(url),
    };
    if let Some(key) = key {
        request = request.bearer_auth(key);
    }
    if let Some(body) = body {
        request = request.json(&body);
    }
    json_answer(request).await
}

#[tokio::test]
async fn generate_is_synchronous_and_answers_the_documented_record() {
    let mock = gemini_mock().await;
    let app = app_with(&mock, |_| {}).await;
    let body = json!({
        "video_title": "10 Hidden Hiking Trails",
        "prompt": "Bold red text 'TOP 10' over surprised hiker, mountain backdrop",
        "image_model": "pro",
        "aspect_ratio": "16:9",
        "image_count": 2,
        "card_id": "card-7"
    });
    let (status, answer) = call(&app, Some(&app.key), "POST", "/generate", Some(body)).await;
    assert_eq!(status, 201, "{answer}");
    assert_eq!(answer["success"], true);
    let data = &answer["data"];
    let fields: BTreeSet<&str> = data
        .as_object()
        .expect("object")
        .keys()
        .map(String::as_str)
        .collect();
    let documented: BTreeSet<&str> = [
        "id",
        "workspace_id",
        "card_id",
        "video_title",
        "prompt",
        "image_model",
        "aspect_ratio",
        "image_count",
        "status",
        "image_paths",
        "image_urls",
        "total_file_size_bytes",
        "generation_time_ms",
        "created_at",
        "provider_used",
        "credits_consumed",
    ]
    .into_iter()
    .collect();
    assert_eq!(fields, documented);
    assert_eq!(data["status"], "completed");
    assert_eq!(data["video_title"], "10 Hidden Hiking Trails");
    assert_eq!(data["image_model"], "pro");
    assert_eq!(data["aspect_ratio"], "16:9");
    assert_eq!(data["image_count"], 2);
    assert_eq!(data["card_id"], "card-7");
    assert_eq!(data["provider_used"], "system");
    assert_eq!(
        data["credits_consumed"], 12,
        "the seed's example: pro x 2 = 12"
    );
    let created = data["created_at"].as_str().expect("created_at");
    assert!(created.ends_with('Z') && created.len() == 24, "{created}");
    assert!(data["generation_time_ms"].as_i64().is_some_and(|t| t >= 0));
    let urls = data["image_urls"].as_array().expect("urls");
    assert_eq!(urls.len(), 2);
    assert_eq!(data["image_paths"].as_array().map(Vec::len), Some(2));
    let mut total = 0;
    for url in urls {
        let bytes = app
            .download(url.as_str().expect("url"))
            .await
            .bytes()
            .await
            .expect("bytes");
        assert_eq!(crate::helpers::png_dimensions(&bytes), (1280, 720));
        total += bytes.len() as i64;
    }
    assert_eq!(data["total_file_size_bytes"], total);

    // The same record from GET, and the generation is in the native API too.
    let id = data["id"].as_str().expect("id");
    let (status, one) = call(
        &app,
        Some(&app.key),
        "GET",
        &format!("/generations/{id}"),
        None,
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(one["data"]["id"], id);
    assert_eq!(one["data"]["status"], "completed");
    assert_eq!(app.get_generation(&app.key, id).await.status(), 200);
}

#[tokio::test]
async fn errors_use_the_envelope_and_flokans_status_codes() {
    let mock = gemini_mock().await;
    let app = app_with(&mock, |_| {}).await;
    let valid = json!({"video_title": "t", "prompt": "p", "image_model": "pro", "aspect_ratio": "16:9", "image_count": 1});
    let with = |field: &str, value: Value| {
        let mut body = valid.clone();
        body[field] = value;
        body
    };
    let without = |field: &str| {
        let mut body = valid.clone();
        body.as_object_mut().expect("object").remove(field);
        body
    };
    for (key, body, status, code) in [
        (
            app.key.as_str(),
            without("video_title"),
            400,
            "missing_field",
        ),
        (app.key.as_str(), without("prompt"), 400, "missing_field"),
        (
            app.key.as_str(),
            with("image_model", json!("gpt-image-2")),
            400,
            "unknown_model",
        ),
        (
            app.key.as_str(),
            with("aspect_ratio", json!("21:9")),
            400,
            "invalid_aspect_ratio",
        ),
        (
            app.key.as_str(),
            with("image_count", json!(5)),
            400,
            "invalid_count",
        ),
        (
            app.key.as_str(),
            with("video_title", json!("x".repeat(501))),
            400,
            "invalid_title",
        ),
        (
            app.key.as_str(),
            with("style_id", json!("3f1b")),
            404,
            "not_found",
        ),
        (
            app.key.as_str(),
            with("provider", json!("google")),
            422,
            "provider_not_configured",
        ),
        // Every tier runs on every provider Flokan names: what is missing
        // is the workspace's own key.
        (
            app.key.as_str(),
            with("provider", json!("openai")),
            422,
            "provider_not_configured",
        ),
    ] {
        let (got, answer) = call(&app, Some(key), "POST", "/generate", Some(body.clone())).await;
        assert_eq!(
            (got, answer["code"].as_str()),
            (status, Some(code)),
            "{body} → {answer}"
        );
        assert_eq!(answer["success"], false);
        assert!(answer["error"].as_str().is_some_and(|e| !e.is_empty()));
    }
    // With no server key for any of its routes, a tier is not configured.
    let keyless = app_with(&mock, |s| s.providers.gemini_api_key = None).await;
    let creative = with("image_model", json!("creative"));
    let (got, answer) = call(
        &keyless,
        Some(&keyless.key),
        "POST",
        "/generate",
        Some(creative),
    )
    .await;
    assert_eq!(
        (got, answer["code"].as_str()),
        (400, Some("model_not_configured"))
    );
    let (status, answer) = call(&app, None, "POST", "/generate", Some(valid.clone())).await;
    assert_eq!((status, answer["success"].as_bool()), (401, Some(false)));
    let (status, answer) = call(
        &app,
        Some(&app.key),
        "GET",
        "/generations/gen_nothing",
        None,
    )
    .await;
    assert_eq!((status, answer["code"].as_str()), (404, Some("not_found")));
    // A prompt is optional when a reference is given.
    let (status, answer) = call(
        &app,
        Some(&app.key),
        "POST",
        "/generate",
        Some(with(
            "youtube_references",
            json!(["http://i.ytimg.com/vi/x/hqdefault.jpg"]),
        )),
    )
    .await;
    assert_eq!(
        (status, answer["code"].as_str()),
        (400, Some("invalid_reference_url")),
        "https only"
    );
}

#[tokio::test]
async fn listing_pages_filters_and_deletes() {
    let mock = gemini_mock().await;
    let app = app_with(&mock, |s| s.api.sync_wait_secs = 1).await;
    let mut ids = Vec::new();
    for (i, card) in ["a", "b", "a"].iter().enumerate() {
        let body = json!({"video_title": format!("v{i}"), "prompt": "p", "image_model": "pro",
                          "aspect_ratio": "1:1", "image_count": 1, "card_id": card});
        let (status, answer) = call(&app, Some(&app.key), "POST", "/generate", Some(body)).await;
        assert_eq!(status, 201);
        ids.push(answer["data"]["id"].as_str().expect("id").to_owned());
    }
    // Still running past the 1 s wait: the current record, as documented.
    let slow = json!({"video_title": "slow", "prompt": "slow [sleep:2500]", "image_model": "test",
                      "aspect_ratio": "16:9", "image_count": 1});
    let (status, answer) = call(&app, Some(&app.key), "POST", "/generate", Some(slow)).await;
    assert_eq!(status, 201);
    assert!(
        ["pending", "generating"].contains(&answer["data"]["status"].as_str().unwrap_or("")),
        "{answer}"
    );
    assert_eq!(answer["data"]["image_urls"], json!([]));
    let slow_id = answer["data"]["id"].as_str().expect("id").to_owned();
    let (_, generating) = call(
        &app,
        Some(&app.key),
        "GET",
        "/generations?status=generating",
        None,
    )
    .await;
    assert_eq!(
        generating["data"][0]["id"],
        slow_id.as_str(),
        "{generating}"
    );

    let (status, page) = call(
        &app,
        Some(&app.key),
        "GET",
        "/generations?per_page=2&page=2",
        None,
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(
        page["pagination"],
        json!({"page": 2, "per_page": 2, "total": 4})
    );
    assert_eq!(page["data"].as_array().map(Vec::len), Some(2));
    assert_eq!(page["data"][1]["id"], ids[0].as_str(), "newest first");
    let (_, cards) = call(&app, Some(&app.key), "GET", "/generations?card_id=a", None).await;
    let card_ids: Vec<&str> = cards["data"]
        .as_array()
        .expect("data")
        .iter()
        .filter_map(|g| g["id"].as_str())
        .collect();
    assert_eq!(card_ids, vec![ids[2].as_str(), ids[0].as_str()]);
    let (_, completed) = call(
        &app,
        Some(&app.key),
        "GET",
        "/generations?status=completed&per_page=100",
        None,
    )
    .await;
    assert_eq!(completed["pagination"]["total"], 3);
    for query in ["per_page=101", "page=0", "status=done"] {
        let (status, answer) = call(
            &app,
            Some(&app.key),
            "GET",
            &format!("/generations?{query}"),
            None,
        )
        .await;
        assert_eq!(
            (status, answer["success"].as_bool()),
            (400, Some(false)),
            "{query}"
        );
    }
    let other = app.create_key("other-org", Plan::Pro).await;
    let (_, theirs) = call(&app, Some(&other), "GET", "/generations", None).await;
    assert_eq!(theirs["pagination"]["total"], 0);

    let (status, deleted) = call(
        &app,
        Some(&app.key),
        "DELETE",
        &format!("/generations/{}", ids[1]),
        None,
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(
        deleted,
        json!({"success": true, "data": {"id": ids[1], "deleted": true}})
    );
    let (status, _) = call(
        &app,
        Some(&app.key),
        "GET",
        &format!("/generations/{}", ids[1]),
        None,
    )
    .await;
    assert_eq!(status, 404);
    let done = app.wait_terminal(&app.key, &slow_id).await;
    assert_eq!(done["status"], "succeeded");
}

#[tokio::test]
async fn youtube_search_returns_the_documented_results_from_the_data_api() {
    let mock = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/youtube/v3/search"))
        .and(query_param("part", "snippet"))
        .and(query_param("type", "video"))
        .and(query_param("q", "hiking trails"))
        .and(query_param("key", "yt-server-key"))
        .and(query_param("pageToken", "CAUQAA"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "kind": "youtube#searchListResponse",
            "nextPageToken": "CAoQAA",
            "pageInfo": { "totalResults": 1000000, "resultsPerPage": 2 },
            "items": [
                { "kind": "youtube#searchResult", "id": { "kind": "youtube#video", "videoId": "dQw4w9WgXcQ" },
                  "snippet": { "title": "Example Video Title", "channelTitle": "Example Channel",
                    "thumbnails": { "default": { "url": "https://i.ytimg.com/vi/dQw4w9WgXcQ/default.jpg" },
                                    "high": { "url": "https://i.ytimg.com/vi/dQw4w9WgXcQ/hqdefault.jpg" } } } },
                { "kind": "youtube#searchResult", "id": { "kind": "youtube#video", "videoId": "abc123" },
                  "snippet": { "title": "Second", "channelTitle": "Other",
                    "thumbnails": { "medium": { "url": "https://i.ytimg.com/vi/abc123/mqdefault.jpg" } } } }
            ]
        })))
        .mount(&mock)
        .await;
    Mock::given(method("GET"))
        .and(path("/youtube/v3/videos"))
        .and(query_param("part", "statistics"))
        .and(query_param("id", "dQw4w9WgXcQ,abc123"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "kind": "youtube#videoListResponse",
            "items": [
                { "id": "dQw4w9WgXcQ", "statistics": { "viewCount": "1623847391", "likeCount": "1" } },
                { "id": "abc123", "statistics": { "viewCount": "42" } }
            ]
        })))
        .mount(&mock)
        .await;
    let app = app_with(&mock, |s| {
        s.youtube.api_key = Some("yt-server-key".to_owned().into())
    })
    .await;
    let (status, answer) = call(
        &app,
        Some(&app.key),
        "POST",
        "/youtube-search",
        Some(json!({"query": "hiking trails", "page_token": "CAUQAA"})),
    )
    .await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["data"]["next_page_token"], "CAoQAA");
    assert_eq!(
        answer["data"]["results"][0],
        json!({
            "video_id": "dQw4w9WgXcQ",
            "title": "Example Video Title",
            "channel_name": "Example Channel",
            "thumbnail_url": "https://i.ytimg.com/vi/dQw4w9WgXcQ/hqdefault.jpg",
            "view_count": "1623847391"
        })
    );
    assert_eq!(
        answer["data"]["results"][1]["thumbnail_url"],
        "https://i.ytimg.com/vi/abc123/mqdefault.jpg"
    );
    let (status, answer) = call(
        &app,
        Some(&app.key),
        "POST",
        "/youtube-search",
        Some(json!({"query": ""})),
    )
    .await;
    assert_eq!(
        (status, answer["code"].as_str()),
        (400, Some("invalid_query"))
    );

    // Without a key: a clear 503.
    let unconfigured = app_with(&mock, |_| {}).await;
    let (status, answer) = call(
        &unconfigured,
        Some(&unconfigured.key),
        "POST",
        "/youtube-search",
        Some(json!({"query": "x"})),
    )
    .await;
    assert_eq!(
        (status, answer["code"].as_str()),
        (503, Some("youtube_not_configured"))
    );
    assert_eq!(answer["success"], false);
}
