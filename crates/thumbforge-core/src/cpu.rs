//! A process's CPU slots. Decoding, fitting, encoding and drawing run on
//! Tokio's blocking pool once a slot is free, so a worker with a thousand
//! model calls in flight runs only as many of those steps at once as it
//! has slots (`worker.concurrency`, one per core by default), and the rest
//! wait without holding a thread.

use std::{cell::RefCell, sync::Arc};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// Cheap to clone; clones share the slots.
#[derive(Debug, Clone)]
pub struct CpuSlots {
    slots: Arc<Semaphore>,
    /// Models' answers held in memory at once (see [`CpuSlots::hold_answer`]).
    answers: Arc<Semaphore>,
}

/// Answers per CPU slot: enough that the slots never wait for a download,
/// few enough that a burst of answers cannot fill memory.
const ANSWERS_PER_SLOT: usize = 4;

tokio::task_local! {
    /// The answer this thumbnail holds, once it has read one.
    static ANSWER: RefCell<Option<OwnedSemaphorePermit>>;
}

impl CpuSlots {
    pub fn new(slots: usize) -> CpuSlots {
        let slots = slots.max(1);
        CpuSlots {
            slots: Arc::new(Semaphore::new(slots)),
            answers: Arc::new(Semaphore::new(slots * ANSWERS_PER_SLOT)),
        }
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
        let _slot = self.slots.acquire().await.ok();
        tokio::task::spawn_blocking(work).await
    }

    /// Runs one thumbnail's model call and image steps: an answer it reads
    /// stays counted until `work` ends.
    pub async fn answer_scope<F: Future>(&self, work: F) -> F::Output {
        ANSWER.scope(RefCell::new(None), work).await
    }

    /// Called before a model's answer (a picture, a few MB, then its
    /// decoded pixels) is read into memory: waits until fewer than four
    /// answers per CPU slot are held in this process. Thousands of calls
    /// may wait on a model, and when their answers come in a burst, the
    /// rest stay unread in their sockets instead of in memory. Once per
    /// scope; outside one (the API, tests) it does nothing.
    pub async fn hold_answer(&self) {
        if ANSWER.try_with(|a| a.borrow().is_none()) != Ok(true) {
            return;
        }
        let permit = self.answers.clone().acquire_owned().await.ok();
        let _ = ANSWER.try_with(|a| *a.borrow_mut() = permit);
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

    #[tokio::test]
    async fn answers_are_held_four_per_slot_until_their_scope_ends() {
        let slots = CpuSlots::new(1);
        let held = Arc::new(AtomicUsize::new(0));
        let most = Arc::new(AtomicUsize::new(0));
        let tasks: Vec<_> = (0..12)
            .map(|_| {
                let (slots, held, most) = (slots.clone(), held.clone(), most.clone());
                tokio::spawn(async move {
                    slots
                        .answer_scope(async {
                            slots.hold_answer().await;
                            // A second read in the same thumbnail (a retry)
                            // takes nothing more.
                            slots.hold_answer().await;
                            most.fetch_max(
                                held.fetch_add(1, Ordering::SeqCst) + 1,
                                Ordering::SeqCst,
                            );
                            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
                            held.fetch_sub(1, Ordering::SeqCst);
                        })
                        .await
                })
            })
            .collect();
        for task in tasks {
            task.await.expect("task");
        }
        assert_eq!(most.load(Ordering::SeqCst), ANSWERS_PER_SLOT);
        // Outside a scope nothing is held, so nothing waits.
        for _ in 0..10 {
            slots.hold_answer().await;
        }
    }
}
