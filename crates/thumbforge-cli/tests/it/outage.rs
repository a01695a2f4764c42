//! The queue and the database go away and come back mid-run. These tests
//! start private Redis and PostgreSQL servers (thumbforge-testkit) so they
//! can crash them without disturbing other tests.

use std::{sync::Arc, time::Duration};

use serde_json::{Value, json};
use thumbforge_core::ids::random_token;
use thumbforge_queue::RedisQueue;
use thumbforge_testkit::{PgServer, RedisServer, SentinelGroup};

use crate::helpers::{TestApp, test_settings, wait_terminal};

/// A client that gives up after 10 s, so a hanging API fails the test.
fn impatient() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .expect("client")
}

async fn submit(app: &TestApp, client: &reqwest::Client, prompt: &str) -> (u16, Value) {
    let response = client
        .post(format!("{}/api/v1/generate", app.address))
        .bearer_auth(&app.key)
        .json(&json!({"prompt": prompt, "model": "test", "count": 2}))
        .send()
        .await
        .expect("the API answered instead of hanging");
    let status = response.status().as_u16();
    (status, response.json().await.expect("json body"))
}

async fn get(app: &TestApp, client: &reqwest::Client, path: &str) -> (u16, Value) {
    let response = client
        .get(format!("{}{path}", app.address))
        .bearer_auth(&app.key)
        .send()
        .await
        .expect("the API answered instead of hanging");
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// Submits until one is accepted (within 10 s), each refusal carrying
/// `code`; returns the accepted id.
async fn accepted_again(app: &TestApp, client: &reqwest::Client, code: &str) -> String {
    for _ in 0..100 {
        let (status, body) = submit(app, client, "after").await;
        if status == 202 {
            return body["generationId"].as_str().expect("id").to_owned();
        }
        assert_eq!(body["code"], code, "{body}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("not accepted again after the restart");
}

/// Submits `n` generations that must all be accepted; returns their ids.
async fn accept_all(
    app: &TestApp,
    client: &reqwest::Client,
    n: usize,
    prompt: &str,
) -> Vec<String> {
    let mut ids = Vec::new();
    for i in 0..n {
        let (status, body) = submit(app, client, &format!("{prompt} {i}")).await;
        assert_eq!(status, 202, "{body}");
        ids.push(body["generationId"].as_str().expect("id").to_owned());
    }
    ids
}

/// Every accepted id reaches `succeeded`.
async fn all_succeed(app: &TestApp, accepted: &[String]) {
    for id in accepted {
        let done = wait_terminal(
            &app.client,
            &app.address,
            &app.key,
            id,
            Duration::from_secs(90),
        )
        .await;
        assert_eq!(done["status"], "succeeded", "{done}");
    }
}

#[tokio::test]
async fn a_redis_crash_mid_run_gives_503s_and_loses_nothing() {
    let mut redis = RedisServer::start().expect("private redis");
    let url = redis.url();
    let app = TestApp::spawn_with(|s| {
        s.queue.redis_url = Some(url);
        s.queue.prefix = format!("outage-{}", random_token(8));
        s.worker.lost_check_secs = 2;
    })
    .await;
    let client = impatient();
    let mut accepted = accept_all(&app, &client, 4, "before [sleep:300]").await;

    redis.crash();
    // The first submit to find the queue down is still accepted (it is
    // committed; the sweeper enqueues it later). Later ones are refused with
    // a code until the queue answers again.
    let mut refused = 0;
    for i in 0..4 {
        let (status, body) = submit(&app, &client, &format!("during {i}")).await;
        match status {
            202 => accepted.push(body["generationId"].as_str().expect("id").to_owned()),
            503 => {
                assert_eq!(body["code"], "queue_unavailable", "{body}");
                refused += 1;
            }
            other => panic!("unexpected {other}: {body}"),
        }
    }
    assert!(refused >= 1, "a known-down queue refuses new work");
    let (status, body) = get(&app, &client, "/readyz").await;
    assert_eq!(status, 503);
    assert_eq!(body["code"], "not_ready");
    // Polling needs only the database, so it keeps working.
    let (status, _) = get(
        &app,
        &client,
        &format!("/api/v1/generations/{}", accepted[0]),
    )
    .await;
    assert_eq!(status, 200);

    redis.restart().expect("redis restarts");
    // Once the breaker closes, submits are accepted again.
    accepted.push(accepted_again(&app, &client, "queue_unavailable").await);
    all_succeed(&app, &accepted).await;
    let (status, _) = get(&app, &client, "/readyz").await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn a_killed_redis_primary_fails_over_through_sentinel_and_loses_nothing() {
    let mut group = SentinelGroup::start().expect("a primary, a replica and a Sentinel");
    let url = group.url();
    let app = TestApp::spawn_with(|s| {
        s.queue.redis_url = Some(url);
        s.queue.prefix = format!("failover-{}", random_token(8));
        s.worker.lost_check_secs = 2;
    })
    .await;
    let client = impatient();
    // Work in flight and waiting when the primary dies.
    let mut accepted = accept_all(&app, &client, 6, "before [sleep:500]").await;

    group.kill_primary();
    // Until the Sentinel promotes the replica, a submit is accepted (and
    // the sweeper enqueues it later) or refused with a code; then the
    // service finds the new primary by itself.
    let start = std::time::Instant::now();
    let mut refused = 0;
    loop {
        let (status, body) = submit(&app, &client, "during the failover").await;
        match status {
            202 => accepted.push(body["generationId"].as_str().expect("id").to_owned()),
            503 => {
                assert_eq!(body["code"], "queue_unavailable", "{body}");
                refused += 1;
            }
            other => panic!("unexpected {other}: {body}"),
        }
        if group.primary_port() == Some(group.replica_port()) && status == 202 {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "no failover, or not followed, within 60 s ({refused} refused)"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    group
        .wait_for_failover(Duration::from_secs(1))
        .expect("the replica is the primary");
    // A push that failed just before the switch keeps refusing for 2 s.
    for _ in 0..3 {
        accepted.push(accepted_again(&app, &client, "queue_unavailable").await);
    }
    all_succeed(&app, &accepted).await;
    let (status, body) = get(&app, &client, "/readyz").await;
    assert_eq!(status, 200, "{body}");
}

#[tokio::test]
async fn a_postgres_restart_mid_run_gives_503s_and_loses_nothing() {
    let pg = PgServer::start().expect("private postgres");
    let url = pg.url("postgres");
    let app = TestApp::spawn_with(|s| {
        s.database.url = Some(url);
        s.database.acquire_timeout_ms = 1000;
    })
    .await;
    let client = impatient();
    let mut accepted = accept_all(&app, &client, 4, "before [sleep:500]").await;

    pg.stop().expect("postgres stops");
    let (status, body) = submit(&app, &client, "during").await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["code"], "database_unavailable");
    let (status, body) = get(
        &app,
        &client,
        &format!("/api/v1/generations/{}", accepted[0]),
    )
    .await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["code"], "database_unavailable");
    let (status, _) = get(&app, &client, "/readyz").await;
    assert_eq!(status, 503);
    // Workers meanwhile fail to record and hand their jobs back for later.
    tokio::time::sleep(Duration::from_secs(2)).await;

    pg.start_again().expect("postgres starts again");
    accepted.push(accepted_again(&app, &client, "database_unavailable").await);
    all_succeed(&app, &accepted).await;
}

#[tokio::test]
async fn a_flushed_queue_is_refilled_from_the_database() {
    let redis = RedisServer::start().expect("private redis");
    let url = redis.url();
    let prefix = format!("flush-{}", random_token(8));
    let app = TestApp::spawn_with(|s| {
        s.queue.redis_url = Some(url.clone());
        s.queue.prefix = prefix.clone();
        s.worker.max_in_flight = 1;
        s.worker.lost_check_secs = 1;
    })
    .await;
    let id = app
        .generate(
            &app.key,
            json!({"prompt": "[sleep:700] flushed", "model": "test", "count": 4}),
        )
        .await;
    // One runs; the rest wait in the stream. Lose them all.
    tokio::time::sleep(Duration::from_millis(200)).await;
    RedisQueue::connect(&url, &prefix)
        .await
        .expect("connects")
        .destroy()
        .await
        .expect("flushed");
    let done = app.wait_terminal(&app.key, &id).await;
    assert_eq!(done["status"], "succeeded", "{done}");
}

/// Rolling restart: a stopping worker finishes what it can within the grace
/// period and hands the rest back, marked idle, so another worker takes it
/// at once instead of waiting out the orphan window.
#[tokio::test]
async fn a_stopping_worker_hands_back_what_it_holds() {
    let redis = RedisServer::start().expect("private redis");
    let url = redis.url();
    let prefix = format!("handback-{}", random_token(8));
    let configure = |s: &mut thumbforge_config::Settings| {
        s.queue.redis_url = Some(url.clone());
        s.queue.prefix = prefix.clone();
        s.queue.claim_idle_secs = 60;
        s.worker.shutdown_grace_secs = 1;
        s.worker.max_in_flight = 2;
    };
    // The API alone (no in-process workers).
    let app = TestApp::spawn_with(|s| {
        configure(s);
        s.worker.concurrency = Some(0);
    })
    .await;
    let mut settings = test_settings(app._dir.path());
    configure(&mut settings);

    let first = thumbforge_runtime::connect(&settings).await.expect("deps");
    let stop_first = tokio_util::sync::CancellationToken::new();
    let first = thumbforge_worker::start(Arc::new(first), &settings, stop_first.clone());
    let id = app
        .generate(
            &app.key,
            json!({"prompt": "[sleep:5000] handed back", "model": "test", "count": 4}),
        )
        .await;
    // Wait until the first worker holds two jobs.
    let queue = RedisQueue::connect(&url, &prefix).await.expect("connects");
    for _ in 0..100 {
        if queue.in_flight().await.expect("xpending") == 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(queue.in_flight().await.expect("xpending"), 2);
    stop_first.cancel();
    first.await.expect("first worker stops");

    // Both held entries are now marked idle past the orphan window.
    let client = redis::Client::open(url.as_str()).expect("client");
    let mut conn = client
        .get_multiplexed_async_connection()
        .await
        .expect("conn");
    let pending: Vec<(String, String, u64, u64)> = redis::cmd("XPENDING")
        .arg(format!("{{{prefix}}}:render"))
        .arg("workers")
        .arg("-")
        .arg("+")
        .arg(10)
        .query_async(&mut conn)
        .await
        .expect("xpending");
    assert_eq!(pending.len(), 2, "{pending:?}");
    for (_, _, idle_ms, _) in &pending {
        assert!(
            *idle_ms >= 60_000,
            "handed back entries look orphaned: {pending:?}"
        );
    }

    let second = thumbforge_runtime::connect(&settings).await.expect("deps");
    let stop_second = tokio_util::sync::CancellationToken::new();
    let second = thumbforge_worker::start(Arc::new(second), &settings, stop_second.clone());
    let done = app.wait_terminal(&app.key, &id).await;
    assert_eq!(done["status"], "succeeded", "{done}");
    stop_second.cancel();
    let _ = second.await;
}
