//! The `thumbforge` client commands, as a user runs them: the real binary
//! against a live server (this test's app), over HTTP only.

use reqwest::Method;
use std::{process::Output, time::Duration};

use serde_json::Value;

use crate::helpers::{TestApp, png_dimensions};

/// The binary with the server and key in its environment, as a user's
/// shell would have them; nothing of the server's configuration.
fn client(app: &TestApp) -> tokio::process::Command {
    let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_thumbforge"));
    cmd.env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("THUMBFORGE_URL", &app.address)
        .env("THUMBFORGE_API_KEY", &app.key)
        .kill_on_drop(true);
    cmd
}

async fn run(cmd: &mut tokio::process::Command) -> Output {
    tokio::time::timeout(Duration::from_secs(60), cmd.output())
        .await
        .expect("the command finishes within a minute")
        .expect("the command runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[tokio::test]
async fn generate_wait_shows_progress_downloads_the_pngs_and_prints_their_paths() {
    let app = TestApp::spawn().await;
    let out_dir = tempfile::tempdir().expect("temp dir");
    let out = run(client(&app)
        .args([
            "generate",
            "--prompt",
            "I built a Rust web service in 24 hours",
            "--title",
            "24 HOURS OF RUST",
            "--count",
            "2",
            "--wait",
            "--out",
        ])
        .arg(out_dir.path()))
    .await;
    assert!(out.status.success(), "stderr: {}", text(&out.stderr));
    // stderr is a pipe here, not a terminal: progress comes as plain lines,
    // one per change, with no escape codes.
    let progress = text(&out.stderr);
    assert!(
        progress
            .lines()
            .any(|l| l.starts_with("1/2 ") && l.ends_with("succeeded"))
            && progress
                .lines()
                .any(|l| l.starts_with("2/2 ") && l.ends_with("succeeded"))
            && !progress.contains('\x1b'),
        "{progress}"
    );
    let paths: Vec<String> = text(&out.stdout).lines().map(str::to_owned).collect();
    assert_eq!(paths.len(), 2, "one path per thumbnail: {paths:?}");
    for path in &paths {
        let bytes = std::fs::read(path).expect("the printed path exists");
        assert_eq!(png_dimensions(&bytes), (1280, 720));
        assert!(path.starts_with(&out_dir.path().display().to_string()));
    }
    // The files are the server's thumbnails, named by their ids.
    let listed = run(client(&app).args(["generations", "list", "--json"])).await;
    assert!(listed.status.success(), "{}", text(&listed.stderr));
    let page: Value = serde_json::from_slice(&listed.stdout).expect("--json is JSON");
    let generation = &page["data"][0];
    assert_eq!(generation["status"], "succeeded");
    for thumbnail in generation["thumbnails"].as_array().expect("thumbnails") {
        let id = thumbnail["id"].as_str().expect("id");
        assert!(
            paths.iter().any(|p| p.ends_with(&format!("{id}.png"))),
            "{id} was downloaded"
        );
    }
    // The human table names it too.
    let table = run(client(&app).args(["generations", "list"])).await;
    let table = text(&table.stdout);
    assert!(
        table.contains(generation["id"].as_str().expect("id")) && table.contains("2/2"),
        "{table}"
    );
}

#[tokio::test]
async fn generate_format_jpeg_saves_jpegs() {
    let app = TestApp::spawn().await;
    let out_dir = tempfile::tempdir().expect("temp dir");
    let out = run(client(&app)
        .args([
            "generate",
            "--prompt",
            "a cat on a laptop",
            "--format",
            "jpeg",
        ])
        .args(["--wait", "--out"])
        .arg(out_dir.path()))
    .await;
    assert!(out.status.success(), "stderr: {}", text(&out.stderr));
    let path = text(&out.stdout).trim().to_owned();
    assert!(path.ends_with(".jpg"), "{path}");
    let bytes = std::fs::read(&path).expect("the printed path exists");
    assert_eq!(
        image::guess_format(&bytes).expect("known"),
        image::ImageFormat::Jpeg
    );
    let picture = image::load_from_memory(&bytes).expect("decodes");
    assert_eq!((picture.width(), picture.height()), (1280, 720));
    // A format the server refuses is its problem's code, on stderr.
    let refused = run(client(&app).args(["generate", "--prompt", "x", "--format", "gif"])).await;
    assert!(!refused.status.success());
    assert!(
        text(&refused.stderr).contains("invalid_format"),
        "{}",
        text(&refused.stderr)
    );
}

#[tokio::test]
async fn failed_and_partial_generations_exit_non_zero_and_say_why() {
    let app = TestApp::spawn().await;
    let out_dir = tempfile::tempdir().expect("temp dir");
    let failed = run(client(&app)
        .args([
            "generate", "--prompt", "[fail]", "--model", "test", "--wait", "--out",
        ])
        .arg(out_dir.path()))
    .await;
    assert_eq!(failed.status.code(), Some(3), "{}", text(&failed.stderr));
    let stderr = text(&failed.stderr);
    assert!(stderr.contains("ended failed"), "{stderr}");
    assert!(stdout_is_empty(&failed), "nothing was downloaded");

    let partial = run(client(&app)
        .args([
            "generate", "--prompt", "[fail:1]", "--model", "test", "--count", "2", "--wait",
            "--json", "--out",
        ])
        .arg(out_dir.path()))
    .await;
    assert_eq!(partial.status.code(), Some(4), "{}", text(&partial.stderr));
    let body: Value = serde_json::from_slice(&partial.stdout).expect("--json is JSON");
    assert_eq!(body["status"], "partial");
    assert_eq!(body["files"].as_array().expect("files").len(), 1);
    assert!(text(&partial.stderr).contains("ended partial"));
}

fn stdout_is_empty(out: &Output) -> bool {
    out.stdout.iter().all(u8::is_ascii_whitespace)
}

#[tokio::test]
async fn server_errors_are_one_clear_line_never_a_debug_dump() {
    let app = TestApp::spawn().await;
    let out = run(client(&app).args(["generate", "--prompt", "x", "--aspect-ratio", "2:1"])).await;
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert!(
        stderr.starts_with("error: ") && stderr.trim().ends_with("HTTP 422)"),
        "{stderr}"
    );
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    // The count's range is checked before anything is sent.
    let out = run(client(&app).args(["generate", "--prompt", "x", "--count", "300"])).await;
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("300 is not in 1..=4"),
        "{}",
        text(&out.stderr)
    );
    // A server given as host:port, as curl takes it.
    let bare = app.address.trim_start_matches("http://");
    let out = run(client(&app)
        .env("THUMBFORGE_URL", bare)
        .args(["generations", "list"]))
    .await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    let out = run(client(&app)
        .env("THUMBFORGE_API_KEY", "tfk_not_a_key")
        .args(["generations", "list"]))
    .await;
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains("HTTP 401"), "{stderr}");
    let out = run(client(&app).args(["generations", "get", "gen_missing"])).await;
    let stderr = text(&out.stderr);
    assert!(
        stderr.starts_with("error: ") && stderr.contains("HTTP 404") && !stderr.contains("{"),
        "{stderr}"
    );
}

#[tokio::test]
async fn get_cancel_and_delete_by_id() {
    let app = TestApp::spawn().await;
    let accepted = run(client(&app).args([
        "generate",
        "--prompt",
        "slow [sleep:30000]",
        "--model",
        "test",
    ]))
    .await;
    assert!(accepted.status.success(), "{}", text(&accepted.stderr));
    let id = text(&accepted.stdout).trim().to_owned();
    assert!(id.starts_with("gen_"), "{id}");
    let got = run(client(&app).args(["generations", "get", &id, "--json"])).await;
    let body: Value = serde_json::from_slice(&got.stdout).expect("json");
    assert_eq!(body["status"], "processing");
    let canceled = run(client(&app).args(["generations", "cancel", &id, "--json"])).await;
    let body: Value = serde_json::from_slice(&canceled.stdout).expect("json");
    assert_eq!(body["status"], "canceled");
    // Waiting on it now ends at once with the canceled exit code.
    let waited = run(client(&app).args(["generations", "get", &id, "--wait"])).await;
    assert_eq!(waited.status.code(), Some(5), "{}", text(&waited.stderr));
    let deleted = run(client(&app).args(["generations", "delete", &id])).await;
    assert!(deleted.status.success(), "{}", text(&deleted.stderr));
    assert_eq!(app.get_generation(&app.key, &id).await.status(), 404);
}

#[tokio::test]
async fn ctrl_c_while_waiting_leaves_the_generation_running_and_says_how_to_resume() {
    let app = TestApp::spawn().await;
    let child = client(&app)
        .args([
            "generate",
            "--prompt",
            "slow [sleep:4000]",
            "--model",
            "test",
            "--wait",
            "--out",
            "/tmp/unused-thumbforge-out",
        ])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("starts");
    // Wait until the server has the generation, then interrupt.
    let id = loop {
        let page: Value = app
            .send(Method::GET, "/api/v1/generations", &app.key, None)
            .await
            .json()
            .await
            .expect("json");
        if let Some(id) = page["data"][0]["id"].as_str() {
            break id.to_owned();
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    let pid = child.id().expect("running").to_string();
    let killed = std::process::Command::new("kill")
        .args(["-INT", &pid])
        .status()
        .expect("kill runs");
    assert!(killed.success());
    let out = tokio::time::timeout(Duration::from_secs(10), child.wait_with_output())
        .await
        .expect("exits promptly")
        .expect("output");
    assert_eq!(out.status.code(), Some(130), "{}", text(&out.stderr));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains(&format!("thumbforge generations get {id} --wait")),
        "{stderr}"
    );
    // The server carries on and finishes it.
    let done = app.wait_terminal(&app.key, &id).await;
    assert_eq!(done["status"], "succeeded");
}

#[tokio::test]
async fn a_local_reference_file_is_uploaded_and_used() {
    let app = TestApp::spawn().await;
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("face.png");
    image::RgbImage::from_pixel(64, 48, image::Rgb([200, 30, 30]))
        .save(&file)
        .expect("png written");
    let out = run(client(&app)
        .args([
            "generate",
            "--prompt",
            "with a reference",
            "--json",
            "--reference",
        ])
        .arg(&file))
    .await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    let accepted: Value = serde_json::from_slice(&out.stdout).expect("json");
    let id = accepted["generationId"].as_str().expect("id");
    let (_, assets) = app.get_json(&app.key, "/api/v1/assets").await;
    let asset = assets["data"][0]["id"]
        .as_str()
        .expect("an asset was uploaded");
    let generation = thumbforge_db::generations::find_for_org(
        app.db(),
        &thumbforge_db::orgs::find_by_slug(app.db(), "acme")
            .await
            .expect("read")
            .expect("org")
            .id,
        id,
    )
    .await
    .expect("read")
    .expect("generation");
    assert!(
        generation.generation.inspiration_ids.contains(asset),
        "{}",
        generation.generation.inspiration_ids
    );
    let missing = run(client(&app).args([
        "generate",
        "--prompt",
        "x",
        "--reference",
        "/nonexistent/face.png",
    ]))
    .await;
    assert_eq!(missing.status.code(), Some(1));
    assert!(text(&missing.stderr).contains("reading the reference /nonexistent/face.png"));
}

#[tokio::test]
async fn a_busy_server_is_tried_again_with_one_idempotency_key() {
    use wiremock::{
        Mock, MockServer, ResponseTemplate,
        matchers::{method, path},
    };
    let server = MockServer::start().await;
    let busy = ResponseTemplate::new(503)
        .insert_header("retry-after", "1")
        .set_body_json(serde_json::json!({
            "type": "about:blank", "title": "Service Unavailable", "status": 503,
            "detail": "the queue is unavailable", "code": "unavailable"
        }));
    Mock::given(method("POST"))
        .and(path("/api/v1/generate"))
        .respond_with(busy.clone())
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/api/v1/generate"))
        .respond_with(
            ResponseTemplate::new(202).set_body_json(
                serde_json::json!({"generationId": "gen_1", "status": "processing"}),
            ),
        )
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/v1/generations/gen_1"))
        .respond_with(busy)
        .up_to_n_times(2)
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/v1/generations/gen_1"))
        .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!({
            "id": "gen_1", "status": "canceled", "model": "local", "count": 1,
            "createdAt": 0, "thumbnails": []
        })))
        .mount(&server)
        .await;
    let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_thumbforge"));
    cmd.env_clear()
        .env("THUMBFORGE_URL", server.uri())
        .env("THUMBFORGE_API_KEY", "tfk_test")
        .args(["generate", "--prompt", "x", "--wait", "--out"])
        .arg(tempfile::tempdir().expect("temp dir").path());
    let out = run(&mut cmd).await;
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(5), "{stderr}");
    assert_eq!(
        stderr
            .matches("the queue is unavailable (unavailable, HTTP 503); trying again in 1 s")
            .count(),
        3,
        "{stderr}"
    );
    let posts = server.received_requests().await.expect("recorded");
    let keys: Vec<_> = posts
        .iter()
        .filter(|r| r.method.as_str() == "POST")
        .map(|r| r.headers.get("idempotency-key").cloned())
        .collect();
    assert_eq!(keys.len(), 2, "{keys:?}");
    assert!(keys[0].is_some() && keys[0] == keys[1], "{keys:?}");
}

#[tokio::test]
async fn an_unreachable_server_is_given_up_on_with_how_to_resume() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port();
    let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_thumbforge"));
    cmd.env_clear()
        .env("THUMBFORGE_URL", format!("127.0.0.1:{port}"))
        .env("THUMBFORGE_API_KEY", "tfk_test")
        .args(["generations", "get", "gen_1", "--wait"]);
    let out = run(&mut cmd).await;
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert_eq!(stderr.matches("trying again in").count(), 4, "{stderr}");
    assert!(
        stderr.contains("resume with: thumbforge generations get gen_1 --wait")
            && stderr.to_lowercase().contains("connection refused")
            && stderr.contains(&format!("http://127.0.0.1:{port}")),
        "{stderr}"
    );
}
