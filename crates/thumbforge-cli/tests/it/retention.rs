//! Retention: with `retention.generations_days` set, the sweeper deletes
//! generations that ended longer ago than that, images first, then the
//! rows (thumbnails, webhook deliveries and their attempts, expired
//! idempotency keys). A recent generation and a processing one stay, and
//! with the default 0 everything stays.
//!
//! Retention finds its batch by a range of ids (they sort by creation
//! time), so a generation "made long ago" here is stored with an id of
//! that time; the worker then renders it for real, and the test writes an
//! old end time over the real one.

use std::time::{Duration, Instant};

use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, sea_query::Expr};
use serde_json::json;
use thumbforge_core::OutputFormat;
use thumbforge_core::{GenerationId, ModelId, Plan, request::Webhook};
use thumbforge_db::{
    entities::{generations as generation_rows, idempotency_keys},
    generations::{self, GenerationView},
    idempotency, now_ms, orgs, thumbnails, webhooks,
};
use thumbforge_storage::{Storage, StorageError, thumbnail_key, watermarked_key};
use wiremock::{Mock, MockServer, ResponseTemplate, matchers::method};

use crate::helpers::{TestApp, direct_request};

const DAY_MS: i64 = 86_400_000;

/// A free-plan generation of one thumbnail whose id was made `days` ago.
/// It is stored as a submit stores it (processing, marked enqueued) but
/// not pushed: the sweeper's lost-job check pushes it within seconds.
async fn made_days_ago(
    app: &TestApp,
    model: ModelId,
    prompt: &str,
    days: i64,
    webhook: Option<String>,
) -> GenerationView {
    let org = orgs::ensure(app.db(), "free-org", Some(Plan::Free))
        .await
        .expect("org");
    let mut request = direct_request(prompt, 1);
    request.webhook = webhook.map(|url| Webhook {
        url,
        all_events: false,
    });
    let mut view = generations::build(&org.id, Plan::Free, model, 1, &request);
    let id = GenerationId::first_at(now_ms() - days * DAY_MS);
    view.generation.id = id.clone();
    for thumbnail in &mut view.thumbnails {
        thumbnail.generation_id = id.clone();
    }
    generations::insert_many(app.db(), std::slice::from_ref(&view))
        .await
        .expect("stored");
    view
}

/// Writes `days` ago over the generation's end time.
async fn ended_days_ago(app: &TestApp, id: &str, days: i64) {
    generation_rows::Entity::update_many()
        .col_expr(
            generation_rows::Column::CompletedAt,
            Expr::value(now_ms() - days * DAY_MS),
        )
        .filter(generation_rows::Column::Id.eq(id))
        .exec(app.db().conn())
        .await
        .expect("backdated");
}

/// The stored status, `None` once the row is gone. (Not through the API:
/// a replica keeps a terminal answer cached for minutes.)
async fn status(app: &TestApp, id: &str) -> Option<String> {
    generations::status_of(app.db(), id)
        .await
        .expect("status")
        .map(|s| s.as_str().to_owned())
}

async fn wait_for(what: &str, limit: Duration, mut done: impl AsyncFnMut() -> bool) {
    let start = Instant::now();
    while !done().await {
        assert!(start.elapsed() < limit, "{what}: not within {limit:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn local_store(app: &TestApp) -> Storage {
    Storage::local(&app.settings.images_dir()).expect("the images directory")
}

/// Both objects of the generation's first thumbnail: present or not.
async fn objects(store: &Storage, view: &GenerationView) -> [bool; 2] {
    let (g, t) = (&view.generation.id, &view.thumbnails[0].id);
    let mut out = [false; 2];
    for (i, key) in [
        thumbnail_key(g, t, OutputFormat::Png),
        watermarked_key(g, t, OutputFormat::Png),
    ]
    .iter()
    .enumerate()
    {
        out[i] = match store.get(key).await {
            Ok(_) => true,
            Err(StorageError::NotFound(_)) => false,
            Err(e) => panic!("reading {key}: {e}"),
        };
    }
    out
}

#[tokio::test]
async fn a_generation_that_ended_long_ago_leaves_with_its_images_and_rows_while_recent_and_running_ones_stay()
 {
    let receiver = MockServer::builder()
        .listener(std::net::TcpListener::bind("127.0.0.2:0").expect("bind 127.0.0.2"))
        .start()
        .await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200))
        .mount(&receiver)
        .await;
    let app = TestApp::spawn_with(|s| {
        s.retention.generations_days = 30;
        s.references.allow_http = true;
        s.references.allow_cidrs = vec!["127.0.0.2/32".to_owned()];
        s.webhooks.interval_ms = 100;
    })
    .await;
    let free = app.create_key("free-org", Plan::Free).await;
    let store = local_store(&app);

    let old = made_days_ago(
        &app,
        ModelId::LOCAL,
        "Made sixty days ago",
        60,
        Some(format!("{}/hook", receiver.uri())),
    )
    .await;
    let running = made_days_ago(
        &app,
        ModelId::TEST,
        "[sleep:600000] Still running",
        59,
        None,
    )
    .await;
    let recent_id = app
        .generate(&free, json!({ "prompt": "Made today", "model": "local" }))
        .await;
    let recent = app.wait_terminal(&free, &recent_id).await;
    assert_eq!(recent["status"], "succeeded", "{recent}");
    let recent = generations::find_for_org(app.db(), &old.generation.org_id, &recent_id)
        .await
        .expect("read")
        .expect("the recent generation");

    // The worker renders the old one (clean and watermarked copies) and
    // its webhook is delivered, with an attempt on record.
    let old_id = old.generation.id.clone();
    let org_id = old.generation.org_id.clone();
    wait_for(
        "the old generation succeeds and its webhook is delivered",
        Duration::from_secs(60),
        async || {
            status(&app, &old_id).await.as_deref() == Some("succeeded")
                && webhooks::list(app.db(), &org_id, Some(&old_id), 10)
                    .await
                    .expect("deliveries")
                    .iter()
                    .any(|(d, attempts)| d.status == "delivered" && !attempts.is_empty())
        },
    )
    .await;
    assert_eq!(objects(&store, &old).await, [true, true]);
    assert_eq!(objects(&store, &recent).await, [true, true]);
    // Its idempotency key, claimed when it was made.
    assert_eq!(
        idempotency::claim(app.db(), &org_id, "old-request", "hash", &old_id)
            .await
            .expect("claimed"),
        None
    );
    idempotency_keys::Entity::update_many()
        .col_expr(
            idempotency_keys::Column::CreatedAt,
            Expr::value(now_ms() - 60 * DAY_MS),
        )
        .filter(idempotency_keys::Column::GenerationId.eq(old_id.as_str()))
        .exec(app.db().conn())
        .await
        .expect("backdated key");

    // It ended forty days ago; the running one carries the same end time,
    // so only its status keeps it.
    ended_days_ago(&app, &old_id, 40).await;
    ended_days_ago(&app, &running.generation.id, 40).await;
    wait_for(
        "retention deletes the old generation",
        Duration::from_secs(20),
        async || status(&app, &old_id).await.is_none(),
    )
    .await;

    assert_eq!(
        objects(&store, &old).await,
        [false, false],
        "its images went first"
    );
    assert!(
        thumbnails::find(app.db(), &old.thumbnails[0].id)
            .await
            .expect("read")
            .is_none(),
        "its thumbnail row went with it"
    );
    assert!(
        webhooks::list(app.db(), &org_id, Some(&old_id), 10)
            .await
            .expect("deliveries")
            .is_empty(),
        "its webhook deliveries and attempts went with it"
    );
    let keys = idempotency_keys::Entity::find()
        .filter(idempotency_keys::Column::GenerationId.eq(old_id.as_str()))
        .all(app.db().conn())
        .await
        .expect("keys");
    assert!(
        keys.is_empty(),
        "its expired idempotency key went: {keys:?}"
    );

    // A recent one stays, images and all; a running one stays.
    assert_eq!(status(&app, &recent_id).await.as_deref(), Some("succeeded"));
    assert_eq!(objects(&store, &recent).await, [true, true]);
    let (code, body) = app
        .get_json(&free, &format!("/api/v1/generations/{recent_id}"))
        .await;
    assert_eq!(code, 200, "{body}");
    let url = body["thumbnails"][0]["url"].as_str().expect("url");
    assert_eq!(app.download(url).await.status(), 200);
    assert_eq!(
        status(&app, &running.generation.id).await.as_deref(),
        Some("processing")
    );

    let metrics = app.text("/metrics").await;
    for line in [
        "thumbforge_retention_generations_deleted_total 1",
        "thumbforge_retention_thumbnails_deleted_total 1",
    ] {
        assert!(metrics.lines().any(|l| l == line), "{line} in:\n{metrics}");
    }
}

#[tokio::test]
async fn retention_0_keeps_everything() {
    let app = TestApp::spawn_with(|s| s.retention.generations_days = 0).await;
    let store = local_store(&app);
    let old = made_days_ago(&app, ModelId::LOCAL, "Kept forever", 400, None).await;
    let id = old.generation.id.clone();
    wait_for(
        "the old generation succeeds",
        Duration::from_secs(60),
        async || status(&app, &id).await.as_deref() == Some("succeeded"),
    )
    .await;
    ended_days_ago(&app, &id, 399).await;

    // It is what a pass with retention on would take ...
    let batch = thumbforge_db::retention::take(app.db(), now_ms() - DAY_MS, 10)
        .await
        .expect("a batch");
    assert_eq!(
        batch.generations.iter().map(|g| &g.id).collect::<Vec<_>>(),
        [&id]
    );
    batch.delete(app.db(), &[]).await.expect("batch ended");
    // ... yet several sweeper intervals later it is still all there.
    tokio::time::sleep(Duration::from_secs(
        4 * app.settings.worker.sweep_interval_secs,
    ))
    .await;
    assert_eq!(status(&app, &id).await.as_deref(), Some("succeeded"));
    assert_eq!(objects(&store, &old).await, [true, true]);
    assert!(
        app.text("/metrics")
            .await
            .lines()
            .any(|l| l == "thumbforge_retention_generations_deleted_total 0")
    );
}
