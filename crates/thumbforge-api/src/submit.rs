//! Group commit for submits. Concurrent `POST /generate` requests hand
//! their new generations to the [`Submitter`], which stores whatever has
//! queued up as one insert (one commit). Each request answers as soon as
//! its own generation is committed, so the promise of a 2xx is unchanged;
//! under load a commit carries many requests instead of one. Nothing waits
//! to fill a batch: an idle server inserts a lone request at once.
//!
//! The jobs of committed generations go to a second stage, which pushes
//! whatever has queued up there with one queue call. The request does not
//! wait for that push: a committed thumbnail is accepted whether or not
//! its job reaches the queue, because the sweeper pushes any whose job did
//! not (`enqueued_at` cleared on a failed push, the lost-job check after a
//! crash). Freed of the push, a store runner takes its next batch as soon
//! as it has answered the batch just committed and handed its jobs to the
//! push stage.

use std::sync::Arc;

use thumbforge_core::{Plan, batch::dispatch};
use thumbforge_db::{Db, DbError, generations, now_ms, thumbnails};
use thumbforge_queue::{JobQueue, Lane, RenderThumbnail};
use tokio::sync::{mpsc, oneshot};
use tracing::warn;

/// Inserts in flight at once through sea-orm (each holds one database
/// connection). One: with the push off the store runner, one runner
/// gathers batches of about 17 under `wrk -c32` instead of two runners' 9,
/// which costs PostgreSQL less per submit. Four interleaved rounds: 11.7k
/// submits/s mean against 10.4k for two runners pushing inline, as before
/// (+12%, 4 of 4 rounds), and 10.8k for two runners with the push off
/// (docs/benchmarks.md). Letting a second runner start only once 8 or 12
/// submits waited, or running three, gained nothing over one.
const RUNNERS: usize = 1;
/// Connections of the store runners' own pool: one more than the runners,
/// because sqlx pings a connection as it goes back to its pool, and the
/// next batch should not wait for that round trip.
pub const STORE_CONNECTIONS: u32 = RUNNERS as u32 + 1;
/// Most generations in one insert.
const MAX_BATCH: usize = 64;
/// Queue pushes in flight at once.
const PUSHERS: usize = 1;
/// Most store batches one push carries.
const MAX_PUSH: usize = 16;

/// What became of a submit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Submitted {
    /// Committed; its jobs are on their way to the queue.
    Stored,
    /// Not stored: the org's credit balance could not pay for it.
    InsufficientCredits,
}

/// Where a submit's outcome goes.
type Reply = oneshot::Sender<Result<Submitted, DbError>>;
/// The reply, and how the jobs are dispatched once committed.
type Answer = (Reply, Dispatch);

struct SubmitOp {
    view: generations::GenerationView,
    /// The org has a credit balance to debit.
    metered: bool,
    dispatch: Dispatch,
    reply: Reply,
}

/// How a submit's jobs are dispatched.
#[derive(Debug, Clone, Copy)]
pub struct Dispatch {
    /// The org's plan: its share of the workers and its caps.
    pub plan: Plan,
    /// The caller waits for the generation to end (Flokan's generate,
    /// `Prefer: wait`): its jobs go ahead of batch work.
    pub sync: bool,
}

/// The jobs of one committed batch.
type Jobs = Vec<(RenderThumbnail, i32)>;

#[derive(Debug, Clone)]
pub struct Submitter {
    tx: mpsc::Sender<SubmitOp>,
    breaker: Arc<Breaker>,
}

impl Submitter {
    /// Starts the runners on the current Tokio runtime. The store runners
    /// insert through `store_db` (a pool of their own, [`Db::dedicated`]);
    /// the push stage clears `enqueued_at` through `db`. The handle
    /// returned ends once every clone of the submitter is dropped and the
    /// jobs of every committed batch were pushed (or left to the sweeper).
    pub fn new(store_db: Db, db: Db, queue: JobQueue) -> (Submitter, tokio::task::JoinHandle<()>) {
        let breaker = Arc::new(Breaker::default());
        let (tx, rx) = mpsc::channel(4096);
        let (push_tx, push_rx) = mpsc::channel::<Jobs>(256);
        let push_breaker = breaker.clone();
        let drained = tokio::spawn(dispatch(push_rx, PUSHERS, MAX_PUSH, move |batches| {
            let (db, queue, breaker) = (db.clone(), queue.clone(), push_breaker.clone());
            async move { push_batches(&db, &queue, &breaker, batches).await }
        }));
        tokio::spawn(dispatch(rx, RUNNERS, MAX_BATCH, move |ops| {
            let (store_db, push_tx) = (store_db.clone(), push_tx.clone());
            async move { run_batch(&store_db, push_tx, ops).await }
        }));
        (Submitter { tx, breaker }, drained)
    }

    /// The queue failed a push a moment ago: refuse new work for a short
    /// while (503), so clients retry rather than wait on the sweeper.
    pub fn queue_down(&self) -> bool {
        self.breaker.is_open()
    }

    /// Debits a metered org and commits `view` (built by
    /// [`generations::build`]) with its thumbnails; its jobs are pushed
    /// after the answer.
    pub async fn submit(
        &self,
        view: generations::GenerationView,
        metered: bool,
        dispatch: Dispatch,
    ) -> Result<Submitted, DbError> {
        let (reply, answer) = oneshot::channel();
        self.tx
            .send(SubmitOp {
                view,
                metered,
                dispatch,
                reply,
            })
            .await
            .map_err(|_| stopped())?;
        answer.await.map_err(|_| stopped())?
    }
}

fn stopped() -> DbError {
    DbError::Stopped("the submit queue")
}

async fn run_batch(db: &Db, push: mpsc::Sender<Jobs>, ops: Vec<SubmitOp>) {
    let metered: Vec<bool> = ops.iter().map(|op| op.metered).collect();
    let (views, replies): (Vec<_>, Vec<_>) = ops
        .into_iter()
        .map(|op| (op.view, (op.reply, op.dispatch)))
        .unzip();
    let mut committed = Vec::with_capacity(views.len());
    let mut settle = |view, reply: Answer, accepted: bool| {
        if accepted {
            committed.push((view, reply));
        } else {
            let _ = reply.0.send(Ok(Submitted::InsufficientCredits));
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
            for (reply, _) in replies {
                let _ = reply.send(Err(e.clone()));
            }
        }
        // Anything else may be one bad row: each alone, so only it fails.
        Err(_) => {
            for ((view, reply), metered) in views.into_iter().zip(replies).zip(metered) {
                match generations::create_batch(db, std::slice::from_ref(&view), &[metered]).await {
                    Ok(accepted) => settle(view, reply, accepted[0]),
                    Err(e) => {
                        let _ = reply.0.send(Err(e));
                    }
                }
            }
        }
    }
    if committed.is_empty() {
        return;
    }
    // A place in the push stage first: this waits only while that stage is
    // full, so a stalled queue slows the stores down instead of piling
    // jobs up. The channel closes only with the process; the sweeper's
    // lost-job check covers that.
    let Ok(slot) = push.reserve_owned().await else {
        warn!("the push stage stopped; the sweeper will push these jobs");
        answer(committed);
        return;
    };
    slot.send(answer(committed));
}

/// Answers committed submits, and returns their jobs.
fn answer(committed: Vec<(generations::GenerationView, Answer)>) -> Jobs {
    let enqueued_at_ms = now_ms();
    let mut jobs = Jobs::new();
    for (view, (reply, dispatch)) in committed {
        let lane = Lane::for_model(&view.generation.model);
        jobs.extend(view.thumbnails.iter().map(|t| {
            let job = RenderThumbnail {
                thumbnail_id: t.id.clone(),
                generation_id: view.generation.id.clone(),
                enqueued_at_ms,
                lane,
                org_id: view.generation.org_id.clone(),
                plan: Some(dispatch.plan),
                sync: dispatch.sync,
            };
            (job, 0)
        }));
        let _ = reply.send(Ok(Submitted::Stored));
    }
    jobs
}

/// Pushes the jobs of several committed batches with one queue call. When
/// that fails the breaker opens and the jobs' `enqueued_at` is cleared.
async fn push_batches(db: &Db, queue: &JobQueue, breaker: &Breaker, batches: Vec<Jobs>) {
    let jobs: Jobs = batches.into_iter().flatten().collect();
    match push_committed(db, queue, &jobs).await {
        Ok(true) => {}
        Ok(false) => breaker.trip(),
        Err(e) => {
            breaker.trip();
            warn!(error = %e, "could not clear enqueued_at");
        }
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

/// Open for a short while after a push failed: generate answers 503
/// `queue_unavailable` without touching the database. The first submit
/// after the window is stored, and its push tries the queue again.
#[derive(Debug, Default)]
struct Breaker {
    open_until_ms: std::sync::atomic::AtomicI64,
}

impl Breaker {
    const OPEN_FOR_MS: i64 = 2_000;

    fn is_open(&self) -> bool {
        self.open_until_ms
            .load(std::sync::atomic::Ordering::Relaxed)
            > thumbforge_db::now_ms()
    }

    fn trip(&self) {
        self.open_until_ms.store(
            thumbforge_db::now_ms() + Self::OPEN_FOR_MS,
            std::sync::atomic::Ordering::Relaxed,
        );
    }
}
