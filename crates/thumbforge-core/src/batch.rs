//! Group commit: many callers' operations run as one batch.

use std::{future::Future, sync::Arc};

use tokio::sync::{Semaphore, mpsc};

/// Runs `run` on batches of what arrives on `rx`: as soon as one of
/// `runners` is free it takes everything queued meanwhile (up to `max`).
/// Nothing waits to fill a batch, so one operation alone runs at once and
/// batches grow only while the runners are busy. Ends when every sender
/// is dropped.
pub async fn dispatch<Op, F, Fut>(mut rx: mpsc::Receiver<Op>, runners: usize, max: usize, run: F)
where
    Op: Send + 'static,
    F: Fn(Vec<Op>) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let runners = Arc::new(Semaphore::new(runners.max(1)));
    loop {
        let Ok(permit) = runners.clone().acquire_owned().await else {
            return;
        };
        let Some(first) = rx.recv().await else {
            return;
        };
        let mut batch = vec![first];
        while batch.len() < max {
            match rx.try_recv() {
                Ok(op) => batch.push(op),
                Err(_) => break,
            }
        }
        let work = run(batch);
        tokio::spawn(async move {
            work.await;
            drop(permit);
        });
    }
}
