//! Every bad input gets a 4xx problem+json with a stable code, never a 5xx.

use serde_json::Value;

use crate::helpers::TestApp;

async fn send_raw(app: &TestApp, body: &str, content_type: &str) -> (u16, Value) {
    let response = app
        .client
        .post(format!("{}/api/v1/generate", app.address))
        .bearer_auth(&app.key)
        .header("content-type", content_type)
        .body(body.to_owned())
        .send()
        .await
        .expect("sent");
    let status = response.status().as_u16();
    assert_eq!(
        response.headers()["content-type"],
        "application/problem+json",
        "for {body}"
    );
    let problem: Value = response.json().await.expect("json");
    assert_eq!(problem["status"], status);
    assert!(problem["detail"].as_str().is_some_and(|d| !d.is_empty()));
    (status, problem)
}

#[tokio::test]
async fn bad_generate_bodies_get_precise_codes() {
    let app = TestApp::spawn().await;
    let cases: &[(&str, u16, &str)] = &[
        (r#"{"prompt":"#, 400, "invalid_json"),
        ("not json at all", 400, "invalid_json"),
        ("", 400, "invalid_json"),
        (r#"{"prompt": 42}"#, 422, "invalid_type"),
        (r#"{"prompt":"x","count":"two"}"#, 422, "invalid_type"),
        (r#"{"prompt":"x","count":1.5}"#, 422, "invalid_type"),
        (r#"{"prompt":"x","personIds":"a"}"#, 422, "invalid_type"),
        (r#"[1,2,3]"#, 422, "invalid_type"),
        (r#"{}"#, 422, "missing_field"),
        (r#"{"prompt":"   "}"#, 422, "invalid_prompt"),
        (r#"{"prompt":"x","count":0}"#, 422, "invalid_count"),
        (r#"{"prompt":"x","count":5}"#, 422, "invalid_count"),
        (r#"{"prompt":"x","count":-1}"#, 422, "invalid_count"),
        (
            r#"{"prompt":"x","count":99999999999999}"#,
            422,
            "invalid_count",
        ),
        (r#"{"prompt":"x","model":"dall-e-3"}"#, 422, "unknown_model"),
        (
            r#"{"prompt":"x","model":"gemini-3-pro"}"#,
            422,
            "model_not_configured",
        ),
        (
            r#"{"prompt":"x","model":"gpt-image-2"}"#,
            422,
            "model_not_configured",
        ),
        (
            r#"{"prompt":"x","aspectRatio":"21:9"}"#,
            422,
            "invalid_aspect_ratio",
        ),
        (
            r#"{"prompt":"x","personIds":["p1"]}"#,
            422,
            "asset_not_found",
        ),
        (
            r#"{"prompt":"x","inspirationIds":["i1"]}"#,
            422,
            "asset_not_found",
        ),
    ];
    for (body, status, code) in cases {
        let (got_status, problem) = send_raw(&app, body, "application/json").await;
        assert_eq!(
            (got_status, problem["code"].as_str()),
            (*status, Some(*code)),
            "body: {body}"
        );
    }
}

#[tokio::test]
async fn not_configured_model_says_which_setting_enables_it() {
    let app = TestApp::spawn().await;
    let (_, problem) = send_raw(
        &app,
        r#"{"prompt":"x","model":"gpt-image-2"}"#,
        "application/json",
    )
    .await;
    assert!(
        problem["detail"]
            .as_str()
            .is_some_and(|d| d.contains("OPENAI_API_KEY"))
    );
}

#[tokio::test]
async fn prompt_length_is_bounded() {
    let app = TestApp::spawn().await;
    let body = serde_json::json!({"prompt": "x".repeat(10_001)}).to_string();
    let (status, problem) = send_raw(&app, &body, "application/json").await;
    assert_eq!(
        (status, problem["code"].as_str()),
        (422, Some("invalid_prompt"))
    );
}

#[tokio::test]
async fn oversized_body_is_413() {
    let app = TestApp::spawn().await;
    let body = format!(r#"{{"prompt":"{}"}}"#, "a".repeat(70_000));
    let (status, problem) = send_raw(&app, &body, "application/json").await;
    assert_eq!(
        (status, problem["code"].as_str()),
        (413, Some("payload_too_large"))
    );
}

#[tokio::test]
async fn non_json_content_type_is_415_but_curl_default_works() {
    let app = TestApp::spawn().await;
    let (status, problem) = send_raw(&app, "<xml/>", "application/xml").await;
    assert_eq!(
        (status, problem["code"].as_str()),
        (415, Some("unsupported_media_type"))
    );
    // `curl -d '{…}'` sends form-urlencoded; the JSON body is still read.
    let response = app
        .client
        .post(format!("{}/api/v1/generate", app.address))
        .bearer_auth(&app.key)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(r#"{"prompt":"from curl"}"#)
        .send()
        .await
        .expect("sent");
    assert_eq!(response.status(), 202);
}

#[tokio::test]
async fn unknown_routes_methods_and_ids() {
    let app = TestApp::spawn().await;
    let route = app
        .client
        .get(format!("{}/api/v1/nope", app.address))
        .send()
        .await
        .expect("sent");
    assert_eq!(route.status(), 404);
    let body: Value = route.json().await.expect("json");
    assert_eq!(body["code"], "not_found");

    let method = app
        .client
        .delete(format!("{}/api/v1/generate", app.address))
        .send()
        .await
        .expect("sent");
    assert_eq!(method.status(), 405);
    let body: Value = method.json().await.expect("json");
    assert_eq!(body["code"], "method_not_allowed");

    for id in ["gen_unknown", "../../etc/passwd", &"x".repeat(500)] {
        let response = app.get_generation(&app.key, id).await;
        assert_eq!(response.status(), 404, "id {id}");
    }
    // A NUL is refused before any lookup (docs/api.md).
    let response = app.get_generation(&app.key, "%00").await;
    assert_eq!(response.status(), 422);
    let body: Value = response.json().await.expect("json");
    assert_eq!(body["code"], "invalid_character");
}

#[tokio::test]
async fn file_urls_reject_tampering() {
    let app = TestApp::spawn().await;
    let id = app
        .generate(&app.key, serde_json::json!({"prompt": "signed"}))
        .await;
    let done = app.wait_terminal(&app.key, &id).await;
    let url = done["thumbnails"][0]["url"]
        .as_str()
        .expect("url")
        .to_owned();
    assert_eq!(app.download(&url).await.status(), 200);

    let (base, _) = url.split_once("&sig=").expect("sig param");
    for bad in [
        format!("{base}&sig=00000000000000000000000000000000"),
        format!("{base}&sig=not-hex"),
        base.to_owned(),
        url.split_once('?')
            .map(|(p, _)| p.to_owned())
            .expect("query"),
        url.replace("exp=", "exp=1"),
    ] {
        let response = app.download(&bad).await;
        assert_eq!(response.status(), 403, "{bad}");
        let body: Value = response.json().await.expect("json");
        assert_eq!(body["code"], "invalid_signature");
    }
    // A valid signature for another thumbnail id does not open this one.
    let other = url.replace(
        done["thumbnails"][0]["id"].as_str().expect("id"),
        "thm_someoneelse0000000",
    );
    assert_eq!(app.download(&other).await.status(), 403);
}

#[tokio::test]
async fn expired_file_urls_are_refused() {
    use secrecy::SecretString;
    use thumbforge_api::signing::UrlSigner;
    let app = TestApp::spawn_with(|s| s.secret = Some(SecretString::from("test-secret"))).await;
    let id = app
        .generate(&app.key, serde_json::json!({"prompt": "expiring"}))
        .await;
    let done = app.wait_terminal(&app.key, &id).await;
    let thumb = done["thumbnails"][0]["id"].as_str().expect("id");
    let signer = UrlSigner::new(SecretString::from("test-secret"));
    let (exp, sig) = signer.sign(thumb, 1_000_000, 60);
    let response = app
        .download(&format!(
            "{}/files/{thumb}.png?exp={exp}&sig={sig}",
            app.address
        ))
        .await;
    assert_eq!(response.status(), 403);
    let body: Value = response.json().await.expect("json");
    assert_eq!(body["code"], "url_expired");
}
