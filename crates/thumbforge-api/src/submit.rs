//! Group commit for submits. Concurrent `POST /generate` requests hand
//! their new generations to the [`Submitter`], which stores whatever has
//! queued up as one insert (one commit) and pushes all their jobs with one
//! queue call. Each request still answers only after its own generation is
//! committed, so the promise of a 2xx is unchanged; under load a commit
//! carries many requests instead of one. Nothing waits to fill a batch: an
//! idle server inserts a lone request at once.

use thumbforge_core::batch::dispatch;
use thumbforge_db::{Db, DbError, generations, now_ms, thumbnails};
use thumbforge_queue::{JobQueue, RenderThumbnail};
use tokio::sync::{mpsc, oneshot};
use tracing::warn;

/// Inserts in flight at once (each holds one database connection). More
/// did not help on 2 cores: 1, 2, 4, 8 and 16 runners gave 9.9k, 8.4k,
/// 8.6k, 8.1k and 7.9k submits/s (wrk -c32, one run each), but one runner
/// did not beat two in four interleaved rounds later (7.4k against 8.0k
/// mean, docs/benchmarks.md); two keep one slow insert from stalling every
/// submit.
const RUNNERS: usize = 2;
/// Most generations in one insert.
const MAX_BATCH: usize = 64;

/// What became of a submit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Submitted {
    /// Committed and its jobs pushed.
    Pushed,
    /// Committed, but the push failed: `enqueued_at` was cleared, so the
    /// sweeper pushes these jobs once the queue is back.
    PushFailed,
    /// Not stored: the org's credit balance could not pay for it.
    InsufficientCredits,
}

struct SubmitOp {
    view: generations::GenerationView,
    /// The org has a credit balance to debit.
    metered: bool,
    reply: oneshot::Sender<Result<Submitted, DbError>>,
}

#[derive(Debug, Clone)]
pub struct Submitter {
    tx: mpsc::Sender<SubmitOp>,
}

impl Submitter {
    /// Starts the runners on the current Tokio runtime.
    pub fn new(db: Db, queue: JobQueue) -> Submitter {
        let (tx, rx) = mpsc::channel(4096);
        tokio::spawn(dispatch(rx, RUNNERS, MAX_BATCH, move |ops| {
            let (db, queue) = (db.clone(), queue.clone());
            async move { run_batch(&db, &queue, ops).await }
        }));
        Submitter { tx }
    }

    /// Debits a metered org, commits `view` (built by
    /// [`generations::build`]) with its thumbnails, then pushes its jobs.
    pub async fn submit(
        &self,
        view: generations::GenerationView,
        metered: bool,
    ) -> Result<Submitted, DbError> {
        let (reply, answer) = oneshot::channel();
        self.tx
            .send(SubmitOp {
                view,
                metered,
                reply,
            })
            .await
            .map_err(|_| stopped())?;
        answer.await.map_err(|_| stopped())?
    }
}

fn stopped() -> DbError {
    DbError::Corrupt("the submit queue stopped".to_owned())
}

async fn run_batch(db: &Db, queue: &JobQueue, ops: Vec<SubmitOp>) {
    let metered: Vec<bool> = ops.iter().map(|op| op.metered).collect();
    let (views, replies): (Vec<_>, Vec<_>) = ops.into_iter().map(|op| (op.view, op.reply)).unzip();
    let mut committed = Vec::with_capacity(views.len());
    let mut settle = |view, reply: oneshot::Sender<_>, accepted: bool| {
        if accepted {
            committed.push((view, reply));
        } else {
            let _ = reply.send(Ok(Submitted::InsufficientCredits));
        }
    };
    match generations::create_batch(db, &views, &metered).await {
        Ok(accepted) => {
            for ((view, reply), ok) in views.into_iter().zip(replies).zip(accepted) {
                settle(view, reply, ok);
            }
        }
        // Down is down for everyone in the batch.
        Err(e) if e.is_unavailable() || views.len() == 1 => {
            for reply in replies {
                let _ = reply.send(Err(e.clone()));
            }
        }
        // Anything else may be one bad row: each alone, so only it fails.
        Err(_) => {
            for ((view, reply), metered) in views.into_iter().zip(replies).zip(metered) {
                match generations::create_batch(db, std::slice::from_ref(&view), &[metered]).await {
                    Ok(accepted) => settle(view, reply, accepted[0]),
                    Err(e) => {
                        let _ = reply.send(Err(e));
                    }
                }
            }
        }
    }
    if committed.is_empty() {
        return;
    }
    let enqueued_at_ms = now_ms();
    let jobs: Vec<(RenderThumbnail, i32)> = committed
        .iter()
        .flat_map(|(view, _)| {
            view.thumbnails.iter().map(|t| {
                let job = RenderThumbnail {
                    thumbnail_id: t.id.clone(),
                    generation_id: view.generation.id.clone(),
                    enqueued_at_ms,
                };
                (job, 0)
            })
        })
        .collect();
    let pushed = match push_committed(db, queue, &jobs).await {
        Ok(true) => Submitted::Pushed,
        Ok(false) => Submitted::PushFailed,
        Err(e) => {
            warn!(error = %e, "could not clear enqueued_at");
            Submitted::PushFailed
        }
    };
    for (_, reply) in committed {
        let _ = reply.send(Ok(pushed));
    }
}

/// Pushes the jobs of committed thumbnails. `Ok(false)`: the push failed
/// and their `enqueued_at` was cleared, so the sweeper's never-enqueued
/// pass pushes them within `enqueue_grace_secs`. `Err`: the push failed
/// and so did the clearing (the sweeper's lost-job check still finds them,
/// after `lost_check_secs`).
pub async fn push_committed(
    db: &Db,
    queue: &JobQueue,
    jobs: &[(RenderThumbnail, i32)],
) -> Result<bool, DbError> {
    let Err(e) = queue.enqueue(jobs).await else {
        return Ok(true);
    };
    warn!(error = %e, jobs = jobs.len(), "enqueue failed; the sweeper will push them");
    let ids: Vec<String> = jobs
        .iter()
        .map(|(job, _)| job.thumbnail_id.clone())
        .collect();
    thumbnails::clear_enqueued(db, &ids).await?;
    Ok(false)
}
