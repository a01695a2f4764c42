//! A generation's life after submit: listing, cancel, delete, credits,
//! idempotent retries, `Prefer: wait`, and key scopes.

use reqwest::Method;
use std::collections::HashSet;

use serde_json::{Value, json};
use thumbforge_core::Plan;
use thumbforge_db::{credits, keys, orgs};

use crate::helpers::TestApp;

async fn org_id(app: &TestApp, slug: &str) -> String {
    orgs::find_by_slug(app.db(), slug)
        .await
        .expect("read")
        .expect("org")
        .id
}

async fn balance(app: &TestApp, slug: &str) -> Option<i64> {
    credits::balance(app.db(), &org_id(app, slug).await)
        .await
        .expect("read")
        .expect("org")
}

#[tokio::test]
async fn listing_pages_through_the_orgs_generations_newest_first() {
    let app = TestApp::spawn().await;
    let other = app.create_key("other-org", Plan::Pro).await;
    let mut made = Vec::new();
    for i in 0..5 {
        let id = app
            .generate(&app.key, json!({"prompt": format!("list {i}")}))
            .await;
        app.wait_terminal(&app.key, &id).await;
        made.push(id);
    }
    let failed = app
        .generate(&app.key, json!({"prompt": "x [fail]", "model": "test"}))
        .await;
    app.wait_terminal(&app.key, &failed).await;

    let mut seen = Vec::new();
    let mut path = "/api/v1/generations?limit=2".to_owned();
    loop {
        let (status, page) = app.get_json(&app.key, &path).await;
        assert_eq!(status, 200, "{page}");
        let data = page["data"].as_array().expect("data");
        assert!(data.len() <= 2);
        seen.extend(
            data.iter()
                .map(|g| g["id"].as_str().expect("id").to_owned()),
        );
        match page["nextCursor"].as_str() {
            Some(cursor) => {
                assert_eq!(page["hasMore"], true);
                path = format!("/api/v1/generations?limit=2&cursor={cursor}");
            }
            None => break,
        }
    }
    assert_eq!(seen.len(), 6, "every generation once: {seen:?}");
    assert_eq!(seen.iter().collect::<HashSet<_>>().len(), 6);
    assert_eq!(seen[0], failed, "newest first");
    assert_eq!(seen[5], made[0]);

    let (_, only_failed) = app
        .get_json(&app.key, "/api/v1/generations?status=failed")
        .await;
    assert_eq!(only_failed["data"].as_array().map(Vec::len), Some(1));
    assert_eq!(only_failed["data"][0]["id"], failed.as_str());
    let (_, theirs) = app.get_json(&other, "/api/v1/generations").await;
    assert_eq!(
        theirs["data"].as_array().map(Vec::len),
        Some(0),
        "org-scoped"
    );
    for (query, code) in [
        ("limit=0", "invalid_limit"),
        ("limit=101", "invalid_limit"),
        ("cursor=nonsense", "invalid_cursor"),
        ("status=done", "invalid_status"),
    ] {
        let (status, problem) = app
            .get_json(&app.key, &format!("/api/v1/generations?{query}"))
            .await;
        assert_eq!(
            (status, problem["code"].as_str()),
            (422, Some(code)),
            "{query}"
        );
    }
}

#[tokio::test]
async fn cancel_stops_unfinished_thumbnails_and_refunds_them() {
    let app = TestApp::spawn().await;
    let org = org_id(&app, "acme").await;
    credits::set_balance(app.db(), &org, Some(100))
        .await
        .expect("balance");
    // The auth cache remembers "unmetered" for a while; a fresh key is read anew.
    let key = keys::create(app.db(), &org, keys::DEFAULT_SCOPES)
        .await
        .expect("key");

    let id = app
        .generate(
            &key,
            json!({"prompt": "slow [sleep:3000]", "model": "test", "count": 2}),
        )
        .await;
    assert_eq!(
        balance(&app, "acme").await,
        Some(98),
        "2 thumbnails x 1 credit"
    );
    let (status, canceled) = app
        .post_json(&key, &format!("/api/v1/generations/{id}/cancel"))
        .await;
    assert_eq!(status, 200, "{canceled}");
    assert_eq!(canceled["status"], "canceled");
    for t in canceled["thumbnails"].as_array().expect("thumbnails") {
        assert_eq!(t["status"], "canceled");
        assert!(t["url"].is_null());
    }
    assert_eq!(balance(&app, "acme").await, Some(100), "refunded");
    // The running jobs finish their sleep; their results are discarded.
    tokio::time::sleep(std::time::Duration::from_secs(4)).await;
    let (_, after) = app
        .get_json(&key, &format!("/api/v1/generations/{id}"))
        .await;
    assert_eq!(after["status"], "canceled", "{after}");
    assert_eq!(balance(&app, "acme").await, Some(100));

    // A finished generation is answered unchanged and keeps its cost.
    let done = app.generate(&key, json!({"prompt": "quick"})).await;
    app.wait_terminal(&key, &done).await;
    let (status, body) = app
        .post_json(&key, &format!("/api/v1/generations/{done}/cancel"))
        .await;
    assert_eq!((status, body["status"].as_str()), (200, Some("succeeded")));
    assert_eq!(balance(&app, "acme").await, Some(99));
    let other = app.create_key("other-org", Plan::Pro).await;
    let (status, _) = app
        .post_json(&other, &format!("/api/v1/generations/{done}/cancel"))
        .await;
    assert_eq!(status, 404, "another org's generation");
}

#[tokio::test]
async fn credits_are_debited_refused_when_short_and_refunded_for_failures() {
    let app = TestApp::spawn().await;
    let org = org_id(&app, "acme").await;
    credits::set_balance(app.db(), &org, Some(3))
        .await
        .expect("balance");
    let key = keys::create(app.db(), &org, keys::DEFAULT_SCOPES)
        .await
        .expect("key");

    let ok = app
        .generate(&key, json!({"prompt": "two", "count": 2}))
        .await;
    assert_eq!(balance(&app, "acme").await, Some(1));
    let short = app
        .post_generate(&key, &json!({"prompt": "two more", "count": 2}))
        .await;
    assert_eq!(short.status(), 402);
    let problem: Value = short.json().await.expect("json");
    assert_eq!(problem["code"], "insufficient_credits");
    assert_eq!(
        balance(&app, "acme").await,
        Some(1),
        "a refusal costs nothing"
    );

    let failing = app
        .generate(
            &key,
            json!({"prompt": "x [sleep:1500] [fail]", "model": "test"}),
        )
        .await;
    assert_eq!(balance(&app, "acme").await, Some(0));
    let done = app.wait_terminal(&key, &failing).await;
    assert_eq!(done["status"], "failed");
    assert_eq!(
        balance(&app, "acme").await,
        Some(1),
        "the failed thumbnail is refunded"
    );
    app.wait_terminal(&key, &ok).await;
    assert_eq!(
        balance(&app, "acme").await,
        Some(1),
        "successes are not refunded"
    );

    // An unmetered org is never refused.
    let free_for_all = app.create_key("unmetered", Plan::Pro).await;
    for _ in 0..3 {
        app.generate(&free_for_all, json!({"prompt": "x", "count": 4}))
            .await;
    }
    assert_eq!(balance(&app, "unmetered").await, None);
}

#[tokio::test]
async fn an_idempotency_key_replays_the_original_and_refuses_other_parameters() {
    let app = TestApp::spawn().await;
    let send = |key: &str, body: Value, idem: &str| {
        let request = app
            .client
            .post(format!("{}/api/v1/generate", app.address))
            .bearer_auth(key)
            .header("Idempotency-Key", idem)
            .json(&body);
        async move { request.send().await.expect("sent") }
    };
    let body = json!({"prompt": "once only", "count": 2});
    let first = send(&app.key, body.clone(), "order-42").await;
    assert_eq!(first.status(), 202);
    assert!(first.headers().get("idempotent-replayed").is_none());
    let first: Value = first.json().await.expect("json");
    let again = send(&app.key, body.clone(), "order-42").await;
    assert_eq!(again.status(), 202);
    assert_eq!(
        again
            .headers()
            .get("idempotent-replayed")
            .and_then(|v| v.to_str().ok()),
        Some("true")
    );
    let again: Value = again.json().await.expect("json");
    assert_eq!(again["generationId"], first["generationId"]);
    assert_eq!(again["thumbnailIds"], first["thumbnailIds"]);

    let other_body = send(&app.key, json!({"prompt": "something else"}), "order-42").await;
    assert_eq!(other_body.status(), 422);
    let problem: Value = other_body.json().await.expect("json");
    assert_eq!(problem["code"], "idempotency_key_reused");

    // Keys belong to an organisation.
    let other = app.create_key("other-org", Plan::Pro).await;
    let theirs: Value = send(&other, body.clone(), "order-42")
        .await
        .json()
        .await
        .expect("json");
    assert_ne!(theirs["generationId"], first["generationId"]);

    let bad = send(&app.key, body, &"k".repeat(300)).await;
    assert_eq!(bad.status(), 400);
    let (_, page) = app.get_json(&app.key, "/api/v1/generations").await;
    assert_eq!(
        page["data"].as_array().map(Vec::len),
        Some(1),
        "one generation made"
    );
}

#[tokio::test]
async fn prefer_wait_answers_the_finished_generation() {
    let app = TestApp::spawn().await;
    let waited = app
        .client
        .post(format!("{}/api/v1/generate", app.address))
        .bearer_auth(&app.key)
        .header("Prefer", "wait=30")
        .json(&json!({"prompt": "ready soon", "count": 2}))
        .send()
        .await
        .expect("sent");
    assert_eq!(waited.status(), 200);
    assert_eq!(
        waited
            .headers()
            .get("preference-applied")
            .and_then(|v| v.to_str().ok()),
        Some("wait=30")
    );
    let body: Value = waited.json().await.expect("json");
    assert_eq!(body["status"], "succeeded", "{body}");
    assert!(body["thumbnails"][1]["url"].is_string());

    let slow = app
        .client
        .post(format!("{}/api/v1/generate", app.address))
        .bearer_auth(&app.key)
        .header("Prefer", "respond-async, wait=1")
        .json(&json!({"prompt": "slow [sleep:4000]", "model": "test"}))
        .send()
        .await
        .expect("sent");
    assert_eq!(slow.status(), 202, "not finished within the wait");
    let body: Value = slow.json().await.expect("json");
    assert_eq!(body["status"], "processing");
}

#[tokio::test]
async fn delete_removes_the_generation_and_its_files() {
    let app = TestApp::spawn().await;
    let id = app.generate(&app.key, json!({"prompt": "to delete"})).await;
    let done = app.wait_terminal(&app.key, &id).await;
    let url = done["thumbnails"][0]["url"]
        .as_str()
        .expect("url")
        .to_owned();
    assert_eq!(app.download(&url).await.status(), 200);
    let images = app.settings.images_dir();
    let files_before = count_files(&images);
    assert!(files_before >= 1);

    let other = app.create_key("other-org", Plan::Pro).await;
    let delete = |key: String| {
        let request = app
            .client
            .delete(format!("{}/api/v1/generations/{id}", app.address))
            .bearer_auth(key);
        async move { request.send().await.expect("sent").status().as_u16() }
    };
    assert_eq!(delete(other).await, 404, "another org cannot delete it");
    assert_eq!(delete(app.key.clone()).await, 204);
    assert_eq!(app.get_generation(&app.key, &id).await.status(), 404);
    assert_eq!(app.download(&url).await.status(), 404);
    assert_eq!(count_files(&images), files_before - 1, "the PNG is gone");
    assert_eq!(delete(app.key.clone()).await, 404, "already gone");
}

fn count_files(dir: &std::path::Path) -> usize {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .flatten()
        .map(|e| {
            let path = e.path();
            if path.is_dir() { count_files(&path) } else { 1 }
        })
        .sum()
}

#[tokio::test]
async fn a_key_without_the_generator_scope_is_refused() {
    let app = TestApp::spawn().await;
    let org = org_id(&app, "acme").await;
    let narrow = keys::create(app.db(), &org, "billing_read")
        .await
        .expect("key");
    let response = app.post_generate(&narrow, &json!({"prompt": "x"})).await;
    assert_eq!(response.status(), 403);
    let problem: Value = response.json().await.expect("json");
    assert_eq!(problem["code"], "insufficient_scope");
    let (status, _) = app.get_json(&narrow, "/api/v1/generations").await;
    assert_eq!(status, 403);
}

#[tokio::test]
async fn a_full_storage_quota_refuses_new_images_until_space_is_freed() {
    let app = TestApp::spawn_with(|s| s.limits.pro.storage_quota_bytes = 1).await;
    let first = app
        .generate(&app.key, json!({"prompt": "fills the quota"}))
        .await;
    app.wait_terminal(&app.key, &first).await;
    let refused = app
        .post_generate(&app.key, &json!({"prompt": "one more"}))
        .await;
    assert_eq!(refused.status(), 402);
    let problem: Value = refused.json().await.expect("json");
    assert_eq!(problem["code"], "storage_quota_exceeded");
    let upload = app
        .client
        .post(format!("{}/api/v1/assets", app.address))
        .bearer_auth(&app.key)
        .multipart(reqwest::multipart::Form::new().text("kind", "person"))
        .send()
        .await
        .expect("sent");
    assert_eq!(upload.status(), 402, "uploads count against the quota too");
    let deleted = app
        .send(
            Method::DELETE,
            &format!("/api/v1/generations/{first}"),
            &app.key,
            None,
        )
        .await;
    assert_eq!(deleted.status(), 204);
    let again = app
        .post_generate(&app.key, &json!({"prompt": "room again"}))
        .await;
    assert_eq!(again.status(), 202, "deleting freed the space");
}
