//! Group commit: many callers' operations run as one batch.

use std::{future::Future, sync::Arc};

use tokio::sync::{Semaphore, mpsc};

/// Runs `run` on batches of what arrives on `rx`: as soon as one of
/// `runners` is free it takes everything queued meanwhile (up to `max`).
/// Nothing waits to fill a batch, so one operation alone runs at once and
/// batches grow only while the runners are busy. Ends when every sender
/// is dropped and every batch has run.
pub async fn dispatch<Op, F, Fut>(mut rx: mpsc::Receiver<Op>, runners: usize, max: usize, run: F)
where
    Op: Send + 'static,
    F: Fn(Vec<Op>) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let count = runners.max(1);
    let runners = Arc::new(Semaphore::new(count));
    loop {
        let Ok(permit) = runners.clone().acquire_owned().await else {
            return;
        };
        let Some(first) = rx.recv().await else {
            drop(permit);
            // Every sender is gone: wait for the batches still running.
            let all = u32::try_from(count).unwrap_or(u32::MAX);
            let _ = runners.acquire_many(all).await;
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

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    use super::*;

    #[tokio::test]
    async fn ends_only_after_the_running_batches() {
        let done = Arc::new(AtomicUsize::new(0));
        let (tx, rx) = mpsc::channel(16);
        let counted = done.clone();
        let dispatcher = tokio::spawn(dispatch(rx, 2, 4, move |ops: Vec<u32>| {
            let counted = counted.clone();
            // The first batch outlasts the others, so the dispatcher sees
            // the channel closed while it is still running.
            let pause = if ops.contains(&0) { 300 } else { 10 };
            async move {
                tokio::time::sleep(Duration::from_millis(pause)).await;
                counted.fetch_add(ops.len(), Ordering::SeqCst);
            }
        }));
        for op in 0..6 {
            tx.send(op).await.expect("send");
        }
        drop(tx);
        tokio::time::timeout(Duration::from_secs(10), dispatcher)
            .await
            .expect("dispatch ends")
            .expect("dispatch task");
        assert_eq!(done.load(Ordering::SeqCst), 6);
    }
}
