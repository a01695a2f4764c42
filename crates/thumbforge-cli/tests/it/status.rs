//! Status aggregation and the conditional writes behind it.

use serde_json::json;
use thumbforge_core::{GenerationStatus, ModelId, Plan, ThumbnailStatus};
use thumbforge_db::{generations, lifecycle, thumbnails};

use crate::helpers::{TestApp, direct_request};

#[tokio::test]
async fn one_failure_among_successes_is_partial() {
    let app = TestApp::spawn().await;
    let id = app
        .generate(
            &app.key,
            json!({"prompt": "mixed [fail:1]", "model": "test", "count": 3}),
        )
        .await;
    let done = app.wait_terminal(&app.key, &id).await;
    assert_eq!(done["status"], "partial");
    let thumbs = done["thumbnails"].as_array().expect("thumbnails");
    assert_eq!(thumbs[0]["status"], "succeeded");
    assert_eq!(thumbs[1]["status"], "failed");
    assert_eq!(thumbs[2]["status"], "succeeded");
    assert!(thumbs[1]["url"].is_null(), "no url for a failed thumbnail");
    let error = thumbs[1]["error"].as_str().expect("error text");
    assert!(error.contains("could not make this image"), "{error}");
    assert!(thumbs[0]["error"].is_null());
}

#[tokio::test]
async fn all_failures_are_failed() {
    let app = TestApp::spawn().await;
    let id = app
        .generate(
            &app.key,
            json!({"prompt": "doomed [fail]", "model": "test", "count": 2}),
        )
        .await;
    let done = app.wait_terminal(&app.key, &id).await;
    assert_eq!(done["status"], "failed");
    for t in done["thumbnails"].as_array().expect("thumbnails") {
        assert_eq!(t["status"], "failed");
        assert!(t["url"].is_null());
    }
}

#[tokio::test]
async fn safety_blocks_fail_with_a_generic_message() {
    let app = TestApp::spawn().await;
    let id = app
        .generate(&app.key, json!({"prompt": "bad [safety]", "model": "test"}))
        .await;
    let done = app.wait_terminal(&app.key, &id).await;
    assert_eq!(done["status"], "failed");
    let error = done["thumbnails"][0]["error"].as_str().expect("error");
    assert!(error.contains("content policy"), "{error}");
    assert!(
        !error.to_lowercase().contains("scripted"),
        "no provider detail leaks: {error}"
    );
}

#[tokio::test]
async fn terminal_thumbnails_never_change_again() {
    let app = TestApp::spawn().await;
    let view = app.direct_generation("direct", 2).await;
    let a = &view.thumbnails[0].id;
    // Outcomes are recorded the way workers record them, through the
    // batched writer.
    use thumbforge_core::{EndReason, Failure};
    use thumbforge_db::{
        batch::StatusWriter,
        lifecycle::{self, JobResult, Success},
    };
    let writer = StatusWriter::new(app.db().clone());
    let as_claimed = |t: &thumbforge_db::entities::thumbnails::Model| thumbnails::JobContext {
        thumbnail: t.clone(),
        generation: view.generation.clone(),
    };
    let failed = |message: &str| JobResult::Failed(Failure::new(EndReason::ModelError, message));
    let claimed_a = as_claimed(&view.thumbnails[0]);
    let record = |result| writer.record(&claimed_a, result);
    assert!(record(failed("first")).await.expect("db").changed);
    assert!(
        !record(failed("second")).await.expect("db").changed,
        "failed stays failed"
    );
    let success = Success {
        storage_key: "k".into(),
        watermarked_key: None,
        file_size_bytes: 1,
        clean_size_bytes: 1,
        width: 1,
        height: 1,
        generation_time_ms: 1,
    };
    assert!(
        !writer
            .record(
                &as_claimed(&view.thumbnails[0]),
                JobResult::Succeeded(success.clone())
            )
            .await
            .expect("db")
            .changed,
        "failed never becomes succeeded"
    );
    assert!(
        writer.claim(a, 0).await.expect("db").is_none(),
        "a terminal row cannot be claimed"
    );
    let row = thumbnails::find(app.db(), a)
        .await
        .expect("db")
        .expect("row");
    assert_eq!(
        (row.status.as_str(), row.error.as_deref(), row.end_reason),
        ("failed", Some("first"), Some(EndReason::ModelError))
    );

    // One processing thumbnail keeps the generation processing.
    assert_eq!(
        lifecycle::refresh(app.db(), &view.generation.id)
            .await
            .expect("db")
            .as_str(),
        "processing"
    );
    let claimed_b = as_claimed(&view.thumbnails[1]);
    assert!(
        writer
            .record(&claimed_b, JobResult::Succeeded(success.clone()))
            .await
            .expect("db")
            .changed
    );
    assert!(
        !writer
            .record(&claimed_b, JobResult::Succeeded(success))
            .await
            .expect("db")
            .changed,
        "a second success is a no-op"
    );
    assert_eq!(
        lifecycle::refresh(app.db(), &view.generation.id)
            .await
            .expect("db")
            .as_str(),
        "partial"
    );
}

#[tokio::test]
async fn a_redelivered_job_does_nothing() {
    use thumbforge_queue::RenderThumbnail;
    use thumbforge_worker::jobs::render_thumbnail::{self, Outcome};
    let app = TestApp::spawn().await;
    let id = app.generate(&app.key, json!({"prompt": "once"})).await;
    let done = app.wait_terminal(&app.key, &id).await;
    let thumb = done["thumbnails"][0]["id"].as_str().expect("id").to_owned();
    let before = thumbnails::find(app.db(), &thumb)
        .await
        .expect("db")
        .expect("row");

    let deps = thumbforge_runtime::connect(&app.settings)
        .await
        .expect("deps");
    let env = thumbforge_worker::job_env(&deps, &app.settings);
    let job = RenderThumbnail {
        thumbnail_id: thumb.clone(),
        generation_id: id.clone(),
        enqueued_at_ms: 0,
        ..Default::default()
    };
    let outcome = render_thumbnail::run(&env, &job).await.expect("runs");
    assert_eq!(outcome, Outcome::Skipped);
    let after = thumbnails::find(app.db(), &thumb)
        .await
        .expect("db")
        .expect("row");
    assert_eq!(before, after, "the row is untouched");
}

/// The worker's batched writer under many concurrent jobs: every claim and
/// outcome lands on its own row, generations derive the right status, and
/// the single-row guards still hold inside a batch.
#[tokio::test]
async fn batched_status_writes_match_the_single_row_rules() {
    use thumbforge_core::{EndReason, Failure};
    use thumbforge_db::{
        batch::StatusWriter,
        lifecycle::{JobResult, Success},
    };
    let app = TestApp::spawn().await;
    let org = thumbforge_db::orgs::ensure(app.db(), "batch", Some(Plan::Pro))
        .await
        .expect("org");
    let request = direct_request("batched", 3);
    let mut views = Vec::new();
    for _ in 0..40 {
        views.push(
            generations::create(app.db(), &org.id, Plan::Pro, ModelId::LOCAL, 1, &request)
                .await
                .expect("created"),
        );
    }
    let writer = StatusWriter::new(app.db().clone());
    let success = Success {
        storage_key: "key".into(),
        watermarked_key: Some("wm".into()),
        file_size_bytes: 7,
        clean_size_bytes: 5,
        width: 1280,
        height: 720,
        generation_time_ms: 3,
    };
    // Generation i: all succeed (i % 3 == 0), all fail (1), or one fails (2).
    let mut jobs = Vec::new();
    for (i, view) in views.iter().enumerate() {
        for (j, t) in view.thumbnails.iter().enumerate() {
            let fails = match i % 3 {
                0 => false,
                1 => true,
                _ => j == 1,
            };
            let writer = writer.clone();
            let (id, generation_id) = (t.id.clone(), view.generation.id.clone());
            let success = success.clone();
            jobs.push(tokio::spawn(async move {
                let ctx = writer
                    .claim(&id, 123)
                    .await
                    .expect("claim")
                    .expect("claimable");
                assert_eq!(ctx.thumbnail.id, id);
                assert_eq!(ctx.generation.id, generation_id);
                assert_eq!(ctx.thumbnail.attempts, 1);
                let result = if fails {
                    JobResult::Failed(Failure::new(EndReason::Safety, format!("reason for {id}")))
                } else {
                    JobResult::Succeeded(success)
                };
                let recorded = writer.record(&ctx, result.clone()).await.expect("record");
                assert!(recorded.changed, "the first outcome applies");
                let again = writer.record(&ctx, result).await.expect("record again");
                assert!(!again.changed, "a second outcome is a no-op");
                assert!(
                    again.generation.is_terminal()
                        || again.generation == thumbforge_core::GenerationStatus::Processing
                );
            }));
        }
    }
    for job in jobs {
        job.await.expect("job");
    }
    for (i, view) in views.iter().enumerate() {
        let expected = ["succeeded", "failed", "partial"][i % 3];
        let stored = generations::status_of(app.db(), &view.generation.id)
            .await
            .expect("db")
            .expect("row");
        assert_eq!(stored.as_str(), expected, "generation {i}");
        for (j, t) in view.thumbnails.iter().enumerate() {
            let row = thumbnails::find(app.db(), &t.id)
                .await
                .expect("db")
                .expect("row");
            assert_eq!(row.lease_expires_at, None);
            assert!(row.completed_at.is_some());
            if row.status == ThumbnailStatus::Failed {
                assert_eq!(row.error, Some(format!("reason for {}", t.id)));
                assert_eq!(row.end_reason, Some(EndReason::Safety));
                assert_eq!(row.storage_key, None);
            } else {
                assert_eq!(
                    row.status,
                    ThumbnailStatus::Succeeded,
                    "generation {i} thumbnail {j}"
                );
                assert_eq!((row.error, row.end_reason), (None, None));
                assert_eq!(
                    (
                        row.storage_key.as_deref(),
                        row.watermarked_key.as_deref(),
                        row.file_size_bytes,
                        row.width,
                        row.height,
                        row.generation_time_ms,
                    ),
                    (
                        Some("key"),
                        Some("wm"),
                        Some(7),
                        Some(1280),
                        Some(720),
                        Some(3)
                    )
                );
            }
        }
    }
    // Terminal rows cannot be claimed through the writer either.
    let first = &views[0].thumbnails[0].id;
    assert!(writer.claim(first, 0).await.expect("db").is_none());
}

/// A worker that dies between a thumbnail's write and its generation's
/// re-derivation leaves the generation processing with every thumbnail
/// ended. Its mark (written before the thumbnail write) lets the sweeper
/// find and end it; an unmarked generation that is merely running keeps
/// running.
#[tokio::test]
async fn the_sweeper_settles_a_generation_a_worker_left_behind() {
    use sea_orm::EntityTrait;
    use thumbforge_db::entities::unsettled_generations;
    let app = TestApp::spawn().await;
    let view = app.direct_generation("left-behind", 2).await;
    let id = view.generation.id.clone();
    // What the general record path does, minus the re-derivation.
    let ids: Vec<String> = view.thumbnails.iter().map(|t| t.id.clone()).collect();
    lifecycle::fail_and_die(app.db(), &ids, "gone")
        .await
        .expect("failed");
    assert_eq!(
        generations::status_of(app.db(), &id).await.expect("db"),
        Some(GenerationStatus::Processing),
        "nothing re-derived it yet"
    );
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let status = generations::status_of(app.db(), &id).await.expect("db");
        if status == Some(GenerationStatus::Failed) {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the sweeper never settled it: {status:?}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    let mark = unsettled_generations::Entity::find_by_id(id.clone())
        .one(app.db().conn())
        .await
        .expect("db");
    assert!(mark.is_none(), "the mark goes with the generation's end");

    // A marked generation still running keeps its mark (moved back), and
    // stays processing.
    let running = app.direct_generation("left-behind", 2).await;
    let running_id = running.generation.id.clone();
    let one = [running.thumbnails[0].id.clone()];
    lifecycle::fail_and_die(app.db(), &one, "gone")
        .await
        .expect("failed");
    let candidates = lifecycle::marked_before(app.db(), i64::MAX, 1000)
        .await
        .expect("db");
    assert!(
        !candidates.contains(&running_id),
        "a generation with processing thumbnails is not a candidate"
    );
    assert!(
        !lifecycle::settle_marked(app.db(), &running_id)
            .await
            .expect("db"),
        "a running generation is not ended"
    );
    assert_eq!(
        generations::status_of(app.db(), &running_id)
            .await
            .expect("db"),
        Some(GenerationStatus::Processing)
    );
    let kept = unsettled_generations::Entity::find_by_id(running_id.clone())
        .one(app.db().conn())
        .await
        .expect("db");
    assert!(kept.is_some(), "a running generation keeps its mark");
}
