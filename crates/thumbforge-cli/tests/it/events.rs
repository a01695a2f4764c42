//! Server-Sent Events of a generation, read from an API replica that
//! neither accepted the generation nor ran its jobs.

use futures::StreamExt;
use serde_json::{Value, json};
use thumbforge_api::Application;

use crate::helpers::TestApp;

/// Reads an SSE stream to its end: (event, data) pairs.
async fn read_events(response: reqwest::Response) -> Vec<(String, Value)> {
    let mut buffer = String::new();
    let mut bytes = response.bytes_stream();
    let reading = async {
        while let Some(chunk) = bytes.next().await {
            buffer.push_str(&String::from_utf8_lossy(&chunk.expect("chunk")));
        }
    };
    tokio::time::timeout(std::time::Duration::from_secs(60), reading)
        .await
        .expect("the stream ends after the generation does");
    buffer
        .split("\n\n")
        .filter_map(|block| {
            let mut name = None;
            let mut data = None;
            for line in block.lines() {
                if let Some(v) = line.strip_prefix("event: ") {
                    name = Some(v.to_owned());
                } else if let Some(v) = line.strip_prefix("data: ") {
                    data = serde_json::from_str(v).ok();
                }
            }
            Some((name?, data?))
        })
        .collect()
}

#[tokio::test]
async fn events_stream_from_a_replica_that_did_not_run_the_job() {
    let app = TestApp::spawn().await;
    // A second API on the same database and queue, with no workers.
    let deps = thumbforge_runtime::connect(&app.settings)
        .await
        .expect("deps");
    let replica = Application::build(&app.settings, &deps)
        .await
        .expect("replica");
    let replica_url = format!("http://127.0.0.1:{}", replica.port());
    let handle = replica.handle();
    let task = tokio::spawn(replica.run_until_stopped());

    let id = app
        .generate(
            &app.key,
            json!({"prompt": "watch me [sleep:800]", "model": "test", "count": 2}),
        )
        .await;
    let response = app
        .client
        .get(format!("{replica_url}/api/v1/generations/{id}/events"))
        .bearer_auth(&app.key)
        .send()
        .await
        .expect("sent");
    assert_eq!(response.status(), 200);
    assert_eq!(
        response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok()),
        Some("text/event-stream")
    );
    let events = read_events(response).await;
    let names: Vec<&str> = events.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names.first(), Some(&"generation"), "{names:?}");
    assert_eq!(events[0].1["status"], "processing");
    assert_eq!(names.last(), Some(&"done"), "{names:?}");
    let done = &events.last().expect("done").1;
    assert_eq!(done["status"], "succeeded");
    assert!(done["thumbnails"][1]["url"].is_string());
    let finished: Vec<&Value> = events
        .iter()
        .filter(|(n, d)| n == "thumbnail" && d["status"] == "succeeded")
        .map(|(_, d)| d)
        .collect();
    assert_eq!(finished.len(), 2, "one event per thumbnail: {names:?}");
    assert!(finished.iter().all(|t| t["generationId"] == id.as_str()));

    // A finished generation's stream is its snapshot and `done`.
    let again = app
        .client
        .get(format!("{replica_url}/api/v1/generations/{id}/events"))
        .bearer_auth(&app.key)
        .send()
        .await
        .expect("sent");
    let names: Vec<String> = read_events(again)
        .await
        .into_iter()
        .map(|(n, _)| n)
        .collect();
    assert_eq!(names, vec!["generation", "done"]);
    let other = app
        .create_key("other-org", thumbforge_core::Plan::Pro)
        .await;
    let theirs = app
        .client
        .get(format!("{replica_url}/api/v1/generations/{id}/events"))
        .bearer_auth(&other)
        .send()
        .await
        .expect("sent");
    assert_eq!(theirs.status(), 404);
    handle.stop(true).await;
    let _ = task.await;
}
