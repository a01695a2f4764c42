//! The command-line contract, through the real binaries.

use std::{process::Command, time::Duration};

use serde_json::json;

use crate::{
    helpers::{backend_for, download_png, test_settings, thumbforge, wait_terminal},
    recovery::keys_create,
};

#[tokio::test]
async fn migrate_works_on_a_fresh_database() {
    let dir = tempfile::tempdir().expect("temp dir");
    let data = dir.path().join("fresh");
    // Through the environment variable…
    let out = thumbforge(&data).arg("migrate").output().expect("runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let backend = backend_for(&data);
    if backend.database_url.is_none() {
        assert!(data.join("thumbforge.db").exists());
    }
    // The schema is there: the tables answer.
    let db = thumbforge_runtime::connect_db(&test_settings(&data))
        .await
        .expect("connects");
    assert_eq!(
        thumbforge_db::orgs::count(&db).await.expect("orgs table"),
        0
    );
    // …and again through the flag alone: a no-op, not an error.
    let mut again = Command::new(env!("CARGO_BIN_EXE_thumbforge"));
    again
        .args(["migrate", "--data-dir"])
        .arg(&data)
        .env("RUST_LOG", "warn")
        .env_remove("DATABASE_URL")
        .env_remove("REDIS_URL");
    backend.apply_env(&mut again);
    assert!(again.output().expect("runs").status.success());
}

#[test]
fn keys_create_prints_the_key_alone_on_the_last_line() {
    let dir = tempfile::tempdir().expect("temp dir");
    let out = thumbforge(dir.path())
        .args(["keys", "create", "--org", "solo", "--plan", "free"])
        .output()
        .expect("runs");
    assert!(out.status.success());
    let stdout = String::from_utf8(out.stdout).expect("utf-8");
    let last = stdout.lines().last().expect("a line");
    assert!(
        last.starts_with("tfk_") && last.len() == 44 && !last.contains(' '),
        "{last:?}"
    );
    let bad = thumbforge(dir.path())
        .args(["keys", "create", "--org", "solo", "--plan", "gold"])
        .output()
        .expect("runs");
    assert!(!bad.status.success(), "an unknown plan is refused");
}

#[test]
fn provider_keys_are_set_from_stdin_listed_without_the_key_and_deleted() {
    use std::io::Write;
    let dir = tempfile::tempdir().expect("temp dir");
    let created = thumbforge(dir.path())
        .args(["keys", "create", "--org", "byok"])
        .output()
        .expect("runs");
    assert!(created.status.success());
    let mut set = thumbforge(dir.path())
        .args(["provider-keys", "set", "--org", "byok", "--provider", "fal"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("runs");
    set.stdin
        .take()
        .expect("stdin")
        .write_all(b"fal-secret-key\n")
        .expect("write");
    let out = set.wait_with_output().expect("waits");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let list = thumbforge(dir.path())
        .args(["provider-keys", "list", "--org", "byok"])
        .output()
        .expect("runs");
    let listed = String::from_utf8(list.stdout).expect("utf-8");
    assert!(listed.starts_with("fal\t"), "{listed:?}");
    assert!(!listed.contains("fal-secret-key"));
    let unknown = thumbforge(dir.path())
        .args(["provider-keys", "list", "--org", "nobody"])
        .output()
        .expect("runs");
    assert!(!unknown.status.success(), "an unknown org is an error");
    for expected in [true, false] {
        let delete = thumbforge(dir.path())
            .args([
                "provider-keys",
                "delete",
                "--org",
                "byok",
                "--provider",
                "fal",
            ])
            .output()
            .expect("runs");
        assert_eq!(
            delete.status.success(),
            expected,
            "delete, then nothing to delete"
        );
    }
}

/// `thumbforge-api` and `thumbforge-worker` as separate components on one
/// data dir: each opens its own database pool and queue handle, so the
/// worker never sees the API's pushes through SQLite's in-process update
/// hook and must find them by polling, as a separate process does.
#[tokio::test]
async fn separate_api_and_worker_share_a_data_dir() {
    use std::sync::Arc;
    use thumbforge_api::Application;
    let dir = tempfile::tempdir().expect("temp dir");
    let key = keys_create(dir.path());
    let settings = test_settings(dir.path());

    let api_deps = thumbforge_runtime::connect(&settings)
        .await
        .expect("api deps");
    let app = Application::build(&settings, &api_deps)
        .await
        .expect("api builds");
    let url = format!("http://127.0.0.1:{}", app.port());
    let api_handle = app.handle();
    let api_task = tokio::spawn(app.run_until_stopped());

    let worker_deps = thumbforge_runtime::connect(&settings)
        .await
        .expect("worker deps");
    if let thumbforge_queue::JobQueue::Sqlite(queue) = &worker_deps.queue {
        drop(queue.take_listener());
    }
    let shutdown = tokio_util::sync::CancellationToken::new();
    let worker = thumbforge_worker::start(Arc::new(worker_deps), &settings, shutdown.clone());

    let client = reqwest::Client::new();
    let response = client
        .post(format!("{url}/api/v1/generate"))
        .bearer_auth(&key)
        .json(&json!({"prompt": "two processes", "count": 2}))
        .send()
        .await
        .expect("sent");
    assert_eq!(response.status(), 202);
    let body: serde_json::Value = response.json().await.expect("json");
    let id = body["generationId"].as_str().expect("id");
    let done = wait_terminal(&client, &url, &key, id, Duration::from_secs(60)).await;
    assert_eq!(done["status"], "succeeded");
    assert_eq!(
        download_png(&client, &done["thumbnails"][1]["url"]).await,
        (1280, 720)
    );

    api_handle.stop(true).await;
    let _ = api_task.await;
    shutdown.cancel();
    let _ = worker.await;
}

#[tokio::test]
async fn keys_are_listed_without_the_key_and_revoked() {
    let dir = tempfile::tempdir().expect("temp dir");
    let created = thumbforge(dir.path())
        .args(["keys", "create", "--org", "rotating"])
        .output()
        .expect("runs");
    let key = String::from_utf8(created.stdout)
        .expect("utf-8")
        .trim()
        .to_owned();
    let list = thumbforge(dir.path())
        .args(["keys", "list", "--org", "rotating"])
        .output()
        .expect("runs");
    let listed = String::from_utf8(list.stdout).expect("utf-8");
    assert!(!listed.contains(&key), "the key itself is never listed");
    assert!(
        listed.contains(&key[..8]) && listed.contains("live"),
        "{listed}"
    );
    let id = listed.split('\t').next().expect("id").to_owned();
    let db = thumbforge_runtime::connect_db(&test_settings(dir.path()))
        .await
        .expect("db");
    assert!(
        thumbforge_db::keys::authenticate(&db, &key)
            .await
            .expect("reads")
            .is_some()
    );
    for expected in [true, false] {
        let revoke = thumbforge(dir.path())
            .args(["keys", "revoke", "--org", "rotating", &id])
            .output()
            .expect("runs");
        assert_eq!(
            revoke.status.success(),
            expected,
            "revoke, then nothing to revoke"
        );
    }
    assert!(
        thumbforge_db::keys::authenticate(&db, &key)
            .await
            .expect("reads")
            .is_none()
    );
}

#[tokio::test]
async fn a_server_secret_rotation_reseals_what_the_old_secret_sealed() {
    use std::io::Write;
    use thumbforge_db::crypto::Sealer;
    let dir = tempfile::tempdir().expect("temp dir");
    let with_secrets = |current: &str, previous: Option<&str>| {
        let mut cmd = thumbforge(dir.path());
        cmd.env("THUMBFORGE_SECRET", current);
        if let Some(previous) = previous {
            cmd.env("THUMBFORGE_PREVIOUS_SECRET", previous);
        }
        cmd
    };
    assert!(
        with_secrets("old-secret-0123456789abcdef0123456789", None)
            .args(["keys", "create", "--org", "sealed"])
            .output()
            .expect("runs")
            .status
            .success()
    );
    let mut set = with_secrets("old-secret-0123456789abcdef0123456789", None)
        .args([
            "provider-keys",
            "set",
            "--org",
            "sealed",
            "--provider",
            "openai",
        ])
        .stdin(std::process::Stdio::piped())
        .spawn()
        .expect("runs");
    set.stdin
        .take()
        .expect("stdin")
        .write_all(b"sk-rotate-me\n")
        .expect("write");
    assert!(set.wait().expect("waits").success());
    let db = thumbforge_runtime::connect_db(&test_settings(dir.path()))
        .await
        .expect("db");
    let org = thumbforge_db::orgs::find_by_slug(&db, "sealed")
        .await
        .expect("reads")
        .expect("org");
    // A webhook secret sealed under the old secret too.
    let hook_secret = thumbforge_db::webhooks::secret(
        &db,
        &Sealer::from_secret("old-secret-0123456789abcdef0123456789"),
        &org.id,
    )
    .await
    .expect("made");
    let key_under = |secret: &str| {
        let db = db.clone();
        let org_id = org.id.clone();
        let sealer = Sealer::from_secret(secret);
        async move {
            thumbforge_db::provider_keys::get(
                &db,
                &sealer,
                &org_id,
                thumbforge_core::ProviderKind::OpenAi,
            )
            .await
            .expect("reads")
            .expect("a row")
        }
    };
    assert!(
        key_under("new-secret-0123456789abcdef0123456789")
            .await
            .is_err(),
        "not yet re-sealed"
    );

    let refused = with_secrets("new-secret-0123456789abcdef0123456789", None)
        .arg("reseal")
        .output()
        .expect("runs");
    assert!(
        !refused.status.success(),
        "reseal needs the previous secret"
    );
    let resealed = with_secrets(
        "new-secret-0123456789abcdef0123456789",
        Some("old-secret-0123456789abcdef0123456789"),
    )
    .arg("reseal")
    .output()
    .expect("runs");
    let report = String::from_utf8_lossy(&resealed.stdout).into_owned();
    assert!(
        resealed.status.success(),
        "{report} {}",
        String::from_utf8_lossy(&resealed.stderr)
    );
    assert!(report.contains("provider keys: 1 re-sealed"), "{report}");
    assert!(report.contains("webhook secrets: 1 re-sealed"), "{report}");
    // The new secret alone now opens both; a second run has nothing to do.
    assert_eq!(
        key_under("new-secret-0123456789abcdef0123456789")
            .await
            .expect("opens"),
        "sk-rotate-me"
    );
    assert_eq!(
        thumbforge_db::webhooks::secret(
            &db,
            &Sealer::from_secret("new-secret-0123456789abcdef0123456789"),
            &org.id
        )
        .await
        .expect("opens"),
        hook_secret
    );
    let again = with_secrets(
        "new-secret-0123456789abcdef0123456789",
        Some("old-secret-0123456789abcdef0123456789"),
    )
    .arg("reseal")
    .output()
    .expect("runs");
    assert!(String::from_utf8_lossy(&again.stdout).contains("0 re-sealed, 1 already current"));
}
