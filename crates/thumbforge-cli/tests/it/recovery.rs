//! Nothing accepted is lost: a killed process, a lost enqueue, an overdue
//! thumbnail each end in a terminal state.

use std::{
    io::{BufRead, BufReader},
    process::{Child, Stdio},
    time::{Duration, Instant},
};

use serde_json::json;
use thumbforge_core::{ModelId, Plan, ThumbnailStatus};
use thumbforge_db::{generations, lifecycle, thumbnails};

use crate::helpers::{TestApp, direct_request, download_png, thumbforge, wait_terminal};

/// A child process that is killed when dropped, so a failing test never
/// leaves a server running.
pub struct ChildGuard(pub Child);

impl Drop for ChildGuard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts the real `thumbforge serve` binary on port 0 and returns it with
/// its base URL, read from the line it prints.
pub fn spawn_serve(data_dir: &std::path::Path) -> (ChildGuard, String) {
    spawn_serve_with(data_dir, 2, &[])
}

/// `thumbforge serve` with `workers` in-process workers and extra
/// environment (applied last, so it overrides the test defaults).
pub fn spawn_serve_with(
    data_dir: &std::path::Path,
    workers: usize,
    env: &[(&str, String)],
) -> (ChildGuard, String) {
    let mut command = thumbforge(data_dir);
    command.args([
        "serve",
        "--bind",
        "127.0.0.1:0",
        "--workers",
        &workers.to_string(),
    ]);
    for (name, value) in env {
        command.env(name, value);
    }
    let mut child = command
        .env("THUMBFORGE_MODELS__ENABLE_TEST_MODEL", "true")
        .env("THUMBFORGE_QUEUE__HEARTBEAT_SECS", "1")
        .env("THUMBFORGE_QUEUE__MISSED_HEARTBEATS", "2")
        .env("THUMBFORGE_QUEUE__POLL_INTERVAL_MS", "50")
        .env("THUMBFORGE_WORKER__SWEEP_INTERVAL_SECS", "1")
        .env("THUMBFORGE_WORKER__JOB_TIMEOUT_SECS", "20")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("thumbforge binary starts");
    let stdout = child.stdout.take().expect("stdout");
    let mut lines = BufReader::new(stdout).lines();
    let url = loop {
        let line = lines
            .next()
            .expect("serve printed its address")
            .expect("utf-8");
        if let Some(url) = line.strip_prefix("thumbforge listening on ") {
            break url.to_owned();
        }
    };
    // Keep draining stdout so the child never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines {});
    (ChildGuard(child), url)
}

pub fn keys_create(data_dir: &std::path::Path) -> String {
    let out = thumbforge(data_dir)
        .args(["keys", "create", "--org", "crash-test", "--plan", "pro"])
        .output()
        .expect("keys create runs");
    assert!(
        out.status.success(),
        "keys create failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout).expect("utf-8");
    stdout.lines().last().expect("a key line").trim().to_owned()
}

#[tokio::test]
async fn kill_dash_nine_mid_generation_loses_nothing() {
    let dir = tempfile::tempdir().expect("temp dir");
    // `keys create` works on a fresh data dir, before serve ever ran there.
    let key = keys_create(dir.path());
    assert!(key.starts_with("tfk_"));

    let (mut first, url) = spawn_serve(dir.path());
    let client = reqwest::Client::new();
    let mut ids = Vec::new();
    for n in 0..3 {
        let response = client
            .post(format!("{url}/api/v1/generate"))
            .bearer_auth(&key)
            .json(
                &json!({"prompt": format!("crash {n} [sleep:1500]"), "model": "test", "count": 2}),
            )
            .send()
            .await
            .expect("sent");
        assert_eq!(response.status(), 202);
        let body: serde_json::Value = response.json().await.expect("json");
        ids.push(body["generationId"].as_str().expect("id").to_owned());
    }
    // Let the workers take some jobs, then kill the process outright.
    tokio::time::sleep(Duration::from_millis(700)).await;
    first.0.kill().expect("SIGKILL");
    first.0.wait().expect("reaped");

    let (second, url) = spawn_serve(dir.path());
    let started = Instant::now();
    for id in &ids {
        let done = wait_terminal(&client, &url, &key, id, Duration::from_secs(90)).await;
        assert_eq!(
            done["status"], "succeeded",
            "generation {id} after restart: {done}"
        );
        for t in done["thumbnails"].as_array().expect("thumbnails") {
            assert_eq!(download_png(&client, &t["url"]).await, (1280, 720));
        }
    }
    eprintln!(
        "recovered all generations {:?} after restart",
        started.elapsed()
    );
    drop(second);
}

#[tokio::test]
async fn kill_dash_nine_while_calls_wait_for_provider_capacity_loses_nothing() {
    use wiremock::{
        Mock, MockServer,
        matchers::{method, path},
    };
    let mock = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/images/generations"))
        .respond_with(crate::providers::openai_ok().set_delay(Duration::from_millis(300)))
        .mount(&mock)
        .await;
    let dir = tempfile::tempdir().expect("temp dir");
    let key = keys_create(dir.path());
    // One start a second for the key: of four thumbnails, two are waiting
    // for capacity (processing, no call made) when the process dies.
    let env = [
        ("THUMBFORGE_PROVIDERS__OPENAI_BASE_URL", mock.uri()),
        ("THUMBFORGE_PROVIDERS__OPENAI_API_KEY", "sk-test".to_owned()),
        ("THUMBFORGE_PROVIDERS__LIMITS__OPENAI__RPM", "60".to_owned()),
    ];
    let (mut first, url) = spawn_serve_with(dir.path(), 2, &env);
    let client = reqwest::Client::new();
    let response = client
        .post(format!("{url}/api/v1/generate"))
        .bearer_auth(&key)
        .json(&json!({"prompt": "waiting for capacity", "model": "gpt-image-2", "count": 4}))
        .send()
        .await
        .expect("sent");
    assert_eq!(response.status(), 202);
    let body: serde_json::Value = response.json().await.expect("json");
    let id = body["generationId"].as_str().expect("id").to_owned();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let calls_before_kill = mock.received_requests().await.expect("recorded").len();
    first.0.kill().expect("SIGKILL");
    first.0.wait().expect("reaped");
    assert!(
        (1..4).contains(&calls_before_kill),
        "some calls made, some waiting: {calls_before_kill}"
    );

    let (_second, url) = spawn_serve_with(dir.path(), 2, &env);
    let done = wait_terminal(&client, &url, &key, &id, Duration::from_secs(90)).await;
    assert_eq!(done["status"], "succeeded", "{done}");
    for t in done["thumbnails"].as_array().expect("thumbnails") {
        assert_eq!(download_png(&client, &t["url"]).await, (1280, 720));
    }
}

#[tokio::test]
async fn a_commit_whose_enqueue_was_lost_is_still_rendered() {
    let app = TestApp::spawn().await;
    let org = thumbforge_db::orgs::ensure(app.db(), "acme", None)
        .await
        .expect("org");
    // As if the API died between commit and enqueue: rows (marked
    // enqueued, optimistically), but no jobs. The sweeper's lost-job check
    // asks the queue and pushes them.
    let view = generations::create(
        app.db(),
        &org.id,
        Plan::Pro,
        ModelId::LOCAL,
        1,
        &direct_request("lost enqueue", 2),
    )
    .await
    .expect("created");
    let done = app.wait_terminal(&app.key, &view.generation.id).await;
    assert_eq!(done["status"], "succeeded");
    for t in &view.thumbnails {
        let row = thumbnails::find(app.db(), &t.id)
            .await
            .expect("db")
            .expect("row");
        assert!(row.attempts >= 1, "a worker ran it");
    }
}

#[tokio::test]
async fn thumbnails_past_the_deadline_fail_as_timed_out() {
    let app = TestApp::spawn_with(|s| s.worker.deadline_secs = 1).await;
    let id = app
        .generate(
            &app.key,
            json!({"prompt": "too slow [sleep:4000]", "model": "test", "count": 2}),
        )
        .await;
    let done = app.wait_terminal(&app.key, &id).await;
    assert_eq!(done["status"], "failed");
    for t in done["thumbnails"].as_array().expect("thumbnails") {
        let error = t["error"].as_str().expect("error");
        assert!(error.starts_with("Timed out"), "{error}");
        let row = thumbnails::find(app.db(), t["id"].as_str().expect("id"))
            .await
            .expect("db")
            .expect("row");
        assert_eq!(row.end_reason, Some(thumbforge_core::EndReason::TimedOut));
    }
    // The slow model call finishing later cannot overwrite the verdict.
    tokio::time::sleep(Duration::from_millis(4500)).await;
    let later = app.wait_terminal(&app.key, &id).await;
    assert_eq!(later["status"], "failed");
    assert_eq!(later["thumbnails"], done["thumbnails"]);
}

#[tokio::test]
async fn a_graceful_restart_of_the_embedded_app_keeps_everything() {
    let mut app = TestApp::spawn().await;
    let id = app
        .generate(
            &app.key,
            json!({"prompt": "graceful [sleep:800]", "model": "test", "count": 3}),
        )
        .await;
    app.stop().await;
    let settings = app.settings.clone();
    let restarted = thumbforge_cli::Embedded::start(settings)
        .await
        .expect("restarts");
    let address = format!("http://127.0.0.1:{}", restarted.port());
    let done = wait_terminal(
        &app.client,
        &address,
        &app.key,
        &id,
        Duration::from_secs(60),
    )
    .await;
    assert_eq!(done["status"], "succeeded");
    restarted.stop().await;
}

/// An operator's retry is a new start for the deadline too: a thumbnail
/// that failed longer ago than the deadline runs again, and is not timed
/// out by the next sweep.
#[tokio::test]
async fn a_retry_restarts_the_deadline() {
    let app = TestApp::spawn_with(|s| s.worker.deadline_secs = 5).await;
    let id = app
        .generate(
            &app.key,
            json!({"prompt": "again [fail:0]", "model": "test", "count": 1}),
        )
        .await;
    let done = app.wait_terminal(&app.key, &id).await;
    let thumbnail = done["thumbnails"][0]["id"].as_str().expect("id").to_owned();
    tokio::time::sleep(Duration::from_secs(6)).await;
    // Not pushed: the sweeper's lost-job check pushes it within 3 s.
    thumbforge_db::admin::retry(
        app.db(),
        &thumbforge_core::Catalogue::built_in(),
        &thumbnail,
    )
    .await
    .expect("db")
    .expect("retried");
    let again = wait_thumbnail_ended(&app, &thumbnail).await;
    assert_eq!(
        again.end_reason,
        Some(thumbforge_core::EndReason::ModelError),
        "{:?}",
        again.error
    );
    assert!(again.attempts > 1, "it ran again");
}

/// Polls the database until the thumbnail is no longer processing.
async fn wait_thumbnail_ended(
    app: &TestApp,
    id: &str,
) -> thumbforge_db::entities::thumbnails::Model {
    let start = Instant::now();
    loop {
        let row = thumbnails::find(app.db(), id)
            .await
            .expect("db")
            .expect("row");
        if row.status.is_terminal() {
            return row;
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "thumbnail {id} still processing after 30 s"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// There is no status index: the sweeper finds unfinished thumbnails
/// through the open set. A new thumbnail is in it, an ended one is pruned
/// from it, and an operator's retry puts it back, so a reopened thumbnail
/// whose job never reached the queue is still found and run again.
#[tokio::test]
async fn the_open_set_holds_what_is_processing_and_the_sweeper_prunes_it() {
    let app = TestApp::spawn().await;
    // Stored, not pushed: the sweeper's lost-job check pushes it.
    let view = app
        .direct_generation_with("acme", ModelId::TEST, "open set [fail:0]", 1)
        .await;
    let id = view.thumbnails[0].id.clone();
    let open = || async { lifecycle::open_ids(app.db()).await.expect("open set") };
    assert!(open().await.contains(&id), "a new thumbnail is open");

    let first = wait_thumbnail_ended(&app, &id).await;
    assert_eq!(first.status, ThumbnailStatus::Failed);
    let start = Instant::now();
    while open().await.contains(&id) {
        assert!(
            start.elapsed() < Duration::from_secs(15),
            "the sweeper prunes an ended thumbnail"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // Reopened by an operator, and (as if the push after the retry was
    // lost) not pushed: only the open set leads the sweeper to it.
    let reopened =
        thumbforge_db::admin::retry(app.db(), &thumbforge_core::Catalogue::built_in(), &id)
            .await
            .expect("db")
            .expect("retried");
    assert_eq!(reopened.thumbnail_id, id);
    assert!(
        open().await.contains(&id),
        "a retried thumbnail is open again"
    );
    let second = wait_thumbnail_ended(&app, &id).await;
    assert_eq!(second.status, ThumbnailStatus::Failed);
    assert!(
        second.attempts > first.attempts,
        "it ran again: attempts {} then {}",
        first.attempts,
        second.attempts
    );
}
