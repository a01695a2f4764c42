//! Fair dispatch on both queues. On Redis, read through a real consumer,
//! each test under a key prefix of its own (`THUMBFORGE_TEST_REDIS`, or
//! the local Redis). On SQLite, apalis-sqlite's workers take the pending
//! job of highest priority first (`ORDER BY priority DESC, run_at ASC, id
//! ASC`, its `fetch_next.sql`); the order is read the same way from the
//! queue file.

use std::time::Duration;

use futures::StreamExt;
use thumbforge_core::Plan;
use thumbforge_queue::{
    ConsumerSettings, Delivery, Fairness, Lane, OrgPolicy, RedisConsumer, RedisQueue,
    RenderThumbnail, SqliteQueue, Standing,
};

fn redis_url() -> String {
    std::env::var("THUMBFORGE_TEST_REDIS").unwrap_or_else(|_| "redis://127.0.0.1:6379".to_owned())
}

async fn queue(fairness: Fairness, lookahead: usize) -> RedisQueue {
    let prefix = format!("tftest-fair-{:016x}", rand::random::<u64>());
    RedisQueue::connect(&redis_url(), &prefix)
        .await
        .expect("redis is running")
        .with_fairness(fairness)
        .with_lookahead(lookahead)
}

fn consumer(queue: &RedisQueue, batch: usize) -> RedisConsumer {
    RedisConsumer::new(
        queue.lane(Lane::Remote),
        format!("c{:08x}", rand::random::<u32>()),
        ConsumerSettings {
            batch,
            block: Duration::from_millis(100),
            claim_idle: Duration::from_secs(60),
            heartbeat: Duration::from_secs(5),
        },
    )
}

fn job(org: &str, n: usize, plan: Plan, sync: bool) -> (RenderThumbnail, i32) {
    let job = RenderThumbnail {
        thumbnail_id: format!("{org}{n}"),
        generation_id: format!("gen_{org}"),
        enqueued_at_ms: 1,
        lane: Lane::Remote,
        org_id: org.to_owned(),
        plan: Some(plan),
        sync,
    };
    (job, 0)
}

fn jobs(org: &str, count: usize, plan: Plan) -> Vec<(RenderThumbnail, i32)> {
    (1..=count).map(|n| job(org, n, plan, false)).collect()
}

async fn next(deliveries: &mut futures::stream::BoxStream<'static, Delivery>) -> Option<Delivery> {
    tokio::time::timeout(Duration::from_millis(600), deliveries.next())
        .await
        .ok()
        .flatten()
}

/// Reads and acknowledges one job at a time, `count` of them.
async fn run_one_by_one(consumer: &RedisConsumer, count: usize) -> Vec<String> {
    let mut deliveries = consumer.deliveries();
    let mut order = Vec::new();
    for _ in 0..count {
        let delivery = next(&mut deliveries).await.expect("a job is due");
        order.push(delivery.job.thumbnail_id.clone());
        consumer.ack(&delivery).await.expect("acks");
    }
    order
}

#[tokio::test]
async fn dispatch_takes_sync_work_first_then_turns_between_orgs_by_weight() {
    let fairness = Fairness {
        free: OrgPolicy::EVEN,
        pro: OrgPolicy {
            weight: 2,
            ..OrgPolicy::EVEN
        },
        ..Fairness::EVEN
    };
    let queue = queue(fairness, 1).await;
    // Org a (free) queues a backlog first; b (pro, weight 2) and a sync
    // job of c come after it.
    queue
        .enqueue(&jobs("a", 5, Plan::Free))
        .await
        .expect("push");
    queue.enqueue(&jobs("b", 5, Plan::Pro)).await.expect("push");
    queue
        .enqueue(&[job("c", 1, Plan::Free, true)])
        .await
        .expect("push");
    let order = run_one_by_one(&consumer(&queue, 1), 11).await;
    // a1 was already in the stream when the others came; then the sync
    // job; then two of b's for each of a's (ties go by name).
    assert_eq!(
        order,
        [
            "a1", "c1", "b1", "b2", "a2", "b3", "b4", "a3", "b5", "a4", "a5"
        ],
    );
    queue.destroy().await.expect("cleanup");
}

#[tokio::test]
async fn a_quiet_orgs_thumbnail_overtakes_a_flood() {
    let queue = queue(Fairness::EVEN, 4).await;
    queue
        .enqueue(&jobs("flood", 500, Plan::Pro))
        .await
        .expect("push");
    queue
        .enqueue(&[job("quiet", 1, Plan::Pro, false)])
        .await
        .expect("push");
    let order = run_one_by_one(&consumer(&queue, 1), 6).await;
    // Behind at most the lookahead of the flood already in the stream.
    let at = order.iter().position(|id| id == "quiet1");
    assert_eq!(at, Some(4), "{order:?}");
    queue.destroy().await.expect("cleanup");
}

#[tokio::test]
async fn an_org_at_its_cap_gets_no_more_until_one_ends() {
    let fairness = Fairness {
        free: OrgPolicy {
            weight: 1,
            max_in_flight: 2,
            max_queued: 0,
        },
        pro: OrgPolicy::EVEN,
        ..Fairness::EVEN
    };
    let queue = queue(fairness, 32).await;
    queue
        .enqueue(&jobs("capped", 5, Plan::Free))
        .await
        .expect("push");
    let consumer = consumer(&queue, 8);
    let mut deliveries = consumer.deliveries();
    let first = next(&mut deliveries).await.expect("one");
    let second = next(&mut deliveries).await.expect("two");
    assert!(next(&mut deliveries).await.is_none(), "a third waits");
    assert_eq!(queue.waiting("capped").await.expect("count"), 3);
    // Another org is not held up by the capped one.
    queue
        .enqueue(&[job("other", 1, Plan::Pro, false)])
        .await
        .expect("push");
    let other = next(&mut deliveries).await.expect("the other org's job");
    assert_eq!(other.job.thumbnail_id, "other1");
    consumer.ack(&first).await.expect("acks");
    let third = next(&mut deliveries).await.expect("a place freed");
    assert_eq!(third.job.thumbnail_id, "capped3");
    assert!(next(&mut deliveries).await.is_none(), "back at the cap");
    for d in [second, third, other] {
        consumer.ack(&d).await.expect("acks");
    }
    queue.destroy().await.expect("cleanup");
}

#[tokio::test]
async fn a_waiting_thumbnail_knows_its_place_in_its_orgs_queue() {
    let queue = queue(Fairness::EVEN, 1).await;
    queue.enqueue(&jobs("a", 4, Plan::Pro)).await.expect("push");
    let ids: Vec<String> = ["a1", "a2", "a3", "a4", "nope"].map(String::from).into();
    let standings = queue.standings(&ids).await.expect("standings");
    assert_eq!(
        standings,
        [
            Standing::Dispatched,
            Standing::Waiting { position: 1 },
            Standing::Waiting { position: 2 },
            Standing::Waiting { position: 3 },
            Standing::Absent,
        ]
    );
    run_one_by_one(&consumer(&queue, 1), 1).await;
    let standings = queue.standings(&ids[1..4]).await.expect("standings");
    assert_eq!(
        standings,
        [
            Standing::Dispatched,
            Standing::Waiting { position: 1 },
            Standing::Waiting { position: 2 },
        ]
    );
    assert_eq!(queue.depth().await.expect("depth"), 3);
    queue.destroy().await.expect("cleanup");
}

#[tokio::test]
async fn the_recount_frees_an_org_whose_count_went_astray() {
    let fairness = Fairness {
        free: OrgPolicy {
            weight: 1,
            max_in_flight: 1,
            max_queued: 0,
        },
        pro: OrgPolicy::EVEN,
        ..Fairness::EVEN
    };
    let queue = queue(fairness, 32).await;
    // A count that says the org is at its cap, with nothing in flight.
    let mut conn = redis::Client::open(redis_url())
        .expect("url")
        .get_multiplexed_async_connection()
        .await
        .expect("connects");
    let inflight = format!("{{{}}}:inflight", queue.prefix());
    let _: i64 = redis::cmd("HSET")
        .arg(&inflight)
        .arg("stuck")
        .arg(5)
        .query_async(&mut conn)
        .await
        .expect("hset");
    queue
        .enqueue(&jobs("stuck", 2, Plan::Free))
        .await
        .expect("push");
    let consumer = consumer(&queue, 4);
    let mut deliveries = consumer.deliveries();
    assert!(
        next(&mut deliveries).await.is_none(),
        "held by the bad count"
    );
    assert_eq!(queue.reconcile().await.expect("recount"), 0);
    let delivery = next(&mut deliveries).await.expect("free again");
    assert_eq!(delivery.job.thumbnail_id, "stuck1");
    queue.destroy().await.expect("cleanup");
}

async fn open(dir: &tempfile::TempDir) -> SqliteQueue {
    let fairness = Fairness {
        free: OrgPolicy::EVEN,
        pro: OrgPolicy {
            weight: 2,
            ..OrgPolicy::EVEN
        },
        ..Fairness::EVEN
    };
    SqliteQueue::open(&dir.path().join("queue.db"), 3, fairness)
        .await
        .expect("opens")
}

/// Thumbnail ids in the order workers take them, jobs of equal priority
/// (which apalis orders by id) grouped.
async fn dispatch_order(queue: &SqliteQueue) -> Vec<Vec<String>> {
    let rows: Vec<(String, i64)> = sqlx::query_as(
        "SELECT idempotency_key, priority FROM Jobs WHERE status = 'Pending' \
         ORDER BY priority DESC, run_at ASC, id ASC",
    )
    .fetch_all(queue.pool())
    .await
    .expect("reads");
    let mut groups: Vec<(i64, Vec<String>)> = Vec::new();
    for (key, priority) in rows {
        let id = key.split(':').next().expect("key").to_owned();
        match groups.last_mut() {
            Some((p, ids)) if *p == priority => ids.push(id),
            _ => groups.push((priority, vec![id])),
        }
    }
    groups
        .into_iter()
        .map(|(_, mut ids)| {
            ids.sort();
            ids
        })
        .collect()
}

#[tokio::test]
async fn sqlite_sync_work_goes_first_then_orgs_take_turns_by_weight() {
    let dir = tempfile::tempdir().expect("tempdir");
    let queue = open(&dir).await;
    queue
        .enqueue(&jobs("a", 5, Plan::Free))
        .await
        .expect("push");
    queue.enqueue(&jobs("b", 5, Plan::Pro)).await.expect("push");
    queue
        .enqueue(&[job("c", 1, Plan::Free, true)])
        .await
        .expect("push");
    let order = dispatch_order(&queue).await;
    let expected: Vec<Vec<&str>> = vec![
        vec!["c1"],
        vec!["a1"],
        vec!["b1"],
        vec!["a2", "b2"],
        vec!["b3"],
        vec!["a3", "b4"],
        vec!["b5"],
        vec!["a4"],
        vec!["a5"],
    ];
    assert_eq!(order, expected);
}

#[tokio::test]
async fn sqlite_a_quiet_orgs_thumbnail_goes_ahead_of_a_flood() {
    let dir = tempfile::tempdir().expect("tempdir");
    let queue = open(&dir).await;
    queue
        .enqueue(&jobs("flood", 300, Plan::Pro))
        .await
        .expect("push");
    queue
        .enqueue(&[job("quiet", 1, Plan::Free, false)])
        .await
        .expect("push");
    let order = dispatch_order(&queue).await;
    // It joins at the flood's next turn: behind the two jobs a weight-2
    // org starts per turn of a weight-1 org, not behind the 300.
    let at = order.iter().position(|g| g.contains(&"quiet1".to_owned()));
    assert_eq!(at, Some(2), "{:?}", &order[..4]);
}

#[tokio::test]
async fn sqlite_a_waiting_thumbnail_knows_its_place_in_its_orgs_queue() {
    let dir = tempfile::tempdir().expect("tempdir");
    let queue = open(&dir).await;
    queue.enqueue(&jobs("a", 3, Plan::Pro)).await.expect("push");
    queue.enqueue(&jobs("b", 2, Plan::Pro)).await.expect("push");
    let ids: Vec<String> = ["a1", "a2", "a3", "b2", "nope"].map(String::from).into();
    assert_eq!(
        queue.standings(&ids).await.expect("standings"),
        [
            Standing::Waiting { position: 1 },
            Standing::Waiting { position: 2 },
            Standing::Waiting { position: 3 },
            Standing::Waiting { position: 2 },
            Standing::Absent,
        ]
    );
    assert_eq!(queue.waiting("a").await.expect("count"), 3);
    assert_eq!(queue.waiting("b").await.expect("count"), 2);
    let by_org = queue.waiting_by_org().await.expect("by org");
    assert_eq!(by_org.len(), 2);
    assert!(by_org.iter().all(|o| o.oldest_enqueued_ms == 1));
}
