//! Provider capacity in Redis, shared by two "processes" (two capacity
//! handles with their own names and connections) under one key prefix of
//! this test's own. Needs Redis (`THUMBFORGE_TEST_REDIS`, or the local one).

use std::{
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};

use thumbforge_core::capacity::{Capacity, LimitKey, Limits};
use thumbforge_queue::RedisCapacity;

fn redis_url() -> String {
    std::env::var("THUMBFORGE_TEST_REDIS").unwrap_or_else(|_| "redis://127.0.0.1:6379".to_owned())
}

fn prefix() -> String {
    format!("tftest-cap-{:016x}", rand::random::<u64>())
}

async fn process(prefix: &str, name: &str, lease: Duration) -> RedisCapacity {
    let conn = thumbforge_queue::RedisConn::open(
        &redis_url(),
        redis::aio::ConnectionManagerConfig::new(),
        false,
    )
    .await
    .expect("redis is running");
    RedisCapacity::with_lease(conn, prefix, name, lease)
}

fn key() -> LimitKey {
    LimitKey {
        provider: "openai",
        key_digest: "0123456789abcdef".to_owned(),
    }
}

const LEASE: Duration = Duration::from_secs(30);

#[tokio::test]
async fn two_processes_never_hold_more_than_max_concurrent() {
    let prefix = prefix();
    let processes = [
        process(&prefix, "a", LEASE).await,
        process(&prefix, "b", LEASE).await,
    ];
    let limits = Limits {
        rpm: 0,
        max_concurrent: 2,
    };
    let open = Arc::new(AtomicUsize::new(0));
    let most = Arc::new(AtomicUsize::new(0));
    let calls: Vec<_> = (0..10)
        .map(|i| {
            let capacity = processes[i % 2].clone();
            let (open, most) = (open.clone(), most.clone());
            tokio::spawn(async move {
                let _permit = capacity.acquire(&key(), limits).await;
                most.fetch_max(open.fetch_add(1, Ordering::SeqCst) + 1, Ordering::SeqCst);
                tokio::time::sleep(Duration::from_millis(50)).await;
                open.fetch_sub(1, Ordering::SeqCst);
            })
        })
        .collect();
    for call in calls {
        tokio::time::timeout(Duration::from_secs(20), call)
            .await
            .expect("every call gets a slot")
            .expect("call task");
    }
    assert_eq!(most.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn starts_from_two_processes_are_spaced_by_one_rate() {
    let prefix = prefix();
    let (a, b) = (
        process(&prefix, "a", LEASE).await,
        process(&prefix, "b", LEASE).await,
    );
    let limits = Limits {
        rpm: 600,
        max_concurrent: 0,
    };
    let started = Instant::now();
    let one = async {
        for _ in 0..3 {
            drop(a.acquire(&key(), limits).await);
        }
    };
    let other = async {
        for _ in 0..3 {
            drop(b.acquire(&key(), limits).await);
        }
    };
    tokio::join!(one, other);
    // Six starts at 600 a minute between them: 100 ms apart.
    assert!(
        started.elapsed() >= Duration::from_millis(500),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn a_pause_from_one_process_holds_the_other() {
    let prefix = prefix();
    let (a, b) = (
        process(&prefix, "a", LEASE).await,
        process(&prefix, "b", LEASE).await,
    );
    a.pause(&key(), Duration::from_millis(800)).await;
    a.pause(&key(), Duration::from_millis(10)).await;
    let started = Instant::now();
    drop(b.acquire(&key(), Limits::default()).await);
    assert!(
        started.elapsed() >= Duration::from_millis(700),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn a_long_call_keeps_its_slot_past_its_lease() {
    let prefix = prefix();
    let lease = Duration::from_millis(600);
    let (a, b) = (
        process(&prefix, "a", lease).await,
        process(&prefix, "b", lease).await,
    );
    let limits = Limits {
        rpm: 0,
        max_concurrent: 1,
    };
    let held = a.acquire(&key(), limits).await;
    let started = Instant::now();
    let release = async {
        // Three leases long: only renewal keeps the slot this long.
        tokio::time::sleep(Duration::from_millis(1800)).await;
        drop(held);
    };
    let waiter = async {
        drop(b.acquire(&key(), limits).await);
        started.elapsed()
    };
    let ((), got_it_after) = tokio::join!(release, waiter);
    assert!(
        got_it_after >= Duration::from_millis(1750),
        "the other process got the slot after {got_it_after:?}"
    );
}

#[test]
fn a_killed_process_frees_its_slots_when_their_lease_ends() {
    let prefix = prefix();
    let lease = Duration::from_millis(800);
    let limits = Limits {
        rpm: 0,
        max_concurrent: 1,
    };
    // A process takes the only slot and dies mid-call: it never releases
    // and never renews.
    let dead = tokio::runtime::Runtime::new().expect("runtime");
    dead.block_on(async {
        let capacity = process(&prefix, "dead", lease).await;
        std::mem::forget(capacity.acquire(&key(), limits).await);
    });
    dead.shutdown_background();
    let live = tokio::runtime::Runtime::new().expect("runtime");
    live.block_on(async {
        let capacity = process(&prefix, "live", lease).await;
        let started = Instant::now();
        let permit =
            tokio::time::timeout(Duration::from_secs(10), capacity.acquire(&key(), limits))
                .await
                .expect("the slot comes free once the lease runs out");
        drop(permit);
        assert!(
            started.elapsed() >= Duration::from_millis(300),
            "{:?}",
            started.elapsed()
        );
    });
}
