//! Group commit: many callers' operations run as one batch.

use std::{
    future::Future,
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
};

use tokio::sync::{Notify, Semaphore, mpsc};

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

/// [`dispatch`] for runners that share one pipelined connection: a batch
/// runs beside one already running only once `min_overlap` operations
/// wait, or it waits for the running one to end (and then takes
/// everything queued meanwhile). Overlapping a few costs the server more
/// per operation than one bigger batch a moment later, so only a crowd
/// is worth a second batch in flight.
pub async fn dispatch_overlapping<Op, F, Fut>(
    mut rx: mpsc::Receiver<Op>,
    runners: usize,
    max: usize,
    min_overlap: usize,
    run: F,
) where
    Op: Send + 'static,
    F: Fn(Vec<Op>) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let count = runners.max(1);
    let runners = Arc::new(Semaphore::new(count));
    let running = Arc::new(AtomicUsize::new(0));
    let ended = Arc::new(Notify::new());
    let mut open = true;
    while open {
        let Ok(permit) = runners.clone().acquire_owned().await else {
            return;
        };
        let Some(first) = rx.recv().await else {
            break;
        };
        let mut batch = vec![first];
        loop {
            while batch.len() < max {
                match rx.try_recv() {
                    Ok(op) => batch.push(op),
                    Err(_) => break,
                }
            }
            if batch.len() >= min_overlap.min(max) {
                break;
            }
            // Registered before the check, so an end in between is seen.
            let notified = ended.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if running.load(Ordering::SeqCst) == 0 {
                break;
            }
            tokio::select! {
                op = rx.recv() => match op {
                    Some(op) => batch.push(op),
                    None => {
                        open = false;
                        break;
                    }
                },
                () = &mut notified => {}
            }
        }
        running.fetch_add(1, Ordering::SeqCst);
        let work = run(batch);
        let (running, ended) = (running.clone(), ended.clone());
        tokio::spawn(async move {
            work.await;
            running.fetch_sub(1, Ordering::SeqCst);
            ended.notify_waiters();
            drop(permit);
        });
    }
    // Every sender is gone: wait for the batches still running.
    let all = u32::try_from(count).unwrap_or(u32::MAX);
    let _ = runners.acquire_many(all).await;
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

    #[tokio::test]
    async fn a_second_batch_waits_for_a_crowd_or_the_first() {
        let batches = Arc::new(std::sync::Mutex::new(Vec::new()));
        let (tx, rx) = mpsc::channel(64);
        let seen = batches.clone();
        let (release_tx, release_rx) = tokio::sync::watch::channel(false);
        let dispatcher = tokio::spawn(dispatch_overlapping(rx, 2, 64, 3, move |ops: Vec<u32>| {
            seen.lock().expect("lock").push(ops.clone());
            let mut release = release_rx.clone();
            async move {
                // Op 0's batch runs until released; the others at once.
                if ops.contains(&0) {
                    let _ = release.wait_for(|go| *go).await;
                }
            }
        }));
        let settle = || tokio::time::sleep(Duration::from_millis(100));
        tx.send(0).await.expect("send");
        settle().await;
        // Two waiting are too few to run beside op 0's batch...
        tx.send(1).await.expect("send");
        tx.send(2).await.expect("send");
        settle().await;
        assert_eq!(*batches.lock().expect("lock"), vec![vec![0]]);
        // ...three are a crowd.
        tx.send(3).await.expect("send");
        settle().await;
        assert_eq!(batches.lock().expect("lock")[1], vec![1, 2, 3]);
        // Once that one ended, a lone op waits only for op 0's batch.
        tx.send(4).await.expect("send");
        settle().await;
        assert_eq!(batches.lock().expect("lock").len(), 2);
        release_tx.send(true).expect("release");
        settle().await;
        assert_eq!(batches.lock().expect("lock")[2], vec![4]);
        drop(tx);
        tokio::time::timeout(Duration::from_secs(10), dispatcher)
            .await
            .expect("dispatch ends")
            .expect("dispatch task");
    }
}
