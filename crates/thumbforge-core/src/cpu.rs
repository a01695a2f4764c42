//! A process's CPU slots. Decoding, fitting, encoding and drawing run on
//! Tokio's blocking pool once a slot is free, so a worker with a thousand
//! model calls in flight runs only as many of those steps at once as it
//! has slots (`worker.concurrency`, one per core by default), and the rest
//! wait without holding a thread.

use std::sync::Arc;

use tokio::sync::Semaphore;

/// Cheap to clone; clones share the slots.
#[derive(Debug, Clone)]
pub struct CpuSlots(Arc<Semaphore>);

impl CpuSlots {
    pub fn new(slots: usize) -> CpuSlots {
        CpuSlots(Arc::new(Semaphore::new(slots.max(1))))
    }

    /// One slot per core.
    pub fn per_core() -> CpuSlots {
        CpuSlots::new(std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get))
    }

    /// Runs `work` on the blocking pool once a slot is free.
    pub async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, tokio::task::JoinError> {
        // The semaphore is never closed, so acquiring cannot fail.
        let _slot = self.0.acquire().await.ok();
        tokio::task::spawn_blocking(work).await
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    #[tokio::test]
    async fn no_more_than_the_slots_run_at_once() {
        let slots = CpuSlots::new(2);
        let running = Arc::new(AtomicUsize::new(0));
        let most = Arc::new(AtomicUsize::new(0));
        let tasks = (0..8).map(|_| {
            let (slots, running, most) = (slots.clone(), running.clone(), most.clone());
            tokio::spawn(async move {
                slots
                    .run(move || {
                        let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                        most.fetch_max(now, Ordering::SeqCst);
                        std::thread::sleep(std::time::Duration::from_millis(20));
                        running.fetch_sub(1, Ordering::SeqCst);
                    })
                    .await
            })
        });
        for task in tasks.collect::<Vec<_>>() {
            task.await.expect("task").expect("work");
        }
        // Without the slots all eight would overlap.
        let most = most.load(Ordering::SeqCst);
        assert!((1..=2).contains(&most), "{most} at once");
    }
}
