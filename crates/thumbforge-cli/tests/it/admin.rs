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

async fn post_body(app: &TestApp, key: &str, path: &str, body: Value) -> (u16, Value) {
    let response = app
        .client
        .post(format!("{}{path}", app.address))
        .bearer_auth(key)
        .json(&body)
        .send()
        .await
        .expect("sent");
    let status = response.status().as_u16();
    (status, response.json().await.expect("json"))
}

#[tokio::test]
async fn jobs_are_found_by_state_and_id_with_their_payload_and_charted_by_minute() {
    let app = TestApp::spawn().await;
    let admin = admin_key(&app).await;
    let id = app
        .generate(
            &app.key,
            json!({"prompt": "[fail:1] a charted job", "title": "Charted", "model": "test",
                   "count": 2, "aspectRatio": "4:3"}),
        )
        .await;
    let ended = app.wait_terminal(&app.key, &id).await;
    assert_eq!(ended["status"], "partial");
    let good = ended["thumbnails"][0]["id"]
        .as_str()
        .expect("id")
        .to_owned();
    let bad = ended["thumbnails"][1]["id"]
        .as_str()
        .expect("id")
        .to_owned();

    let (status, failed) = app
        .get_json(&admin, "/api/v1/admin/jobs?status=failed")
        .await;
    assert_eq!(status, 200, "{failed}");
    assert_eq!(ids(&failed["data"]), std::slice::from_ref(&bad));
    assert_eq!(failed["data"][0]["endReason"], "model_error");
    let (_, succeeded) = app
        .get_json(&admin, "/api/v1/admin/jobs?status=succeeded")
        .await;
    assert_eq!(ids(&succeeded["data"]), std::slice::from_ref(&good));
    // By id: a thumbnail, or a generation's thumbnails (newest first).
    let (_, one) = app
        .get_json(&admin, &format!("/api/v1/admin/jobs?id={good}"))
        .await;
    assert_eq!(ids(&one["data"]), std::slice::from_ref(&good));
    let (_, both) = app
        .get_json(&admin, &format!("/api/v1/admin/jobs?id={id}"))
        .await;
    // Made in the same millisecond, so in either order.
    let mut found = ids(&both["data"]);
    found.sort();
    let mut expected = vec![bad.clone(), good.clone()];
    expected.sort();
    assert_eq!(found, expected);
    let (_, none) = app.get_json(&admin, "/api/v1/admin/jobs?id=thm_nope").await;
    assert_eq!(ids(&none["data"]), Vec::<String>::new());
    let (status, problem) = app.get_json(&admin, "/api/v1/admin/jobs?status=dead").await;
    assert_eq!(
        (status, problem["code"].as_str()),
        (422, Some("invalid_status"))
    );

    // One job: its error and what it was asked to make.
    let (status, detail) = app
        .get_json(&admin, &format!("/api/v1/admin/jobs/{bad}"))
        .await;
    assert_eq!(status, 200, "{detail}");
    assert_eq!(detail["job"]["status"], "failed");
    assert!(detail["job"]["error"].as_str().is_some(), "{detail}");
    let payload = &detail["payload"];
    assert_eq!(payload["prompt"], "[fail:1] a charted job");
    assert_eq!(payload["title"], "Charted");
    assert_eq!(payload["model"], "test");
    assert_eq!(payload["aspectRatio"], "4:3");
    assert_eq!(payload["variation"], 1);
    assert_eq!(payload["generationId"], id.as_str());
    let (status, _) = app.get_json(&admin, "/api/v1/admin/jobs/thm_nope").await;
    assert_eq!(status, 404);

    // The charts: this minute holds one success and one model error.
    let (status, stats) = app.get_json(&admin, "/api/v1/admin/stats?minutes=5").await;
    assert_eq!(status, 200, "{stats}");
    let minutes = stats["minutes"].as_array().expect("minutes");
    assert_eq!(minutes.len(), 6, "five whole minutes and this one");
    let sum = |f: &dyn Fn(&Value) -> u64| minutes.iter().map(f).sum::<u64>();
    assert_eq!(sum(&|m| m["succeeded"].as_u64().unwrap_or(0)), 1, "{stats}");
    assert_eq!(
        sum(&|m| m["failed"]["model_error"].as_u64().unwrap_or(0)),
        1,
        "{stats}"
    );
    assert_eq!(sum(&|m| m["started"].as_u64().unwrap_or(0)), 2, "{stats}");
    assert!(
        minutes.iter().any(|m| m["meanWaitMs"].as_f64().is_some()),
        "{stats}"
    );
    let at: Vec<i64> = minutes
        .iter()
        .map(|m| m["at"].as_i64().expect("at"))
        .collect();
    assert!(at.windows(2).all(|w| w[1] - w[0] == 60_000), "{at:?}");
    // Only admins.
    let (status, _) = app.get_json(&app.key, "/api/v1/admin/stats").await;
    assert_eq!(status, 403);
}

#[tokio::test]
async fn bulk_retry_and_discard_act_on_each_id_and_report_each_refusal() {
    let app = TestApp::spawn().await;
    let admin = admin_key(&app).await;
    let mut dead = Vec::new();
    for _ in 0..3 {
        let id = app
            .generate(&app.key, json!({"prompt": "[fail]", "model": "test"}))
            .await;
        let ended = app.wait_terminal(&app.key, &id).await;
        dead.push(
            ended["thumbnails"][0]["id"]
                .as_str()
                .expect("id")
                .to_owned(),
        );
    }
    // Discard two dead ones and one that does not exist.
    let (status, report) = post_body(
        &app,
        &admin,
        "/api/v1/admin/jobs/discard",
        json!({"thumbnailIds": [dead[0], "thm_nope", dead[1]]}),
    )
    .await;
    assert_eq!(status, 200, "{report}");
    assert_eq!(report["done"], 2, "{report}");
    let results = report["results"].as_array().expect("results");
    assert_eq!(results[0]["action"], "discarded");
    assert_eq!(results[1]["status"], 404);
    assert_eq!(results[1]["code"], "not_found");
    assert_eq!(results[2]["action"], "discarded");
    let (_, queue) = app.get_json(&admin, "/api/v1/admin/queue").await;
    assert_eq!(ids(&queue["dead"]), [dead[2].clone()]);

    // Retry the last dead one, and one that has not failed.
    let ok = app
        .generate(&app.key, json!({"prompt": "fine", "model": "test"}))
        .await;
    let ok_thumb = app.wait_terminal(&app.key, &ok).await["thumbnails"][0]["id"]
        .as_str()
        .expect("id")
        .to_owned();
    let (status, report) = post_body(
        &app,
        &admin,
        "/api/v1/admin/jobs/retry",
        json!({"thumbnailIds": [dead[2], ok_thumb]}),
    )
    .await;
    assert_eq!(status, 200, "{report}");
    assert_eq!(report["done"], 1, "{report}");
    assert_eq!(report["results"][0]["action"], "retried");
    assert_eq!(report["results"][1]["code"], "job_not_dead");
    assert_eq!(report["results"][1]["status"], 409);

    // No ids, or too many, is refused as a whole.
    let (status, problem) = post_body(
        &app,
        &admin,
        "/api/v1/admin/jobs/retry",
        json!({"thumbnailIds": []}),
    )
    .await;
    assert_eq!(
        (status, problem["code"].as_str()),
        (422, Some("invalid_job_ids"))
    );
    let many: Vec<String> = (0..201).map(|i| format!("thm_{i}")).collect();
    let (status, problem) = post_body(
        &app,
        &admin,
        "/api/v1/admin/jobs/discard",
        json!({"thumbnailIds": many}),
    )
    .await;
    assert_eq!(
        (status, problem["code"].as_str()),
        (422, Some("invalid_job_ids"))
    );
    let (status, _) = post_body(
        &app,
        &app.key,
        "/api/v1/admin/jobs/retry",
        json!({"thumbnailIds": [dead[2]]}),
    )
    .await;
    assert_eq!(status, 403);
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
