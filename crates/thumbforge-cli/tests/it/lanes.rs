//! A worker's two lanes: calls that wait on a remote model do not hold CPU
//! slots, and a worker takes from a lane only what it has slots for.

use std::time::Duration;

use serde_json::{Value, json};
use thumbforge_db::thumbnails;

use crate::helpers::TestApp;

/// The thumbnails of `generation` (as the API answered it): how many a
/// worker has claimed and not finished, and how many have ended.
async fn claimed_and_ended(app: &TestApp, generation: &Value) -> (usize, usize) {
    let (mut claimed, mut ended) = (0, 0);
    for t in generation["thumbnails"].as_array().expect("thumbnails") {
        let id = t["id"].as_str().expect("id");
        let row = thumbnails::find(app.db(), id)
            .await
            .expect("db")
            .expect("row");
        match (row.status.as_str(), row.started_at) {
            ("processing", Some(_)) => claimed += 1,
            ("processing", None) => {}
            _ => ended += 1,
        }
    }
    (claimed, ended)
}

#[tokio::test]
async fn remote_calls_wait_without_holding_a_cpu_slot() {
    let app = TestApp::spawn_with(|s| s.worker.concurrency = Some(1)).await;
    let id = app
        .generate(
            &app.key,
            json!({"prompt": "[sleep:4000] slow model", "model": "test", "count": 4}),
        )
        .await;
    let (_, generation) = app
        .get_json(&app.key, &format!("/api/v1/generations/{id}"))
        .await;
    // One CPU slot, yet all four calls are made at once.
    let mut seen = (0, 0);
    for _ in 0..200 {
        seen = claimed_and_ended(&app, &generation).await;
        if seen.0 == 4 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert_eq!(seen, (4, 0), "claimed and unfinished, ended");
    let done = app.wait_terminal(&app.key, &id).await;
    assert_eq!(done["status"], "succeeded", "{done}");
}

#[tokio::test]
async fn a_worker_takes_only_the_lanes_it_has_slots_for() {
    // No remote slots: this worker draws local thumbnails only.
    let app = TestApp::spawn_with(|s| s.worker.max_in_flight = 0).await;
    let remote = app
        .generate(
            &app.key,
            json!({"prompt": "[flat] remote", "model": "test"}),
        )
        .await;
    let local = app
        .generate(&app.key, json!({"prompt": "drawn here", "model": "local"}))
        .await;
    let done = app.wait_terminal(&app.key, &local).await;
    assert_eq!(done["status"], "succeeded", "{done}");
    // The remote job was queued first, and is still waiting for a worker
    // with remote slots (its sweeper passes included).
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let (_, waiting) = app
        .get_json(&app.key, &format!("/api/v1/generations/{remote}"))
        .await;
    assert_eq!(waiting["status"], "processing", "{waiting}");
    assert_eq!(claimed_and_ended(&app, &waiting).await, (0, 0));
}
