//! Every stored image is YouTube-ready: a model's picture that is over
//! 2 MB as a PNG is stored within 2 MB, at full size, in the format asked
//! for, served with its type, and its size is in the record.

use base64::{Engine, engine::general_purpose::STANDARD};
use image::ImageEncoder;
use serde_json::{Value, json};
use thumbforge_core::{MAX_OUTPUT_BYTES, Plan};
use wiremock::{
    Mock, MockServer, ResponseTemplate,
    matchers::{method, path},
};

use crate::{helpers::TestApp, providers::app_with_mock};

/// A photograph as far as a PNG encoder can tell: a gradient under seeded
/// noise (xorshift), 1280x720, over 2 MB as a PNG.
fn noisy_png() -> Vec<u8> {
    let mut state = 0x2545_f491_4f6c_dd1d_u64;
    let picture = image::RgbImage::from_fn(1280, 720, |x, y| {
        let base = [(x * 255 / 1280) as i32, (y * 255 / 720) as i32, 128];
        image::Rgb(base.map(|b| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (b + (state % 161) as i32 - 80).clamp(0, 255) as u8
        }))
    });
    let mut png = Vec::new();
    image::codecs::png::PngEncoder::new(&mut png)
        .write_image(picture.as_raw(), 1280, 720, image::ExtendedColorType::Rgb8)
        .expect("png");
    assert!(png.len() > MAX_OUTPUT_BYTES, "the answer must be too big");
    png
}

/// An app whose OpenAI model answers with [`noisy_png`].
async fn app_answering_a_noisy_photo() -> (TestApp, MockServer) {
    let mock = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/images/generations"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "created": 1713833628,
            "data": [{ "b64_json": STANDARD.encode(noisy_png()) }],
        })))
        .mount(&mock)
        .await;
    let app = app_with_mock(&mock, true).await;
    (app, mock)
}

/// Generates with `body`, waits, downloads the one thumbnail and checks
/// what a YouTube uploader would: within 2 MB, the type the format says,
/// decodes at 1280x720, and the record's size is the file's.
async fn check_output(app: &TestApp, key: &str, body: Value, format: &str) -> Value {
    let id = app.generate(key, body).await;
    let done = app.wait_terminal(key, &id).await;
    assert_eq!(done["status"], "succeeded", "{done}");
    let thumbnail = &done["thumbnails"][0];
    assert_eq!(thumbnail["format"], format, "{done}");
    let url = thumbnail["url"].as_str().expect("url");
    let (content_type, extension, decoder) = match format {
        "png" => ("image/png", ".png?", image::ImageFormat::Png),
        "jpeg" => ("image/jpeg", ".jpg?", image::ImageFormat::Jpeg),
        _ => ("image/webp", ".webp?", image::ImageFormat::WebP),
    };
    assert!(url.contains(extension), "{url}");
    let response = app.download(url).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], content_type);
    let bytes = response.bytes().await.expect("bytes");
    assert!(
        bytes.len() <= MAX_OUTPUT_BYTES,
        "{} bytes is over YouTube's 2 MB",
        bytes.len()
    );
    assert_eq!(thumbnail["fileSizeBytes"], bytes.len(), "{thumbnail}");
    let decoded = image::load_from_memory_with_format(&bytes, decoder).expect("decodes");
    assert_eq!((decoded.width(), decoded.height()), (1280, 720));
    done
}

#[tokio::test]
async fn a_png_over_2_mb_from_the_model_is_stored_within_2_mb() {
    let (app, _mock) = app_answering_a_noisy_photo().await;
    // As it came from the model, this PNG would be kept; it is too big.
    check_output(
        &app,
        &app.key,
        json!({"prompt": "a busy photo", "model": "gpt-image-2"}),
        "png",
    )
    .await;

    // The free plan's watermarked copy follows the same rule, and so does
    // the clean file kept beside it.
    let free = app.create_key("free-org", Plan::Free).await;
    let done = check_output(
        &app,
        &free,
        json!({"prompt": "a busy photo", "model": "creative"}),
        "png",
    )
    .await;
    assert_eq!(done["thumbnails"][0]["isWatermarked"], true);
    let id = done["thumbnails"][0]["id"].as_str().expect("id");
    let row = thumbforge_db::thumbnails::find(app.db(), id)
        .await
        .expect("read")
        .expect("row");
    let clean = row.clean_size_bytes.expect("clean size recorded");
    assert!(clean > 0 && clean <= MAX_OUTPUT_BYTES as i64, "{clean}");
}

#[tokio::test]
async fn jpeg_and_webp_are_made_on_request_within_2_mb() {
    let (app, _mock) = app_answering_a_noisy_photo().await;
    for format in ["jpeg", "webp"] {
        check_output(
            &app,
            &app.key,
            json!({"prompt": "a busy photo", "model": "gpt-image-2", "format": format}),
            format,
        )
        .await;
    }
    // A watermarked JPEG too.
    let free = app.create_key("free-org", Plan::Free).await;
    check_output(
        &app,
        &free,
        json!({"prompt": "a busy photo", "model": "creative", "format": "jpeg"}),
        "jpeg",
    )
    .await;
}

#[tokio::test]
async fn a_file_url_answers_only_under_its_formats_extension() {
    let app = TestApp::spawn().await;
    let id = app
        .generate(&app.key, json!({"prompt": "local jpeg", "format": "jpeg"}))
        .await;
    let done = app.wait_terminal(&app.key, &id).await;
    assert_eq!(done["status"], "succeeded", "{done}");
    let url = done["thumbnails"][0]["url"].as_str().expect("url");
    assert_eq!(app.download(url).await.status(), 200);
    let as_png = url.replace(".jpg?", ".png?");
    assert_eq!(app.download(&as_png).await.status(), 404);
}

#[tokio::test]
async fn an_unknown_format_is_refused_with_a_code() {
    let app = TestApp::spawn().await;
    for (format, status, code) in [
        (json!("gif"), 422, "invalid_format"),
        (json!("PNG"), 422, "invalid_format"),
        (json!(5), 422, "invalid_type"),
    ] {
        let response = app
            .post_generate(&app.key, &json!({"prompt": "x", "format": format}))
            .await;
        assert_eq!(response.status(), status, "format {format}");
        let problem: Value = response.json().await.expect("json");
        assert_eq!(problem["code"], code, "{problem}");
    }
}
