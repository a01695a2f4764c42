//! Style presets: CRUD scoped to the organisation, and a generation drawn
//! in its palette (FatThumb's `styleId`, Flokan's `style_id`).

use reqwest::Method;
use serde_json::{Value, json};
use thumbforge_core::Plan;

use crate::helpers::TestApp;

async fn create(app: &TestApp, key: &str, body: Value) -> reqwest::Response {
    app.client
        .post(format!("{}/api/v1/styles", app.address))
        .bearer_auth(key)
        .json(&body)
        .send()
        .await
        .expect("sent")
}

fn corner(bytes: &[u8]) -> [u8; 3] {
    image::load_from_memory(bytes)
        .expect("png")
        .to_rgb8()
        .get_pixel(4, 4)
        .0
}

#[tokio::test]
async fn a_style_preset_colours_the_thumbnail_and_is_org_scoped() {
    let app = TestApp::spawn().await;
    let other = app.create_key("other-org", Plan::Pro).await;
    let response = create(
        &app,
        &app.key,
        json!({"name": "Red alert", "backgroundColors": ["#C81414", "#ff3c28"],
               "accentColor": "#ffff00", "outline": "thin", "uppercase": false}),
    )
    .await;
    assert_eq!(response.status(), 201);
    let style: Value = response.json().await.expect("json");
    let id = style["id"].as_str().expect("id").to_owned();
    assert_eq!(style["backgroundColors"][0], "#c81414", "normalised");
    assert_eq!(style["outline"], "thin");
    let bad = create(
        &app,
        &app.key,
        json!({"name": "x", "backgroundColors": ["red", "#000000"], "accentColor": "#ffffff"}),
    )
    .await;
    assert_eq!(bad.status(), 422);
    let problem: Value = bad.json().await.expect("json");
    assert_eq!(problem["code"], "invalid_style");

    let styled = app
        .generate(&app.key, json!({"prompt": "styled words", "styleId": id}))
        .await;
    let plain = app
        .generate(&app.key, json!({"prompt": "styled words"}))
        .await;
    let a = app.wait_terminal(&app.key, &styled).await;
    let b = app.wait_terminal(&app.key, &plain).await;
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
    let [r, g, bl] = corner(&bytes_a);
    assert!(
        r > 100 && r > g + 40 && r > bl + 40,
        "red background: {:?}",
        [r, g, bl]
    );
    assert_ne!(bytes_a, bytes_b, "the style changed the picture");

    // Flokan's style_id, with the scripted model standing in for `pro`.
    let (status, record) = {
        let response = app
            .client
            .post(format!(
                "{}/api/v1/thumbnail-generator/generate",
                app.address
            ))
            .bearer_auth(&app.key)
            .json(
                &json!({"video_title": "Styled", "prompt": "p", "image_model": "test",
                          "aspect_ratio": "16:9", "image_count": 1, "style_id": id}),
            )
            .send()
            .await
            .expect("sent");
        (
            response.status().as_u16(),
            response.json::<Value>().await.expect("json"),
        )
    };
    assert_eq!(
        (status, record["data"]["status"].as_str()),
        (201, Some("completed")),
        "{record}"
    );

    // Another org cannot see or use it.
    let theirs = app
        .send(Method::GET, &format!("/api/v1/styles/{id}"), &other, None)
        .await;
    assert_eq!(theirs.status(), 404);
    let refused = app
        .post_generate(&other, &json!({"prompt": "x", "styleId": id}))
        .await;
    assert_eq!(refused.status(), 404);
    let listed: Value = app
        .send(Method::GET, "/api/v1/styles", &app.key, None)
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(listed["data"].as_array().map(Vec::len), Some(1));

    // Deleting the preset leaves accepted work as it was made.
    let deleted = app
        .send(
            Method::DELETE,
            &format!("/api/v1/styles/{id}"),
            &app.key,
            None,
        )
        .await;
    assert_eq!(deleted.status(), 204);
    assert_eq!(app.get_generation(&app.key, &styled).await.status(), 200);
    let gone = app
        .post_generate(&app.key, &json!({"prompt": "x", "styleId": id}))
        .await;
    assert_eq!(gone.status(), 404);
}
