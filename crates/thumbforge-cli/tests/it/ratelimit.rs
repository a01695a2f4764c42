//! Per-key rate limits: the headers on every response, 429 with
//! `Retry-After`, the generate limit, and one count shared by two API
//! processes through Redis.

use serde_json::{Value, json};
use thumbforge_config::PlanLimits;

use crate::helpers::TestApp;

fn header(response: &reqwest::Response, name: &str) -> Option<u64> {
    response.headers().get(name)?.to_str().ok()?.parse().ok()
}

async fn list(client: &reqwest::Client, base: &str, key: &str) -> reqwest::Response {
    client
        .get(format!("{base}/api/v1/generations"))
        .bearer_auth(key)
        .send()
        .await
        .expect("sent")
}

/// Windows are fixed (they reset on the minute and the hour): a test that
/// needs several requests in one window starts away from its edge.
async fn clear_of_window_edge(period_secs: u64) {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_millis() as u64;
    let left = period_secs * 1000 - now % (period_secs * 1000);
    if left < 10_000 {
        tokio::time::sleep(std::time::Duration::from_millis(left + 100)).await;
    }
}

#[tokio::test]
async fn responses_carry_the_limit_and_the_excess_is_429_with_retry_after() {
    let app = TestApp::spawn_with(|s| {
        s.limits.pro = PlanLimits {
            requests_per_hour: 4,
            generates_per_minute: 0,
            ..s.limits.pro
        };
    })
    .await;
    clear_of_window_edge(3600).await;
    for expected_remaining in [3, 2, 1, 0] {
        let response = list(&app.client, &app.address, &app.key).await;
        assert_eq!(response.status(), 200);
        assert_eq!(header(&response, "x-ratelimit-limit"), Some(4));
        assert_eq!(
            header(&response, "x-ratelimit-remaining"),
            Some(expected_remaining)
        );
        let reset = header(&response, "x-ratelimit-reset").expect("reset");
        assert!((1..=3600).contains(&reset), "{reset}");
    }
    let refused = list(&app.client, &app.address, &app.key).await;
    assert_eq!(refused.status(), 429);
    let retry_after = header(&refused, "retry-after").expect("Retry-After");
    assert!((1..=3600).contains(&retry_after));
    assert_eq!(header(&refused, "x-ratelimit-remaining"), Some(0));
    let problem: Value = refused.json().await.expect("json");
    assert_eq!(problem["code"], "rate_limited");
    // Limits are per key: another key of the same org has its own.
    let other = app.create_key("acme", thumbforge_core::Plan::Pro).await;
    assert_eq!(list(&app.client, &app.address, &other).await.status(), 200);
}

#[tokio::test]
async fn generate_calls_have_their_own_per_minute_limit() {
    let app = TestApp::spawn_with(|s| {
        s.limits.free = PlanLimits {
            requests_per_hour: 1000,
            generates_per_minute: 2,
            storage_quota_bytes: 0,
            byok: true,
            ..s.limits.free
        };
    })
    .await;
    let free = app.create_key("small", thumbforge_core::Plan::Free).await;
    clear_of_window_edge(60).await;
    for remaining in [1, 0] {
        let response = app.post_generate(&free, &json!({"prompt": "x"})).await;
        assert_eq!(response.status(), 202);
        assert_eq!(
            header(&response, "x-ratelimit-limit"),
            Some(2),
            "the tighter window"
        );
        assert_eq!(header(&response, "x-ratelimit-remaining"), Some(remaining));
    }
    let refused = app.post_generate(&free, &json!({"prompt": "x"})).await;
    assert_eq!(refused.status(), 429);
    assert!(header(&refused, "retry-after").is_some_and(|s| (1..=60).contains(&s)));
    // Reads still pass: only generate is over its limit.
    let reads = list(&app.client, &app.address, &free).await;
    assert_eq!(reads.status(), 200);
    assert_eq!(header(&reads, "x-ratelimit-limit"), Some(1000));
    // The pro plan's limits are off in tests: no headers at all.
    let pro = list(&app.client, &app.address, &app.key).await;
    assert!(pro.headers().get("x-ratelimit-limit").is_none());
}

#[tokio::test]
async fn two_api_processes_share_one_count_through_redis() {
    let redis = std::env::var("THUMBFORGE_TEST_REDIS")
        .unwrap_or_else(|_| "redis://127.0.0.1:6379".to_owned());
    let prefix = format!(
        "tftest-rl-{}",
        thumbforge_core::ids::random_token(10).to_lowercase()
    );
    let dir = tempfile::tempdir().expect("temp dir");
    let key = crate::recovery::keys_create(dir.path());
    let env = [
        ("THUMBFORGE_LIMITS__PRO__REQUESTS_PER_HOUR", "6".to_owned()),
        ("THUMBFORGE_LIMITS__REDIS_URL", redis),
        ("THUMBFORGE_LIMITS__PREFIX", prefix),
    ];
    // Two real `thumbforge serve` processes on one database, API only.
    let (_a, first) = crate::recovery::spawn_serve_with(dir.path(), 0, &env);
    let (_b, second) = crate::recovery::spawn_serve_with(dir.path(), 0, &env);
    let client = reqwest::Client::new();
    clear_of_window_edge(3600).await;
    let mut remaining = Vec::new();
    for i in 0..6 {
        let base = if i % 2 == 0 { &first } else { &second };
        let response = list(&client, base, &key).await;
        assert_eq!(response.status(), 200, "request {i}");
        remaining.push(header(&response, "x-ratelimit-remaining").expect("remaining"));
    }
    assert_eq!(
        remaining,
        vec![5, 4, 3, 2, 1, 0],
        "one count across both processes"
    );
    for base in [&first, &second] {
        assert_eq!(list(&client, base, &key).await.status(), 429);
    }
}

/// `serve` gives its own `dev` organisation the unlimited plan and says
/// so: with the other plans at FatThumb's defaults (10 generates a
/// minute), its key makes 12 in a row with no limit headers.
#[tokio::test]
async fn serves_own_organisation_is_unlimited_and_serve_says_so() {
    use std::io::{BufRead, BufReader};
    let dir = tempfile::tempdir().expect("temp dir");
    let mut child = crate::helpers::thumbforge(dir.path())
        .args(["serve", "--bind", "127.0.0.1:0", "--workers", "1"])
        .env("THUMBFORGE_LIMITS__PRO__REQUESTS_PER_HOUR", "1000")
        .env("THUMBFORGE_LIMITS__PRO__GENERATES_PER_MINUTE", "10")
        .env("THUMBFORGE_LIMITS__FREE__REQUESTS_PER_HOUR", "1000")
        .env("THUMBFORGE_LIMITS__FREE__GENERATES_PER_MINUTE", "10")
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("serve starts");
    let stdout = BufReader::new(child.stdout.take().expect("stdout"));
    let _server = crate::recovery::ChildGuard(child);
    let mut lines = Vec::new();
    for line in stdout.lines() {
        let line = line.expect("utf-8");
        let done = line == "Press Ctrl-C to stop.";
        lines.push(line);
        if done {
            break;
        }
    }
    let said = lines.join("\n");
    assert!(
        said.contains("Organisation `dev` is on the unlimited plan: no rate limits"),
        "{said}"
    );
    let base = lines
        .iter()
        .find_map(|l| l.strip_prefix("thumbforge listening on "))
        .expect("the address");
    let key = lines
        .iter()
        .find_map(|l| {
            l.trim()
                .strip_prefix("tfk_")
                .map(|rest| format!("tfk_{rest}"))
        })
        .expect("the dev key");
    let client = reqwest::Client::new();
    for n in 0..12 {
        let response = client
            .post(format!("{base}/api/v1/generate"))
            .bearer_auth(&key)
            .json(&json!({"prompt": format!("mine {n}")}))
            .send()
            .await
            .expect("generate");
        assert_eq!(response.status(), 202, "generate {n}");
        assert!(response.headers().get("x-ratelimit-limit").is_none());
    }
}
