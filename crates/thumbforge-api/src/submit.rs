//! Group commit for submits. Concurrent `POST /generate` requests hand
//! their new generations to the [`Submitter`], which stores whatever has
//! queued up as one insert (one commit) and pushes all their jobs with one
//! queue call. Each request still answers only after its own generation is
//! committed, so the promise of a 2xx is unchanged; under load a commit
//! carries many requests instead of one. Nothing waits to fill a batch: an
//! idle server inserts a lone request at once.

use thumbforge_db::{Db, DbError, batch::dispatch, generations, now_ms, thumbnails};
use thumbforge_queue::{JobQueue, RenderThumbnail};
use tokio::sync::{mpsc, oneshot};
use tracing::warn;

/// Inserts in flight at once (each holds one database connection). More
/// did not help on 2 cores: 1, 2, 4, 8 and 16 runners gave 9.9k, 8.4k,
/// 8.6k, 8.1k and 7.9k submits/s (wrk -c32, one run each); two keep one
/// slow insert from stalling every submit.
const RUNNERS: usize = 2;
/// Most generations in one insert.
const MAX_BATCH: usize = 64;

/// Whether the jobs reached the queue after the commit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pushed {
    Yes,
    /// Committed, but the push failed: `enqueued_at` was cleared, so the
    /// sweeper pushes these jobs once the queue is back.
    Failed,
}

struct SubmitOp {
    view: generations::GenerationView,
    reply: oneshot::Sender<Result<Pushed, DbError>>,
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

    /// Commits `view` (built by [`generations::build`]) with its thumbnails,
    /// then pushes its jobs.
    pub async fn submit(&self, view: generations::GenerationView) -> Result<Pushed, DbError> {
        let (reply, answer) = oneshot::channel();
        self.tx
            .send(SubmitOp { view, reply })
            .await
            .map_err(|_| stopped())?;
        answer.await.map_err(|_| stopped())?
    }
}

fn stopped() -> DbError {
    DbError::Corrupt("the submit queue stopped".to_owned())
}

async fn run_batch(db: &Db, queue: &JobQueue, ops: Vec<SubmitOp>) {
    let (views, replies): (Vec<_>, Vec<_>) = ops.into_iter().map(|op| (op.view, op.reply)).unzip();
    let mut committed = Vec::with_capacity(views.len());
    match generations::insert_many(db, &views).await {
        Ok(()) => committed.extend(views.into_iter().zip(replies)),
        // Down is down for everyone in the batch.
        Err(e) if e.is_unavailable() || views.len() == 1 => {
            for reply in replies {
                let _ = reply.send(Err(e.clone()));
            }
        }
        // Anything else may be one bad row: each alone, so only it fails.
        Err(_) => {
            for (view, reply) in views.into_iter().zip(replies) {
                match generations::insert_many(db, std::slice::from_ref(&view)).await {
                    Ok(()) => committed.push((view, reply)),
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
    let pushed = match queue.enqueue(&jobs).await {
        Ok(()) => Pushed::Yes,
        Err(e) => {
            warn!(error = %e, generations = committed.len(), "enqueue failed; the sweeper will retry");
            let ids: Vec<String> = jobs.into_iter().map(|(job, _)| job.thumbnail_id).collect();
            if let Err(e) = thumbnails::clear_enqueued(db, &ids).await {
                warn!(error = %e, "could not clear enqueued_at");
            }
            Pushed::Failed
        }
    };
    for (_, reply) in committed {
        let _ = reply.send(Ok(pushed));
    }
}
