//! The sweeper makes "nothing accepted is ever lost" true after crashes.
//! The database is the record; each pass compares it with reality:
//!
//! 1. processing thumbnails whose job never reached the queue (the API died
//!    between commit and enqueue, or the enqueue failed) are enqueued;
//! 2. thumbnails still processing a while after their enqueue whose job the
//!    queue no longer has (a Redis flush, or a result undone by a database
//!    crash after the job was acknowledged) are enqueued again;
//! 3. thumbnails whose worker's lease lapsed (it died or hung) are enqueued
//!    again under a new attempt key;
//! 4. thumbnails older than the deadline end as failed, "timed out";
//! 5. generations whose thumbnails are all terminal but which still say
//!    processing (a worker died before refreshing) are refreshed. They are
//!    found by their mark in `unsettled_generations`, written before any
//!    thumbnail write that leaves the generation to a second write.
//!
//! Each pass also has the queue recount each organisation's thumbnails in
//! flight (fair dispatch's caps), in case a count went astray.
//!
//! Passes 1–4 find processing thumbnails through `open_thumbnails` (there
//! is no status index; see migration 9), which each pass first prunes of
//! thumbnails that ended.
//!
//! Every step is a conditional write, so any number of sweepers (one per
//! worker process) can run at once.
//!
//! With `retention.generations_days` set, the sweeper also deletes
//! generations that ended longer ago than that, with their images
//! ([`retention`]), in a loop of its own on the same interval, so a slow
//! object store never delays the repairs above.

pub mod retention;

use std::{sync::Arc, time::Duration};

use anyhow::Context;
use thumbforge_db::{Db, lifecycle, now_ms, thumbnails};
use thumbforge_queue::{JobQueue, Lane, RenderThumbnail};
use thumbforge_storage::Storage;
use thumbforge_telemetry::metrics::Metrics;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

pub use retention::{RetentionConfig, RetentionReport};

const BATCH: u64 = 500;
/// Ended thumbnails removed from the open set per pass: more than a busy
/// worker fleet ends in one interval.
const PRUNE_BATCH: u64 = 100_000;

#[derive(Debug, Clone)]
pub struct SweepConfig {
    pub interval: Duration,
    pub enqueue_grace: Duration,
    pub deadline: Duration,
    pub lost_check: Duration,
    /// `None`: generations are kept forever.
    pub retention: Option<RetentionConfig>,
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct SweepReport {
    pub enqueued: usize,
    pub lost: usize,
    pub requeued: usize,
    /// Thumbnails failed by the deadline.
    pub timed_out: usize,
    pub refreshed: usize,
    /// Ended thumbnails removed from the open set (routine, not a repair).
    pub pruned: usize,
}

pub async fn sweep_once(
    db: &Db,
    queue: &JobQueue,
    config: &SweepConfig,
) -> anyhow::Result<SweepReport> {
    let now = now_ms();
    // Ended thumbnails leave the open set first, so the passes below scan
    // what is in flight. Bounded per pass like the others.
    let mut report = SweepReport {
        pruned: lifecycle::prune_open(db, PRUNE_BATCH)
            .await
            .context("pruning the open set")?,
        ..SweepReport::default()
    };
    if let Err(e) = queue.reconcile().await {
        warn!(error = %e, "recounting thumbnails in flight failed");
    }

    let lost = thumbnails::never_enqueued(db, now - config.enqueue_grace.as_millis() as i64, BATCH)
        .await
        .context("finding never-enqueued thumbnails")?;
    if !lost.is_empty() {
        let jobs: Vec<_> = lost.iter().map(|t| (job(t), t.attempts)).collect();
        queue
            .enqueue(&jobs)
            .await
            .context("re-enqueueing lost jobs")?;
        let ids: Vec<String> = lost.into_iter().map(|t| t.id).collect();
        thumbnails::mark_enqueued(db, &ids).await?;
        report.enqueued = ids.len();
    }

    // Bounded per pass, so a flushed backlog refills in steps of BATCH.
    for _ in 0..20 {
        let waiting =
            thumbnails::enqueued_before(db, now - config.lost_check.as_millis() as i64, BATCH)
                .await?;
        let ids: Vec<String> = waiting.iter().map(|t| t.id.clone()).collect();
        let missing = queue.missing(&ids).await.context("checking queued jobs")?;
        let jobs: Vec<_> = waiting
            .iter()
            .filter(|t| missing.contains(&t.id))
            .map(|t| (job(t), t.attempts))
            .collect();
        if !jobs.is_empty() {
            queue
                .enqueue(&jobs)
                .await
                .context("re-enqueueing jobs the queue lost")?;
            thumbnails::mark_requeued(db, &missing).await?;
            report.lost += jobs.len();
        }
        if missing.len() < BATCH as usize {
            break;
        }
    }

    for t in thumbnails::lease_expired(db, now, BATCH).await? {
        if thumbnails::release_lease(db, &t.id, t.attempts).await? {
            queue
                .enqueue(&[(job(&t), t.attempts)])
                .await
                .context("re-enqueueing an expired lease")?;
            report.requeued += 1;
        }
    }

    let timed_out = format!(
        "Timed out: the thumbnail was not finished within {} seconds.",
        config.deadline.as_secs()
    );
    let overdue_before = now - config.deadline.as_millis() as i64;
    report.timed_out = lifecycle::time_out_overdue(db, overdue_before, &timed_out, BATCH).await?;

    // Marks younger than the grace belong to writes still in progress.
    let settle_before = now - config.enqueue_grace.as_millis() as i64;
    for generation_id in lifecycle::marked_before(db, settle_before, BATCH).await? {
        if lifecycle::settle_marked(db, &generation_id).await? {
            report.refreshed += 1;
        }
    }
    Ok(report)
}

fn job(t: &thumbnails::Stranded) -> RenderThumbnail {
    RenderThumbnail {
        thumbnail_id: t.id.clone(),
        generation_id: t.generation_id.clone(),
        enqueued_at_ms: now_ms(),
        lane: Lane::for_model(&t.model),
        org_id: t.org_id.clone(),
        plan: None,
        sync: false,
    }
}

/// What the sweeper's passes act on besides the record and the queue.
#[derive(Debug, Clone)]
pub struct SweepDeps {
    pub db: Db,
    pub queue: JobQueue,
    pub storage: Storage,
    pub metrics: Arc<Metrics>,
}

/// Runs `sweep_once` every interval, and the retention pass when it is
/// on, until `shutdown`.
pub async fn run(deps: SweepDeps, config: SweepConfig, shutdown: CancellationToken) {
    tokio::join!(
        repair(&deps, &config, &shutdown),
        retain(&deps, &config, &shutdown)
    );
}

async fn repair(deps: &SweepDeps, config: &SweepConfig, shutdown: &CancellationToken) {
    let mut tick = tokio::time::interval(config.interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            () = shutdown.cancelled() => return,
            _ = tick.tick() => {}
        }
        match sweep_once(&deps.db, &deps.queue, config).await {
            // Pruning is routine; anything else was a repair.
            Ok(report)
                if (SweepReport {
                    pruned: 0,
                    ..report
                }) != SweepReport::default() =>
            {
                info!(?report, "sweeper repaired work")
            }
            Ok(_) => {}
            Err(e) => warn!(error = format!("{e:#}"), "sweep failed; will retry"),
        }
    }
}

async fn retain(deps: &SweepDeps, config: &SweepConfig, shutdown: &CancellationToken) {
    let Some(retention) = &config.retention else {
        return;
    };
    let mut tick = tokio::time::interval(config.interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            () = shutdown.cancelled() => return,
            _ = tick.tick() => {}
        }
        let started = std::time::Instant::now();
        // A pass cut short by the stop is finished by the next one.
        let outcome = tokio::select! {
            () = shutdown.cancelled() => return,
            outcome = retention::pass(&deps.db, &deps.storage, &deps.metrics, retention) => outcome,
        };
        match outcome {
            Ok(report) if report.generations > 0 || report.deferred > 0 => info!(
                generations = report.generations,
                thumbnails = report.thumbnails,
                deferred = report.deferred,
                idempotency_keys = report.idempotency_keys,
                retention_days = retention.keep.as_secs() / 86_400,
                duration_ms = started.elapsed().as_millis() as u64,
                "retention deleted ended generations"
            ),
            Ok(_) => {}
            Err(e) => warn!(
                error = format!("{e:#}"),
                "retention pass failed; will retry"
            ),
        }
    }
}
