//! The operator's queue endpoints: who may call them, what they list, and
//! what retry and discard do to thumbnails, generations and credits.

use std::time::Duration;

use serde_json::{Value, json};
use thumbforge_db::{credits, keys, orgs};

use crate::helpers::TestApp;

async fn admin_key(app: &TestApp) -> String {
    let ops = orgs::ensure(app.db(), "ops", None).await.expect("org");
    keys::create(app.db(), &ops.id, "admin").await.expect("key")
}

/// Meters the test key's org (`acme`) with `balance` credits; its id.
async fn meter_acme(app: &TestApp, balance: i64) -> String {
    let org = orgs::find_by_slug(app.db(), "acme")
        .await
        .expect("read")
        .expect("org");
    credits::set_balance(app.db(), &org.id, Some(balance))
        .await
        .expect("balance");
    org.id
}

fn ids(list: &Value) -> Vec<String> {
    list.as_array()
        .expect("a list")
        .iter()
        .map(|j| j["thumbnailId"].as_str().expect("id").to_owned())
        .collect()
}

#[tokio::test]
async fn only_admin_keys_see_the_queue() {
    let app = TestApp::spawn().await;
    let (status, problem) = app.get_json(&app.key, "/api/v1/admin/queue").await;
    assert_eq!(status, 403);
    assert_eq!(problem["code"], "insufficient_scope");
    let (status, _) = app.get_json("tfk_nope", "/api/v1/admin/queue").await;
    assert_eq!(status, 401);
    let admin = admin_key(&app).await;
    let (status, report) = app.get_json(&admin, "/api/v1/admin/queue").await;
    assert_eq!(status, 200, "{report}");
    assert_eq!(report["overview"]["dead"], 0);
    assert!(report["queue"]["depth"].is_i64(), "{report}");
    // An admin key is not a thumbnail key.
    let response = app.post_generate(&admin, &json!({"prompt": "x"})).await;
    assert_eq!(response.status(), 403);
}

#[tokio::test]
async fn a_dead_job_is_listed_retried_with_its_credits_and_discarded() {
    let app = TestApp::spawn().await;
    let admin = admin_key(&app).await;
    let org_id = meter_acme(&app, 10).await;
    let id = app
        .generate(
            &app.key,
            json!({"prompt": "[fail:1]", "model": "test", "count": 2}),
        )
        .await;
    let ended = app.wait_terminal(&app.key, &id).await;
    assert_eq!(ended["status"], "partial");
    let dead_id = ended["thumbnails"][1]["id"]
        .as_str()
        .expect("id")
        .to_owned();
    let good_id = ended["thumbnails"][0]["id"]
        .as_str()
        .expect("id")
        .to_owned();
    let balance = |app: &TestApp| {
        let org_id = org_id.clone();
        let db = app.db().clone();
        async move {
            credits::balance(&db, &org_id)
                .await
                .expect("read")
                .flatten()
        }
    };
    // 2 debited, the failed one refunded.
    assert_eq!(balance(&app).await, Some(9));

    let (_, report) = app.get_json(&admin, "/api/v1/admin/queue").await;
    assert_eq!(ids(&report["dead"]), vec![dead_id.clone()]);
    assert_eq!(report["overview"]["dead"], 1);
    let first_failure = report["dead"][0]["completedAt"].as_i64().expect("time");

    // Only failed thumbnails can be retried.
    let (status, problem) = app
        .post_json(&admin, &format!("/api/v1/admin/jobs/{good_id}/retry"))
        .await;
    assert_eq!(
        (status, problem["code"].as_str()),
        (409, Some("job_not_dead"))
    );
    let (status, _) = app
        .post_json(&admin, "/api/v1/admin/jobs/thm_missing/retry")
        .await;
    assert_eq!(status, 404);

    // Retry: the generation reopens, the refund is taken back, the job runs
    // again (and, scripted to fail, fails again and is refunded again).
    let (status, body) = app
        .post_json(&admin, &format!("/api/v1/admin/jobs/{dead_id}/retry"))
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["action"], "retried");
    let again = app.wait_terminal(&app.key, &id).await;
    assert_eq!(again["status"], "partial");
    let (_, report) = app.get_json(&admin, "/api/v1/admin/queue").await;
    let second_failure = report["dead"][0]["completedAt"].as_i64().expect("time");
    assert!(
        second_failure > first_failure,
        "the job ran again: {first_failure} then {second_failure}"
    );
    assert_eq!(report["dead"][0]["attempts"], 1, "a fresh attempt budget");
    assert_eq!(
        balance(&app).await,
        Some(9),
        "debited again, refunded again"
    );

    // Discard: off the dead list, still failed; a second discard is refused.
    let (status, _) = app
        .post_json(&admin, &format!("/api/v1/admin/jobs/{dead_id}/discard"))
        .await;
    assert_eq!(status, 200);
    let (_, report) = app.get_json(&admin, "/api/v1/admin/queue").await;
    assert!(ids(&report["dead"]).is_empty(), "{report}");
    let still = app.wait_terminal(&app.key, &id).await;
    assert_eq!(still["thumbnails"][1]["status"], "failed");
    let (status, problem) = app
        .post_json(&admin, &format!("/api/v1/admin/jobs/{dead_id}/discard"))
        .await;
    assert_eq!(
        (status, problem["code"].as_str()),
        (409, Some("job_not_discardable"))
    );
}

#[tokio::test]
async fn retrying_a_job_whose_org_cannot_pay_is_refused() {
    let app = TestApp::spawn().await;
    let admin = admin_key(&app).await;
    let org_id = meter_acme(&app, 1).await;
    let id = app
        .generate(&app.key, json!({"prompt": "[fail]", "model": "test"}))
        .await;
    let ended = app.wait_terminal(&app.key, &id).await;
    assert_eq!(ended["status"], "failed");
    let thumbnail = ended["thumbnails"][0]["id"].as_str().expect("id");
    credits::set_balance(app.db(), &org_id, Some(0))
        .await
        .expect("balance");
    let (status, problem) = app
        .post_json(&admin, &format!("/api/v1/admin/jobs/{thumbnail}/retry"))
        .await;
    assert_eq!(
        (status, problem["code"].as_str()),
        (402, Some("insufficient_credits"))
    );
    let unchanged = app.wait_terminal(&app.key, &id).await;
    assert_eq!(unchanged["status"], "failed");
}

#[tokio::test]
async fn discarding_a_running_job_fails_it_and_ends_its_generation() {
    let app = TestApp::spawn().await;
    let admin = admin_key(&app).await;
    let id = app
        .generate(
            &app.key,
            json!({"prompt": "[sleep:20000]", "model": "test"}),
        )
        .await;
    let (_, generation) = app
        .get_json(&app.key, &format!("/api/v1/generations/{id}"))
        .await;
    let thumbnail = generation["thumbnails"][0]["id"]
        .as_str()
        .expect("id")
        .to_owned();
    let (status, _) = app
        .post_json(&admin, &format!("/api/v1/admin/jobs/{thumbnail}/discard"))
        .await;
    assert_eq!(status, 200);
    let ended = tokio::time::timeout(Duration::from_secs(5), app.wait_terminal(&app.key, &id))
        .await
        .expect("ends at once, not after the model's 20 s");
    assert_eq!(ended["status"], "failed");
    assert_eq!(ended["thumbnails"][0]["error"], "Discarded by an operator.");
    // Listed as dead now, like any failure.
    let (_, report) = app.get_json(&admin, "/api/v1/admin/queue").await;
    assert_eq!(ids(&report["dead"]), vec![thumbnail]);
}

#[tokio::test]
async fn the_playground_and_dashboard_are_served_without_a_cdn() {
    let app = TestApp::spawn().await;
    for (path, needle) in [("/", "/ui/app.js"), ("/admin", "/ui/admin.js")] {
        let response = app
            .client
            .get(format!("{}{path}", app.address))
            .send()
            .await
            .expect("sent");
        assert_eq!(response.status(), 200);
        let csp = response.headers()["content-security-policy"]
            .to_str()
            .expect("ascii")
            .to_owned();
        assert!(csp.contains("script-src 'self'"), "{csp}");
        let html = response.text().await.expect("text");
        assert!(html.contains(needle));
        for remote in ["src=\"http", "href=\"http", "src=\"//", "href=\"//"] {
            assert!(!html.contains(remote), "no remote assets: {remote}");
        }
    }
    for file in ["app.js", "admin.js", "api.js", "app.css"] {
        let response = app
            .client
            .get(format!("{}/ui/{file}", app.address))
            .send()
            .await
            .expect("sent");
        assert_eq!(response.status(), 200, "{file}");
    }
    let missing = app
        .client
        .get(format!("{}/ui/nope.js", app.address))
        .send()
        .await
        .expect("sent");
    assert_eq!(missing.status(), 404);
    let (status, models) = app.get_json(&app.key, "/api/v1/models").await;
    assert_eq!(status, 200);
    let local = models["data"]
        .as_array()
        .expect("list")
        .iter()
        .find(|m| m["name"] == "local")
        .expect("local listed");
    assert_eq!(local["available"], true);
    assert_eq!(local["default"], true);
}
