//! Fair dispatch on the embedded queue. apalis-sqlite's workers take the
//! pending job of highest priority first (`ORDER BY priority DESC, run_at
//! ASC, id ASC`, its `fetch_next.sql`); the order below is read the same
//! way from the queue file.

use thumbforge_core::Plan;
use thumbforge_queue::{Fairness, Lane, OrgPolicy, RenderThumbnail, SqliteQueue, Standing};

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

async fn open(dir: &tempfile::TempDir) -> SqliteQueue {
    let fairness = Fairness {
        free: OrgPolicy::EVEN,
        pro: OrgPolicy {
            weight: 2,
            ..OrgPolicy::EVEN
        },
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
async fn sync_work_goes_first_then_orgs_take_turns_by_weight() {
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
async fn a_quiet_orgs_thumbnail_goes_ahead_of_a_flood() {
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
async fn a_waiting_thumbnail_knows_its_place_in_its_orgs_queue() {
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
