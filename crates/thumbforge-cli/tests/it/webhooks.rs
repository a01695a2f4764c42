//! Webhooks: Standard Webhooks signatures checked by an independent
//! implementation (the `standardwebhooks` package, `scripts/verify_webhook.py`),
//! retries with every attempt recorded, per-thumbnail events, and the
//! refusals: no redirects followed, no private addresses.

use reqwest::Method;
use std::{
    collections::BTreeSet,
    time::{Duration, Instant},
};

use serde_json::{Value, json};
use wiremock::{
    Mock, MockServer, ResponseTemplate,
    matchers::{body_string_contains, method, path},
};

use crate::helpers::TestApp;

async fn receiver() -> MockServer {
    let listener = std::net::TcpListener::bind("127.0.0.2:0").expect("bind 127.0.0.2");
    MockServer::builder().listener(listener).start().await
}

async fn app() -> TestApp {
    TestApp::spawn_with(|s| {
        s.references.allow_http = true;
        s.references.allow_cidrs = vec!["127.0.0.2/32".to_owned()];
        s.webhooks.interval_ms = 100;
        s.webhooks.backoff_base_ms = 200;
        s.webhooks.backoff_max_ms = 400;
        s.webhooks.max_attempts = 3;
        s.webhooks.timeout_secs = 2;
    })
    .await
}

async fn deliveries(app: &TestApp, generation_id: &str) -> Vec<Value> {
    let body: Value = app
        .send(
            Method::GET,
            &format!("/api/v1/webhooks/deliveries?generationId={generation_id}"),
            &app.key,
            None,
        )
        .await
        .json()
        .await
        .expect("json");
    body["data"].as_array().cloned().unwrap_or_default()
}

/// Waits until every delivery of the generation is settled and there are
/// at least `count` of them.
async fn settled(app: &TestApp, generation_id: &str, count: usize) -> Vec<Value> {
    let start = Instant::now();
    loop {
        let all = deliveries(app, generation_id).await;
        if all.len() >= count
            && all
                .iter()
                .all(|d| d["status"] == "delivered" || d["status"] == "failed")
        {
            return all;
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "deliveries not settled: {all:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn verify_independently(secret: &str, request: &wiremock::Request) -> Value {
    use std::io::Write;
    let header = |name: &str| {
        request
            .headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .expect(name)
            .to_owned()
    };
    let message = json!({
        "secret": secret,
        "headers": {
            "webhook-id": header("webhook-id"),
            "webhook-timestamp": header("webhook-timestamp"),
            "webhook-signature": header("webhook-signature"),
        },
        "body": String::from_utf8(request.body.clone()).expect("utf-8"),
    });
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../scripts/verify_webhook.py"
    );
    let mut child = std::process::Command::new("python3")
        .arg(script)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("python3 runs (scripts/test.sh installs it and standardwebhooks)");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(message.to_string().as_bytes())
        .expect("write");
    let out = child.wait_with_output().expect("waits");
    assert!(
        out.status.success(),
        "standardwebhooks refused the signature: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("verified payload")
}

/// Field names of an object schema in the checked-in spec.
fn spec_fields(schema: &str) -> BTreeSet<String> {
    let spec: Value =
        serde_json::from_str(include_str!("../../../../docs/openapi.json")).expect("spec");
    spec["components"]["schemas"][schema]["properties"]
        .as_object()
        .unwrap_or_else(|| panic!("no schema {schema}"))
        .keys()
        .cloned()
        .collect()
}

fn fields(value: &Value) -> BTreeSet<String> {
    value
        .as_object()
        .expect("an object")
        .keys()
        .cloned()
        .collect()
}

/// A delivered message has exactly the fields that the spec's `webhooks`
/// section describes for its type, so generated clients can read it.
fn matches_the_spec(payload: &Value) {
    let spec: Value =
        serde_json::from_str(include_str!("../../../../docs/openapi.json")).expect("spec");
    let kind = payload["type"].as_str().expect("type");
    let schema = spec["webhooks"][kind]["post"]["requestBody"]["content"]["application/json"]
        ["schema"]["$ref"]
        .as_str()
        .unwrap_or_else(|| panic!("the spec has no webhook {kind}"))
        .rsplit('/')
        .next()
        .expect("a name")
        .to_owned();
    assert_eq!(fields(payload), spec_fields(&schema), "{kind}");
    let thumbnails = if kind == "generation.completed" {
        assert_eq!(
            fields(&payload["data"]),
            spec_fields("WebhookGeneration"),
            "{kind} data"
        );
        payload["data"]["thumbnails"]
            .as_array()
            .expect("thumbnails")
            .clone()
    } else {
        vec![payload["data"].clone()]
    };
    for t in &thumbnails {
        assert_eq!(
            fields(t),
            spec_fields("WebhookThumbnail"),
            "{kind} thumbnail"
        );
    }
}

#[tokio::test]
async fn deliveries_are_signed_retried_and_recorded() {
    let hook = receiver().await;
    // The completion event fails once, then succeeds.
    Mock::given(method("POST"))
        .and(path("/hook"))
        .and(body_string_contains("generation.completed"))
        .respond_with(ResponseTemplate::new(500))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&hook)
        .await;
    Mock::given(method("POST"))
        .and(path("/hook"))
        .respond_with(ResponseTemplate::new(204))
        .mount(&hook)
        .await;
    let app = app().await;
    let id = app
        .generate(
            &app.key,
            json!({"prompt": "notify me", "count": 2, "webhookUrl": format!("{}/hook", hook.uri()),
                   "webhookEvents": "all"}),
        )
        .await;
    app.wait_terminal(&app.key, &id).await;
    let all = settled(&app, &id, 3).await;
    assert_eq!(all.len(), 3, "two thumbnails and the completion: {all:?}");
    assert!(all.iter().all(|d| d["status"] == "delivered"), "{all:?}");
    let completed = all
        .iter()
        .find(|d| d["eventType"] == "generation.completed")
        .expect("completion");
    let attempts = completed["attempts"].as_array().expect("attempts");
    assert_eq!(attempts.len(), 2, "one failure, one success: {completed}");
    assert_eq!(attempts[0]["statusCode"], 500);
    assert_eq!(attempts[1]["statusCode"], 204);

    let secret: Value = app
        .send(Method::GET, "/api/v1/webhooks/secret", &app.key, None)
        .await
        .json()
        .await
        .expect("json");
    let secret = secret["secret"].as_str().expect("secret").to_owned();
    assert!(secret.starts_with("whsec_"));
    let received = hook.received_requests().await.expect("recorded");
    assert_eq!(received.len(), 4, "3 events, one retried");
    let mut types = Vec::new();
    for request in &received {
        let payload = verify_independently(&secret, request);
        types.push(payload["type"].as_str().expect("type").to_owned());
        matches_the_spec(&payload);
        let about = payload["data"]["generationId"]
            .as_str()
            .or(payload["data"]["id"].as_str());
        assert_eq!(about, Some(id.as_str()), "{payload}");
    }
    types.sort();
    assert_eq!(
        types,
        vec![
            "generation.completed",
            "generation.completed",
            "thumbnail.succeeded",
            "thumbnail.succeeded"
        ]
    );
    // A retry is the same message: the same webhook-id.
    let ids: Vec<&str> = received
        .iter()
        .filter(|r| String::from_utf8_lossy(&r.body).contains("generation.completed"))
        .filter_map(|r| r.headers.get("webhook-id").and_then(|v| v.to_str().ok()))
        .collect();
    assert_eq!(ids.len(), 2);
    assert_eq!(ids[0], ids[1]);
    let completion: Value = serde_json::from_slice(
        &received
            .iter()
            .find(|r| String::from_utf8_lossy(&r.body).contains("generation.completed"))
            .expect("completion")
            .body,
    )
    .expect("json");
    assert_eq!(completion["data"]["id"], id.as_str());
    assert_eq!(completion["data"]["status"], "succeeded");

    // A tampered body fails the independent check (the check can fail).
    let mut forged = received[0].clone();
    forged.body = br#"{"type":"generation.completed","data":{}}"#.to_vec();
    let result = std::panic::catch_unwind(|| verify_independently(&secret, &forged));
    assert!(result.is_err(), "a forged body must not verify");
}

#[tokio::test]
async fn redirects_and_private_addresses_are_refused_and_recorded() {
    let hook = receiver().await;
    Mock::given(method("POST"))
        .and(path("/moved"))
        .respond_with(
            ResponseTemplate::new(307).insert_header("location", "http://127.0.0.2:1/elsewhere"),
        )
        .mount(&hook)
        .await;
    let app = app().await;
    let redirected = app
        .generate(
            &app.key,
            json!({"prompt": "x", "webhookUrl": format!("{}/moved", hook.uri())}),
        )
        .await;
    let private = app
        .generate(
            &app.key,
            json!({"prompt": "x", "webhookUrl": "http://127.0.0.1:9/hook"}),
        )
        .await;
    for (id, expected) in [
        (redirected, "redirects are not followed"),
        (private, "127.0.0.1 is not public"),
    ] {
        app.wait_terminal(&app.key, &id).await;
        let all = settled(&app, &id, 1).await;
        assert_eq!(all[0]["status"], "failed", "{all:?}");
        let attempts = all[0]["attempts"].as_array().expect("attempts");
        assert_eq!(attempts.len(), 3, "max_attempts: {all:?}");
        for attempt in attempts {
            assert!(
                attempt["error"]
                    .as_str()
                    .is_some_and(|e| e.contains(expected)),
                "{attempt}"
            );
        }
    }
    // Only the redirecting receiver was ever contacted, never its target.
    for request in hook.received_requests().await.expect("recorded") {
        assert_eq!(request.url.path(), "/moved");
    }
    let refused = app
        .post_generate(&app.key, &json!({"prompt": "x", "webhookUrl": "ftp://x/y"}))
        .await;
    assert_eq!(refused.status(), 422);
}
