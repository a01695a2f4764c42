//! Free plans get watermarked images and can never reach the clean one.

use serde_json::{Value, json};
use thumbforge_core::Plan;
use thumbforge_render::{RenderSpec, apply_watermark, render};

use crate::helpers::TestApp;

fn expected(prompt: &str, watermark: bool) -> Vec<u8> {
    let mut image = render(&RenderSpec::new(1280, 720, prompt)).expect("renders");
    if watermark {
        apply_watermark(&mut image);
    }
    image.into_raw()
}

async fn pixels(app: &TestApp, url: &str) -> Vec<u8> {
    let bytes = app.download(url).await.bytes().await.expect("bytes");
    image::load_from_memory(&bytes)
        .expect("png")
        .to_rgb8()
        .into_raw()
}

#[tokio::test]
async fn free_plan_is_watermarked_and_pro_is_clean() {
    let app = TestApp::spawn().await;
    let free = app.create_key("free-org", Plan::Free).await;
    let text = "Same prompt, two plans";

    let free_id = app.generate(&free, json!({ "prompt": text })).await;
    let pro_id = app.generate(&app.key, json!({ "prompt": text })).await;
    let free_done: Value = app.wait_terminal(&free, &free_id).await;
    let pro_done: Value = app.wait_terminal(&app.key, &pro_id).await;

    assert_eq!(free_done["thumbnails"][0]["isWatermarked"], true);
    assert_eq!(pro_done["thumbnails"][0]["isWatermarked"], false);

    let free_pixels = pixels(
        &app,
        free_done["thumbnails"][0]["url"].as_str().expect("url"),
    )
    .await;
    let pro_pixels = pixels(
        &app,
        pro_done["thumbnails"][0]["url"].as_str().expect("url"),
    )
    .await;
    // The renderer is deterministic, so each download can be compared with
    // exactly what it must be.
    assert_eq!(
        pro_pixels,
        expected(text, false),
        "pro gets the clean render"
    );
    assert_eq!(
        free_pixels,
        expected(text, true),
        "free gets the watermarked render"
    );
    assert_ne!(free_pixels, pro_pixels);
}

#[tokio::test]
async fn a_free_orgs_url_cannot_be_turned_into_the_clean_file() {
    let app = TestApp::spawn().await;
    let free = app.create_key("free-org", Plan::Free).await;
    let id = app
        .generate(&free, json!({ "prompt": "no clean copy" }))
        .await;
    let done = app.wait_terminal(&free, &id).await;
    let url = done["thumbnails"][0]["url"].as_str().expect("url");
    let clean = expected("no clean copy", false);
    // Whatever is appended, the server picks the variant, not the URL.
    for variant in ["", "&variant=clean", "&v=clean", "&watermark=false"] {
        let got = pixels(&app, &format!("{url}{variant}")).await;
        assert_ne!(got, clean, "clean bytes leaked with {variant:?}");
    }
    let wm_path = url.replace(".png?", ".wm.png?");
    assert_eq!(app.download(&wm_path).await.status(), 404);
}
