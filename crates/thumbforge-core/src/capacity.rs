//! A provider's capacity: how many calls each key may start a minute and
//! have open at once, and the pause a 429 puts on the key. Every call to a
//! provider takes a [`Permit`] first. In production the state lives in
//! Redis, so every worker shares it (`thumbforge_queue::RedisCapacity`);
//! embedded, [`InProcess`] keeps it here, with `governor`'s GCRA for the
//! rate and a semaphore for the calls in flight.

use std::{
    collections::HashMap,
    num::NonZeroU32,
    sync::{Arc, Mutex, OnceLock},
    time::Duration,
};

use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use tokio::{
    sync::{OwnedSemaphorePermit, Semaphore},
    time::Instant,
};

/// One provider key: the provider and a digest of the key (never the key).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct LimitKey {
    pub provider: &'static str,
    pub key_digest: String,
}

impl std::fmt::Display for LimitKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.provider, self.key_digest)
    }
}

/// What one key may do; zero means no limit of that kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Limits {
    /// Calls started per minute, spaced evenly (a GCRA with no burst, so a
    /// provider that counts a sliding minute never sees more).
    pub rpm: u32,
    /// Calls open at once.
    pub max_concurrent: u32,
}

impl Limits {
    /// The spacing between two starts, when the rate is limited.
    pub fn interval(&self) -> Option<Duration> {
        (self.rpm > 0).then(|| Duration::from_secs(60) / self.rpm)
    }
}

/// Held for the length of one provider call; dropping it frees the slot.
pub struct Permit(Option<Box<dyn FnOnce() + Send + Sync>>);

impl Permit {
    pub fn new(release: impl FnOnce() + Send + Sync + 'static) -> Permit {
        Permit(Some(Box::new(release)))
    }
}

impl Drop for Permit {
    fn drop(&mut self) {
        if let Some(release) = self.0.take() {
            release();
        }
    }
}

impl std::fmt::Debug for Permit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Permit")
    }
}

/// Where the capacity of every provider key is kept.
#[async_trait::async_trait]
pub trait Capacity: Send + Sync + std::fmt::Debug {
    /// Waits until `key` may start one more call within `limits` and is not
    /// paused. Never fails: a store that cannot be reached is retried, so a
    /// call waits (up to its job's deadline) rather than overrunning a cap.
    async fn acquire(&self, key: &LimitKey, limits: Limits) -> Permit;

    /// Holds every new call on `key` for `wait` (a 429's `Retry-After`, or
    /// the reset of an exhausted `x-ratelimit-remaining-requests`). A
    /// shorter pause never shortens a longer one.
    async fn pause(&self, key: &LimitKey, wait: Duration);
}

/// The embedded form: the state of each key in this process.
#[derive(Debug, Default)]
pub struct InProcess {
    keys: Mutex<HashMap<LimitKey, Arc<KeyState>>>,
}

#[derive(Debug, Default)]
struct KeyState {
    /// Set by the first call (a pause may come first and knows no limits).
    caps: OnceLock<Caps>,
    paused_until: Mutex<Option<Instant>>,
}

#[derive(Debug)]
struct Caps {
    rate: Option<DefaultDirectRateLimiter>,
    slots: Option<Arc<Semaphore>>,
}

impl Caps {
    fn new(limits: Limits) -> Caps {
        Caps {
            rate: limits.interval().map(|interval| {
                let quota = Quota::with_period(interval)
                    .expect("a non-zero interval")
                    .allow_burst(NonZeroU32::MIN);
                RateLimiter::direct(quota)
            }),
            slots: (limits.max_concurrent > 0)
                .then(|| Arc::new(Semaphore::new(limits.max_concurrent as usize))),
        }
    }
}

impl KeyState {
    fn paused_until(&self) -> Option<Instant> {
        let until = *self.paused_until.lock().expect("pause lock");
        until.filter(|u| *u > Instant::now())
    }
}

impl InProcess {
    fn state(&self, key: &LimitKey) -> Arc<KeyState> {
        self.keys
            .lock()
            .expect("capacity lock")
            .entry(key.clone())
            .or_default()
            .clone()
    }
}

#[async_trait::async_trait]
impl Capacity for InProcess {
    async fn acquire(&self, key: &LimitKey, limits: Limits) -> Permit {
        let state = self.state(key);
        let caps = state.caps.get_or_init(|| Caps::new(limits));
        loop {
            if let Some(until) = state.paused_until() {
                tokio::time::sleep_until(until).await;
            }
            let slot: Option<OwnedSemaphorePermit> = match &caps.slots {
                // Never closed, so acquiring cannot fail.
                Some(slots) => slots.clone().acquire_owned().await.ok(),
                None => None,
            };
            if let Some(rate) = &caps.rate {
                rate.until_ready().await;
            }
            // A 429 seen while this call waited holds it too.
            if state.paused_until().is_none() {
                return Permit::new(move || drop(slot));
            }
        }
    }

    async fn pause(&self, key: &LimitKey, wait: Duration) {
        let state = self.state(key);
        let mut until = state.paused_until.lock().expect("pause lock");
        let new = Instant::now() + wait;
        if until.is_none_or(|u| u < new) {
            *until = Some(new);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    fn key() -> LimitKey {
        LimitKey {
            provider: "openai",
            key_digest: "k1".to_owned(),
        }
    }

    #[tokio::test]
    async fn starts_are_spaced_by_the_rate() {
        let capacity = InProcess::default();
        let limits = Limits {
            rpm: 600,
            max_concurrent: 0,
        };
        // governor keeps real time, so this test waits for real.
        let started = std::time::Instant::now();
        for _ in 0..5 {
            drop(capacity.acquire(&key(), limits).await);
        }
        // Five starts at 600 a minute: the first at once, then every 100 ms.
        let elapsed = started.elapsed();
        assert!(elapsed >= Duration::from_millis(400), "{elapsed:?}");
    }

    #[tokio::test]
    async fn no_more_than_max_concurrent_are_open() {
        let capacity = Arc::new(InProcess::default());
        let limits = Limits {
            rpm: 0,
            max_concurrent: 3,
        };
        let open = Arc::new(AtomicUsize::new(0));
        let most = Arc::new(AtomicUsize::new(0));
        let calls = (0..12).map(|_| {
            let (capacity, open, most) = (capacity.clone(), open.clone(), most.clone());
            tokio::spawn(async move {
                let _permit = capacity.acquire(&key(), limits).await;
                most.fetch_max(open.fetch_add(1, Ordering::SeqCst) + 1, Ordering::SeqCst);
                tokio::time::sleep(Duration::from_millis(20)).await;
                open.fetch_sub(1, Ordering::SeqCst);
            })
        });
        for call in futures_join(calls).await {
            call.expect("call task");
        }
        assert_eq!(most.load(Ordering::SeqCst), 3);
    }

    #[tokio::test]
    async fn a_pause_holds_new_calls_and_a_shorter_one_does_not_shorten_it() {
        let capacity = InProcess::default();
        capacity.pause(&key(), Duration::from_millis(600)).await;
        capacity.pause(&key(), Duration::from_millis(10)).await;
        let started = tokio::time::Instant::now();
        drop(capacity.acquire(&key(), Limits::default()).await);
        assert!(started.elapsed() >= Duration::from_millis(590));
        // Another key is not paused.
        let other = LimitKey {
            provider: "openai",
            key_digest: "k2".to_owned(),
        };
        let started = tokio::time::Instant::now();
        drop(capacity.acquire(&other, Limits::default()).await);
        assert!(started.elapsed() < Duration::from_millis(500));
    }

    async fn futures_join<T>(
        tasks: impl Iterator<Item = tokio::task::JoinHandle<T>>,
    ) -> Vec<Result<T, tokio::task::JoinError>> {
        let mut out = Vec::new();
        for task in tasks.collect::<Vec<_>>() {
            out.push(task.await);
        }
        out
    }
}
