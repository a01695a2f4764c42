//! Group commit for the status writes of a worker process.
//!
//! Every job makes two writes: it claims its thumbnail, and it records the
//! outcome. Done one job at a time that is five statements and three
//! commits per thumbnail. Here the jobs of one process hand their writes
//! to a [`StatusWriter`], which gathers whatever is waiting and runs it as
//! one batch: claims through [`crate::thumbnails::claim`], outcomes through
//! [`crate::lifecycle::record`], one statement (or a few) per batch.
//!
//! Nothing waits to fill a batch: a batch starts as soon as a runner is
//! free and takes what has queued up meanwhile, so an idle worker pays one
//! statement as before and a busy one pays one per batch. The writes keep
//! the guard of every status write (only `processing` rows change), so
//! redelivered and duplicate jobs stay harmless.

use thumbforge_core::GenerationStatus;
use thumbforge_core::batch::dispatch;
use tokio::sync::{mpsc, oneshot};

use crate::{
    Db, DbError,
    lifecycle::{self, JobResult, Outcome},
    thumbnails::JobContext,
};

/// Most operations one statement carries.
const MAX_BATCH: usize = 64;
/// Batches of one kind in flight at once.
const RUNNERS: usize = 2;

/// What recording an outcome did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Recorded {
    /// This call moved the thumbnail out of `processing`.
    pub changed: bool,
    /// The generation's status derived right after.
    pub generation: GenerationStatus,
}

struct ClaimOp {
    id: String,
    lease_until: i64,
    reply: oneshot::Sender<Result<Option<JobContext>, DbError>>,
}

struct RecordOp {
    outcome: Outcome,
    reply: oneshot::Sender<Result<Recorded, DbError>>,
}

/// The handle jobs write through; cheap to clone. Its runners live as long
/// as any handle does.
#[derive(Debug, Clone)]
pub struct StatusWriter {
    claims: mpsc::Sender<ClaimOp>,
    records: mpsc::Sender<RecordOp>,
}

impl StatusWriter {
    /// Starts the runners on the current Tokio runtime.
    pub fn new(db: Db) -> StatusWriter {
        let (claims, claim_rx) = mpsc::channel(1024);
        let (records, record_rx) = mpsc::channel(1024);
        let claim_db = db.clone();
        tokio::spawn(dispatch(claim_rx, RUNNERS, MAX_BATCH, move |ops| {
            let db = claim_db.clone();
            async move { claim_batch(&db, ops).await }
        }));
        tokio::spawn(dispatch(record_rx, RUNNERS, MAX_BATCH, move |ops| {
            let db = db.clone();
            async move { record_batch(&db, ops).await }
        }));
        StatusWriter { claims, records }
    }

    /// Takes a processing thumbnail until
    /// `lease_until` (attempts + 1) and returns it with its generation;
    /// `None` when it is terminal or gone.
    pub async fn claim(&self, id: &str, lease_until: i64) -> Result<Option<JobContext>, DbError> {
        let (reply, answer) = oneshot::channel();
        let op = ClaimOp {
            id: id.to_owned(),
            lease_until,
            reply,
        };
        self.claims.send(op).await.map_err(|_| stopped())?;
        answer.await.map_err(|_| stopped())?
    }

    /// Records the outcome of the job that claimed `claimed` (only while
    /// the thumbnail is processing), then re-derives the generation's
    /// status and stores it when terminal.
    pub async fn record(
        &self,
        claimed: &JobContext,
        result: JobResult,
    ) -> Result<Recorded, DbError> {
        let (reply, answer) = oneshot::channel();
        let outcome = Outcome {
            thumbnail_id: claimed.thumbnail.id.clone(),
            generation_id: claimed.generation.id.clone(),
            count: claimed.generation.count,
            result,
        };
        let op = RecordOp { outcome, reply };
        self.records.send(op).await.map_err(|_| stopped())?;
        answer.await.map_err(|_| stopped())?
    }
}

fn stopped() -> DbError {
    DbError::Stopped("the status writer")
}

async fn claim_batch(db: &Db, ops: Vec<ClaimOp>) {
    let ids: Vec<String> = ops.iter().map(|op| op.id.clone()).collect();
    let lease_until = ops
        .iter()
        .map(|op| op.lease_until)
        .max()
        .unwrap_or_default();
    match crate::thumbnails::claim(db, &ids, lease_until).await {
        Ok((rows, gens)) => {
            for op in ops {
                let ctx = rows.get(&op.id).and_then(|thumbnail| {
                    gens.get(&thumbnail.generation_id)
                        .map(|generation| JobContext {
                            thumbnail: thumbnail.clone(),
                            generation: generation.clone(),
                        })
                });
                let _ = op.reply.send(Ok(ctx));
            }
        }
        Err(e) => {
            for op in ops {
                let _ = op.reply.send(Err(e.clone()));
            }
        }
    }
}

async fn record_batch(db: &Db, ops: Vec<RecordOp>) {
    let outcomes: Vec<&Outcome> = ops.iter().map(|op| &op.outcome).collect();
    match lifecycle::record(db, &outcomes).await {
        Ok(recorded) => {
            for op in ops {
                let outcome = &op.outcome;
                let _ = op.reply.send(Ok(Recorded {
                    changed: recorded.changed.contains(&outcome.thumbnail_id),
                    generation: recorded
                        .derived
                        .get(&outcome.generation_id)
                        .copied()
                        .unwrap_or(GenerationStatus::Processing),
                }));
            }
        }
        Err(e) => {
            for op in ops {
                let _ = op.reply.send(Err(e.clone()));
            }
        }
    }
}
