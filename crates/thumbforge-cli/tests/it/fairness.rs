//! Sharing the workers between organisations, through the API on either
//! backend: a full organisation queue answers 429 and drops nothing, a
//! waiting thumbnail shows its place, a quiet organisation's thumbnail is
//! not stuck behind another's backlog, and a caller who waits goes first.

use serde_json::{Value, json};
use thumbforge_core::Plan;
use thumbforge_db::thumbnails;

use crate::helpers::TestApp;

/// The `progress` of each thumbnail of a generation.
fn progress(generation: &Value) -> Vec<Value> {
    generation["thumbnails"]
        .as_array()
        .expect("thumbnails")
        .iter()
        .map(|t| t["progress"].clone())
        .collect()
}

/// Polls `id` until at least `n` of its thumbnails show a queue position
/// (its jobs were pushed after the answer).
async fn wait_until_placed(app: &TestApp, id: &str, n: usize) -> Value {
    for _ in 0..200 {
        let (_, generation) = app
            .get_json(&app.key, &format!("/api/v1/generations/{id}"))
            .await;
        let placed = progress(&generation)
            .iter()
            .filter(|p| p["queuePosition"].is_u64())
            .count();
        if placed >= n {
            return generation;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    panic!("{id}'s thumbnails never showed their places");
}

#[tokio::test]
async fn a_full_org_queue_answers_429_queue_full_and_keeps_what_it_accepted() {
    // No remote slots: test-model thumbnails stay queued.
    let app = TestApp::spawn_with(|s| {
        s.worker.max_in_flight = 0;
        s.queue.lookahead = 1;
        s.limits.pro.max_queued = 4;
    })
    .await;
    let body = |count| json!({"prompt": "[flat] queued", "model": "test", "count": count});
    let first = app.generate(&app.key, body(4)).await;
    // The limit counts what the queue holds (one of the four may have
    // moved ahead to wake a worker on Redis).
    wait_until_placed(&app, &first, 3).await;

    let refused = app.post_generate(&app.key, &body(2)).await;
    assert_eq!(refused.status(), 429);
    let retry_after: u64 = refused
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .expect("a Retry-After in seconds");
    assert!(retry_after > 0);
    let problem: Value = refused.json().await.expect("json");
    assert_eq!(problem["code"], "queue_full", "{problem}");

    // Another organisation has a queue of its own.
    let other = app.create_key("other", Plan::Pro).await;
    app.generate(&other, body(3)).await;

    let (_, listed) = app.get_json(&app.key, "/api/v1/generations").await;
    let ids: Vec<&str> = listed["data"]
        .as_array()
        .expect("data")
        .iter()
        .map(|g| g["id"].as_str().expect("id"))
        .collect();
    assert_eq!(ids, [first.as_str()], "the refused one was not stored");
    let (_, first) = app
        .get_json(&app.key, &format!("/api/v1/generations/{first}"))
        .await;
    assert_eq!(first["status"], "processing");
    assert!(
        progress(&first).iter().all(|p| p["stage"] == "queued"),
        "{first}"
    );
}

#[tokio::test]
async fn each_waiting_thumbnail_shows_its_place_in_its_orgs_queue() {
    let app = TestApp::spawn_with(|s| {
        s.worker.max_in_flight = 0;
        s.queue.lookahead = 1;
    })
    .await;
    let body = json!({"prompt": "[flat] queued", "model": "test", "count": 4});
    let a = app.generate(&app.key, body.clone()).await;
    wait_until_placed(&app, &a, 3).await;
    let b = app.generate(&app.key, body).await;
    wait_until_placed(&app, &b, 4).await;
    let mut places = Vec::new();
    let mut unplaced = 0;
    for id in [&a, &b] {
        let (_, generation) = app
            .get_json(&app.key, &format!("/api/v1/generations/{id}"))
            .await;
        for p in progress(&generation) {
            assert_eq!(p["stage"], "queued", "{generation}");
            match p["queuePosition"].as_u64() {
                Some(n) => places.push(n),
                // Moved ahead to wake a worker (Redis' lookahead of one).
                None => unplaced += 1,
            }
        }
    }
    assert!(unplaced <= 1, "{places:?}");
    let expected: Vec<u64> = (1..=8 - unplaced).collect();
    assert_eq!(places, expected, "one line, in the order they were sent");
}

/// When each thumbnail of `ids` ended, by thumbnail.
async fn completed_at(app: &TestApp, generation: &Value) -> Vec<i64> {
    let mut at = Vec::new();
    for t in generation["thumbnails"].as_array().expect("thumbnails") {
        let row = thumbnails::find(app.db(), t["id"].as_str().expect("id"))
            .await
            .expect("db")
            .expect("row");
        at.push(row.completed_at.expect("ended"));
    }
    at
}

#[tokio::test]
async fn a_quiet_orgs_thumbnail_is_not_stuck_behind_anothers_backlog() {
    // One remote slot: thumbnails run one at a time.
    let app = TestApp::spawn_with(|s| {
        s.worker.max_in_flight = 1;
        s.queue.lookahead = 1;
    })
    .await;
    let quiet = app.create_key("quiet", Plan::Pro).await;
    let backlog = json!({"prompt": "[sleep:500] backlog", "model": "test", "count": 4});
    let busy = [
        app.generate(&app.key, backlog.clone()).await,
        app.generate(&app.key, backlog).await,
    ];
    let one = app
        .generate(
            &quiet,
            json!({"prompt": "[sleep:500] one", "model": "test"}),
        )
        .await;
    let one = app.wait_terminal(&quiet, &one).await;
    assert_eq!(one["status"], "succeeded", "{one}");
    let one_end = completed_at(&app, &one).await[0];
    let mut after = 0;
    for id in &busy {
        let busy = app.wait_terminal(&app.key, id).await;
        assert_eq!(busy["status"], "succeeded", "{busy}");
        after += completed_at(&app, &busy)
            .await
            .iter()
            .filter(|at| **at > one_end)
            .count();
    }
    // First come, first served would end it last (0 of 8 after it); it
    // waits behind what was running or read ahead when it came.
    assert!(after >= 4, "{after} of the backlog's 8 ended after it");
}

#[tokio::test]
async fn a_caller_who_waits_goes_ahead_of_batch_work() {
    let app = TestApp::spawn_with(|s| {
        s.worker.max_in_flight = 1;
        s.queue.lookahead = 1;
    })
    .await;
    let backlog = json!({"prompt": "[sleep:500] backlog", "model": "test", "count": 4});
    let backlog = [
        app.generate(&app.key, backlog.clone()).await,
        app.generate(&app.key, backlog).await,
    ];
    let waited = app
        .client
        .post(format!("{}/api/v1/generate", app.address))
        .bearer_auth(&app.key)
        .header("Prefer", "wait=30")
        .json(&json!({"prompt": "[sleep:500] now", "model": "test"}))
        .send()
        .await
        .expect("sent");
    assert_eq!(waited.status(), 200);
    let waited: Value = waited.json().await.expect("json");
    assert_eq!(waited["status"], "succeeded", "{waited}");
    let mut open = 0;
    for id in &backlog {
        let (_, generation) = app
            .get_json(&app.key, &format!("/api/v1/generations/{id}"))
            .await;
        open += generation["thumbnails"]
            .as_array()
            .expect("thumbnails")
            .iter()
            .filter(|t| t["status"] == "processing")
            .count();
    }
    // Behind at most what was running or read ahead when it came.
    assert!(open >= 4, "{open} of the backlog's 8 still open");
}
