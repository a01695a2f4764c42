//! Reference images: asset upload and its org scoping, reference URLs
//! fetched by the worker (and used as the local renderer's background), and
//! the SSRF refusals.

use reqwest::Method;
use std::time::Duration;

use serde_json::{Value, json};
use thumbforge_core::Plan;
use wiremock::{
    Mock, MockServer, ResponseTemplate,
    matchers::{method, path},
};

use crate::helpers::TestApp;

fn png(w: u32, h: u32, rgb: [u8; 3]) -> Vec<u8> {
    let mut out = std::io::Cursor::new(Vec::new());
    image::DynamicImage::ImageRgb8(image::RgbImage::from_pixel(w, h, image::Rgb(rgb)))
        .write_to(&mut out, image::ImageFormat::Png)
        .expect("png");
    out.into_inner()
}

async fn upload(app: &TestApp, key: &str, kind: &str, bytes: Vec<u8>) -> reqwest::Response {
    crate::helpers::upload_asset(&app.client, &app.address, key, kind, bytes).await
}

#[tokio::test]
async fn assets_are_uploaded_listed_scoped_to_their_org_and_deleted() {
    let app = TestApp::spawn().await;
    let other = app.create_key("other-org", Plan::Pro).await;
    let response = upload(&app, &app.key, "person", png(300, 200, [10, 200, 10])).await;
    assert_eq!(response.status(), 201);
    let asset: Value = response.json().await.expect("json");
    let id = asset["id"].as_str().expect("id").to_owned();
    assert!(id.starts_with("ast_"));
    assert_eq!(
        (
            asset["kind"].as_str(),
            asset["width"].as_i64(),
            asset["height"].as_i64()
        ),
        (Some("person"), Some(300), Some(200))
    );

    let get = |key: String, id: String| {
        let client = app.client.clone();
        let url = format!("{}/api/v1/assets/{id}", app.address);
        async move { client.get(url).bearer_auth(key).send().await.expect("sent") }
    };
    assert_eq!(get(app.key.clone(), id.clone()).await.status(), 200);
    let cross = get(other.clone(), id.clone()).await;
    assert_eq!(cross.status(), 404, "another org's asset is not found");
    let list: Value = app
        .send(Method::GET, "/api/v1/assets?kind=person", &app.key, None)
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(list["data"].as_array().map(Vec::len), Some(1));
    let empty: Value = app
        .send(Method::GET, "/api/v1/assets", &other, None)
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(empty["data"].as_array().map(Vec::len), Some(0));

    // Generating with the asset works for its org, not for another.
    let gen_id = app
        .generate(
            &app.key,
            json!({"prompt": "with a face", "personIds": [id]}),
        )
        .await;
    let done = app.wait_terminal(&app.key, &gen_id).await;
    assert_eq!(done["status"], "succeeded", "{done}");
    let refused = app
        .post_generate(&other, &json!({"prompt": "x", "inspirationIds": [id]}))
        .await;
    assert_eq!(refused.status(), 422);
    let problem: Value = refused.json().await.expect("json");
    assert_eq!(problem["code"], "asset_not_found");

    // Bad uploads.
    let not_image = upload(&app, &app.key, "person", b"<html></html>".to_vec()).await;
    assert_eq!(not_image.status(), 422);
    let problem: Value = not_image.json().await.expect("json");
    assert_eq!(problem["code"], "invalid_image");
    let bad_kind = upload(&app, &app.key, "pet", png(10, 10, [0, 0, 0])).await;
    let problem: Value = bad_kind.json().await.expect("json");
    assert_eq!(problem["code"], "invalid_asset_kind");

    // Delete: gone for good, and another org cannot delete it.
    let url = format!("/api/v1/assets/{id}");
    let denied = app.send(Method::DELETE, &url, &other, None).await;
    assert_eq!(denied.status(), 404);
    let deleted = app.send(Method::DELETE, &url, &app.key, None).await;
    assert_eq!(deleted.status(), 204);
    assert_eq!(get(app.key.clone(), id).await.status(), 404);
}

/// An image host on 127.0.0.2, the one address these tests exempt from the
/// private-address refusal (every other loopback address stays refused).
async fn image_host() -> MockServer {
    let listener = std::net::TcpListener::bind("127.0.0.2:0").expect("bind 127.0.0.2");
    MockServer::builder().listener(listener).start().await
}

async fn app_fetching_from_test_hosts(
    tweak: impl FnOnce(&mut thumbforge_config::Settings),
) -> TestApp {
    TestApp::spawn_with(|s| {
        s.references.allow_http = true;
        s.references.allow_cidrs = vec!["127.0.0.2/32".to_owned()];
        s.references.timeout_secs = 5;
        tweak(s);
    })
    .await
}

async fn thumbnail_error(app: &TestApp, body: Value) -> String {
    let id = app.generate(&app.key, body).await;
    let done = app.wait_terminal(&app.key, &id).await;
    assert_eq!(done["status"], "failed", "{done}");
    done["thumbnails"][0]["error"]
        .as_str()
        .expect("error text")
        .to_owned()
}

#[tokio::test]
async fn a_reference_url_is_fetched_and_becomes_the_local_background() {
    let host = image_host().await;
    Mock::given(method("GET"))
        .and(path("/white.png"))
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header("content-type", "image/png")
                .set_body_bytes(png(640, 360, [255, 255, 255])),
        )
        .mount(&host)
        .await;
    let app = app_fetching_from_test_hosts(|_| {}).await;
    let url = format!("{}/white.png", host.uri());
    let with_ref = app
        .generate(
            &app.key,
            json!({"prompt": "same prompt", "referenceImageUrl": url}),
        )
        .await;
    let without = app
        .generate(&app.key, json!({"prompt": "same prompt"}))
        .await;
    let a = app.wait_terminal(&app.key, &with_ref).await;
    let b = app.wait_terminal(&app.key, &without).await;
    assert_eq!(
        (a["status"].as_str(), b["status"].as_str()),
        (Some("succeeded"), Some("succeeded"))
    );
    let pixel = |bytes: &[u8]| {
        let img = image::load_from_memory(bytes).expect("png").to_rgb8();
        img.get_pixel(4, 4).0
    };
    let bytes_a = app
        .download(a["thumbnails"][0]["url"].as_str().expect("url"))
        .await
        .bytes()
        .await
        .expect("bytes");
    let bytes_b = app
        .download(b["thumbnails"][0]["url"].as_str().expect("url"))
        .await
        .bytes()
        .await
        .expect("bytes");
    let (pa, pb) = (pixel(&bytes_a), pixel(&bytes_b));
    // The white reference, darkened: grey, all channels equal and light.
    assert!(
        pa[0] == pa[1] && pa[1] == pa[2] && pa[0] > 100,
        "reference background: {pa:?}"
    );
    assert_ne!(pa, pb, "the reference changed the picture");
    assert_eq!(host.received_requests().await.expect("recorded").len(), 1);
}

#[tokio::test]
async fn server_side_fetches_refuse_private_addresses_redirects_and_bombs() {
    let host = image_host().await;
    // A redirect to loopback (127.0.0.1 is not exempt).
    Mock::given(method("GET"))
        .and(path("/redirect"))
        .respond_with(
            ResponseTemplate::new(302).insert_header("location", "http://127.0.0.1:9/secret.png"),
        )
        .mount(&host)
        .await;
    Mock::given(method("GET"))
        .and(path("/huge.png"))
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header("content-type", "image/png")
                .set_body_bytes(vec![0u8; 1200 * 1024]),
        )
        .mount(&host)
        .await;
    // Small on the wire, 6000x6000 once decoded.
    Mock::given(method("GET"))
        .and(path("/bomb.png"))
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header("content-type", "image/png")
                .set_body_bytes(png(6000, 6000, [0, 0, 0])),
        )
        .mount(&host)
        .await;
    // A host that never finishes answering.
    Mock::given(method("GET"))
        .and(path("/slow.png"))
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header("content-type", "image/png")
                .set_body_bytes(png(8, 8, [0, 0, 0]))
                .set_delay(Duration::from_secs(30)),
        )
        .mount(&host)
        .await;
    Mock::given(method("GET"))
        .and(path("/page"))
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header("content-type", "text/html")
                .set_body_string("<html></html>"),
        )
        .mount(&host)
        .await;
    let app = app_fetching_from_test_hosts(|s| {
        s.references.max_bytes = 1024 * 1024;
        s.references.max_dimension = 4096;
        s.references.timeout_secs = 2;
    })
    .await;
    let base = host.uri();
    let cases: [(String, &str); 7] = [
        (
            format!("{base}/slow.png"),
            "did not finish within 2 seconds",
        ),
        (format!("{base}/redirect"), "127.0.0.1 is not public"),
        ("http://10.1.2.3/x.png".to_owned(), "10.1.2.3 is not public"),
        (
            "http://169.254.169.254/latest/meta-data/".to_owned(),
            "169.254.169.254 is not public",
        ),
        (format!("{base}/huge.png"), "larger than"),
        (format!("{base}/bomb.png"), "the limit is 4096x4096"),
        (format!("{base}/page"), "not an image"),
    ];
    for (url, expected) in cases {
        let error = thumbnail_error(&app, json!({"prompt": "x", "referenceImageUrl": url})).await;
        assert!(error.contains(expected), "{url}: {error}");
        assert!(error.starts_with("Reference image"), "{error}");
    }
    // Only the test host was ever contacted, never the refused address.
    for request in host.received_requests().await.expect("recorded") {
        assert!(
            ["/redirect", "/huge.png", "/bomb.png", "/page", "/slow.png"]
                .contains(&request.url.path())
        );
    }
}

#[tokio::test]
async fn plain_http_and_malformed_reference_urls_are_refused_at_submit() {
    let app = TestApp::spawn().await;
    for (body, code) in [
        (
            json!({"prompt": "x", "referenceImageUrl": "http://img.example/a.png"}),
            "invalid_reference_url",
        ),
        (
            json!({"prompt": "x", "youtubeReferences": ["ftp://img.example/a.png"]}),
            "invalid_reference_url",
        ),
        (
            json!({"prompt": "x", "youtubeReferences": vec!["https://i.ytimg.com/a.jpg"; 7]}),
            "too_many_references",
        ),
    ] {
        let response = app.post_generate(&app.key, &body).await;
        assert_eq!(response.status(), 422, "{body}");
        let problem: Value = response.json().await.expect("json");
        assert_eq!(problem["code"], code, "{body}");
    }
}
