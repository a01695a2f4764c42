//! A process's CPU slots. Decoding, fitting, encoding and drawing run on
//! Tokio's blocking pool once a slot is free, so a worker with a thousand
//! model calls in flight runs only as many of those steps at once as it
//! has slots (`worker.concurrency`, one per core by default), and the rest
//! wait without holding a thread.

use std::{
    cell::RefCell,
    collections::{HashMap, VecDeque},
    sync::{Arc, Mutex},
};

use tokio::sync::{Semaphore, oneshot};

/// Cheap to clone; clones share the slots.
#[derive(Debug, Clone)]
pub struct CpuSlots {
    slots: Arc<Semaphore>,
    /// Models' answers held in memory at once (see [`CpuSlots::hold_answer`]).
    answers: Arc<FairGate>,
}

/// Answers per CPU slot: enough that the slots never wait for a download,
/// few enough that a burst of answers cannot fill memory.
const ANSWERS_PER_SLOT: usize = 4;

/// One thumbnail's claim on the answers: whose it is, and its place once
/// it has read one.
struct Answer {
    org: String,
    held: Option<AnswerPermit>,
}

tokio::task_local! {
    static ANSWER: RefCell<Answer>;
}

/// A semaphore whose waiters take turns by organisation: when a place
/// frees, it goes to the next organisation in turn that has an answer
/// waiting, each organisation's own in arrival order. A worker whose CPU
/// cannot keep up with its answers has a line of them unread in their
/// sockets; without turns, one organisation's thousand answers would be
/// ahead of another's one.
#[derive(Debug)]
struct FairGate {
    state: Mutex<GateState>,
}

#[derive(Debug, Default)]
struct GateState {
    free: usize,
    waiting: HashMap<String, VecDeque<oneshot::Sender<AnswerPermit>>>,
    /// Organisations with answers waiting, in turn order.
    turns: VecDeque<String>,
}

/// A place among the answers held; it frees when dropped.
#[derive(Debug)]
struct AnswerPermit {
    gate: Arc<FairGate>,
}

impl Drop for AnswerPermit {
    fn drop(&mut self) {
        self.gate.release();
    }
}

impl FairGate {
    fn new(places: usize) -> Arc<FairGate> {
        Arc::new(FairGate {
            state: Mutex::new(GateState {
                free: places,
                ..GateState::default()
            }),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, GateState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    async fn acquire(self: &Arc<Self>, org: &str) -> AnswerPermit {
        loop {
            let waiter = {
                let mut state = self.lock();
                if state.free > 0 && state.turns.is_empty() {
                    state.free -= 1;
                    return AnswerPermit { gate: self.clone() };
                }
                let (tx, rx) = oneshot::channel();
                let queue = state.waiting.entry(org.to_owned()).or_default();
                queue.push_back(tx);
                if queue.len() == 1 {
                    state.turns.push_back(org.to_owned());
                }
                rx
            };
            // A permit sent to a waiter that gave up is dropped with the
            // channel, which frees it again. The gate drops no sender unsent,
            // so the loop is only a guard.
            if let Ok(permit) = waiter.await {
                return permit;
            }
        }
    }

    /// Hands a freed place to the next organisation in turn, or keeps it.
    fn release(self: &Arc<Self>) {
        let mut state = self.lock();
        while let Some(org) = state.turns.pop_front() {
            let Some(queue) = state.waiting.get_mut(&org) else {
                continue;
            };
            let next = queue.pop_front();
            let more = !queue.is_empty();
            if more {
                state.turns.push_back(org);
            } else {
                state.waiting.remove(&org);
            }
            if let Some(tx) = next {
                match tx.send(AnswerPermit { gate: self.clone() }) {
                    Ok(()) => return,
                    // The waiter is gone: the place is still ours to give.
                    Err(permit) => std::mem::forget(permit),
                }
            }
        }
        state.free += 1;
    }
}

impl CpuSlots {
    pub fn new(slots: usize) -> CpuSlots {
        let slots = slots.max(1);
        CpuSlots {
            slots: Arc::new(Semaphore::new(slots)),
            answers: FairGate::new(slots * ANSWERS_PER_SLOT),
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

    /// Runs one thumbnail of organisation `org`: its model call and image
    /// steps. An answer it reads stays counted until `work` ends.
    pub async fn answer_scope<F: Future>(&self, org: &str, work: F) -> F::Output {
        let answer = Answer {
            org: org.to_owned(),
            held: None,
        };
        ANSWER.scope(RefCell::new(answer), work).await
    }

    /// Called before a model's answer (a picture, a few MB, then its
    /// decoded pixels) is read into memory: waits until fewer than four
    /// answers per CPU slot are held in this process. Thousands of calls
    /// may wait on a model, and when their answers come in a burst, the
    /// rest stay unread in their sockets instead of in memory, and are read
    /// by turns between organisations. Once per scope; outside one (the
    /// API, tests) it does nothing.
    pub async fn hold_answer(&self) {
        let Ok(Some(org)) = ANSWER.try_with(|a| {
            let a = a.borrow();
            a.held.is_none().then(|| a.org.clone())
        }) else {
            return;
        };
        let permit = self.answers.acquire(&org).await;
        let _ = ANSWER.try_with(|a| a.borrow_mut().held = Some(permit));
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
                        .answer_scope("org", async {
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

    #[tokio::test]
    async fn a_freed_answer_place_goes_to_the_next_organisation_in_turn() {
        let slots = CpuSlots::new(1);
        let order = Arc::new(Mutex::new(Vec::new()));
        let (release, released) = tokio::sync::watch::channel(false);
        let mut tasks = Vec::new();
        // Org a takes every place, and queues six more behind them; then
        // org b's one answer arrives.
        for (org, n) in (0..10).map(|n| ("a", n)).chain([("b", 0)]) {
            let (slots, order, mut released) = (slots.clone(), order.clone(), released.clone());
            tasks.push(tokio::spawn(async move {
                slots
                    .answer_scope(org, async {
                        slots.hold_answer().await;
                        order.lock().expect("lock").push(format!("{org}{n}"));
                        let _ = released.wait_for(|r| *r).await;
                    })
                    .await
            }));
            tokio::task::yield_now().await;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        assert_eq!(order.lock().expect("lock").len(), ANSWERS_PER_SLOT);
        release.send(true).expect("release");
        for task in tasks {
            task.await.expect("task");
        }
        let order = order.lock().expect("lock").clone();
        let b = order.iter().position(|o| o == "b0").expect("b ran");
        // Turns alternate: a's first waiting answer had the first turn, b's
        // the second, ahead of a's five others waiting before it.
        assert_eq!(b, ANSWERS_PER_SLOT + 1, "{order:?}");
    }
}
