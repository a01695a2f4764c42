//! Both header styles, missing and wrong keys, and org isolation.

use serde_json::Value;
use thumbforge_core::Plan;

use crate::helpers::{TestApp, prompt};

async fn problem(response: reqwest::Response) -> (u16, Value) {
    let status = response.status().as_u16();
    assert_eq!(
        response.headers()["content-type"],
        "application/problem+json"
    );
    (status, response.json().await.expect("json"))
}

#[tokio::test]
async fn bearer_and_x_api_key_both_work() {
    let app = TestApp::spawn().await;
    let id = app.generate(&app.key, prompt("auth styles")).await;
    let bearer = app
        .client
        .get(format!("{}/api/v1/generations/{id}", app.address))
        .header("Authorization", format!("Bearer {}", app.key))
        .send()
        .await
        .expect("sent");
    assert_eq!(bearer.status(), 200);
    let header = app
        .client
        .get(format!("{}/api/v1/generations/{id}", app.address))
        .header("x-api-key", &app.key)
        .send()
        .await
        .expect("sent");
    assert_eq!(header.status(), 200);
    let generate_with_header = app
        .client
        .post(format!("{}/api/v1/generate", app.address))
        .header("x-api-key", &app.key)
        .json(&prompt("via x-api-key"))
        .send()
        .await
        .expect("sent");
    assert_eq!(generate_with_header.status(), 202);
}

#[tokio::test]
async fn missing_and_invalid_keys_are_401_with_codes() {
    let app = TestApp::spawn().await;
    let missing = app
        .client
        .post(format!("{}/api/v1/generate", app.address))
        .json(&prompt("x"))
        .send()
        .await
        .expect("sent");
    assert_eq!(missing.headers()["www-authenticate"], "Bearer");
    let (status, body) = problem(missing).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (401, Some("missing_api_key"))
    );

    let (status, body) = problem(app.post_generate("tfk_not_a_real_key", &prompt("x")).await).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (401, Some("invalid_api_key"))
    );

    let (status, body) = problem(app.get_generation("wrong", "gen_whatever").await).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (401, Some("invalid_api_key"))
    );
}

#[tokio::test]
async fn another_orgs_generation_is_a_404_like_a_missing_one() {
    let app = TestApp::spawn().await;
    let other = app.create_key("other-org", Plan::Pro).await;
    let id = app.generate(&app.key, prompt("mine")).await;

    let (status, theirs) = problem(app.get_generation(&other, &id).await).await;
    let (missing_status, missing) =
        problem(app.get_generation(&other, "gen_doesnotexist00000").await).await;
    assert_eq!(status, 404);
    assert_eq!(missing_status, 404);
    assert_eq!(theirs["code"], "not_found");
    assert_eq!(theirs, missing, "indistinguishable from a missing id");

    // The owner still sees it.
    assert_eq!(app.get_generation(&app.key, &id).await.status(), 200);

    // Once terminal, the owner's answer is served from memory; the other
    // org must still get the 404, not the cached body.
    app.wait_terminal(&app.key, &id).await;
    assert_eq!(app.get_generation(&app.key, &id).await.status(), 200);
    let (status, after) = problem(app.get_generation(&other, &id).await).await;
    assert_eq!(status, 404);
    assert_eq!(after, missing);
}

#[tokio::test]
async fn an_explicit_plan_changes_an_existing_org_and_none_keeps_it() {
    use thumbforge_db::{keys, orgs};
    let app = TestApp::spawn().await;
    let before = keys::authenticate(app.db(), &app.key)
        .await
        .expect("db")
        .expect("caller");
    assert_eq!(before.plan, Plan::Pro);
    let kept = orgs::ensure(app.db(), "acme", None).await.expect("db");
    assert_eq!(kept.plan, Plan::Pro, "no plan given: unchanged");
    let changed = orgs::ensure(app.db(), "acme", Some(Plan::Free))
        .await
        .expect("db");
    assert_eq!(
        (changed.id, changed.plan),
        (before.org_id.clone(), Plan::Free)
    );
    let after = keys::authenticate(app.db(), &app.key)
        .await
        .expect("db")
        .expect("caller");
    assert_eq!(after.plan, Plan::Free, "the stored row changed");
}
