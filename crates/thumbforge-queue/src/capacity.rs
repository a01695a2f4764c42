//! Provider capacity shared by every worker through Redis: one script call
//! decides whether a call may start (the key is not paused, a slot is free,
//! and the GCRA allows it), so workers never overrun a cap between them.
//!
//! * Rate: GCRA with no burst. `{p}:cap:<key>:tat` holds the theoretical
//!   arrival time; a start is allowed once it has passed, and moves it one
//!   interval on. Redis's clock decides, so workers' clocks do not matter.
//! * Calls in flight: a leased semaphore. `{p}:cap:<key>:held` is a sorted
//!   set of holders scored by when their lease ends. Each process renews its
//!   holders' leases; a process killed mid-call stops renewing, and its
//!   slots come free when the lease runs out.
//! * Pause: `{p}:cap:<key>:pause`, set with a TTL by a 429 or an exhausted
//!   `x-ratelimit-remaining-requests`.
//!
//! In a process only the longest waiter of a key asks Redis; the others
//! queue behind it in order, so thousands of waiting calls make a few
//! requests a second, not thousands.

use std::{
    collections::HashMap,
    sync::{
        Arc, LazyLock, Mutex,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};

use redis::Script;

use crate::RedisConn;
use thumbforge_core::capacity::{Capacity, LimitKey, Limits, Permit};
use tokio::sync::Notify;
use tracing::warn;

/// 0: granted. > 0: paused or rate-limited, try again in that many ms.
/// -1: every slot is held.
const ACQUIRE: &str = r#"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local paused = redis.call('PTTL', KEYS[1])
if paused > 0 then return paused end
local interval = tonumber(ARGV[1])
local limit = tonumber(ARGV[2])
local lease = tonumber(ARGV[4])
if limit > 0 then
  redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', now)
  if redis.call('ZCARD', KEYS[3]) >= limit then return -1 end
end
if interval > 0 then
  local tat = tonumber(redis.call('GET', KEYS[2]) or '0')
  if tat > now then return tat - now end
  redis.call('SET', KEYS[2], now + interval, 'PX', interval + 1000)
end
if limit > 0 then
  redis.call('ZADD', KEYS[3], now + lease, ARGV[3])
  redis.call('PEXPIRE', KEYS[3], lease * 2)
end
return 0
"#;

/// Sets the pause unless a longer one is already set.
const PAUSE: &str = r#"
if redis.call('PTTL', KEYS[1]) < tonumber(ARGV[1]) then
  redis.call('SET', KEYS[1], '1', 'PX', ARGV[1])
end
return 0
"#;

/// Renews this process's leases (a holder already expired is added back:
/// its call is still running).
const RENEW: &str = r#"
local t = redis.call('TIME')
local until_ms = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) + tonumber(ARGV[1])
for i = 2, #ARGV do redis.call('ZADD', KEYS[1], until_ms, ARGV[i]) end
redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[1]) * 2)
return 0
"#;

static ACQUIRE_SCRIPT: LazyLock<Script> = LazyLock::new(|| Script::new(ACQUIRE));
static PAUSE_SCRIPT: LazyLock<Script> = LazyLock::new(|| Script::new(PAUSE));
static RENEW_SCRIPT: LazyLock<Script> = LazyLock::new(|| Script::new(RENEW));

/// How long a holder's slot outlives its last renewal.
const DEFAULT_LEASE: Duration = Duration::from_secs(30);
/// Longest wait between two asks while every slot is held (a release in
/// this process wakes the waiter at once).
const FULL_POLL: Duration = Duration::from_millis(200);
const RETRY_AFTER_ERROR: Duration = Duration::from_millis(500);

/// Cheap to clone; clones share the process's holders.
#[derive(Clone)]
pub struct RedisCapacity {
    conn: RedisConn,
    prefix: String,
    /// Names this process's holders.
    process: String,
    lease: Duration,
    next: Arc<AtomicU64>,
    /// Holders with a slot, by their key's `held` set.
    held: Arc<Mutex<HashMap<String, Vec<String>>>>,
    /// Per key: the line of this process's waiters, and a wake-up for the
    /// one at its head when a slot is released here.
    lines: Arc<Mutex<HashMap<LimitKey, Arc<Line>>>>,
}

#[derive(Default)]
struct Line {
    turn: tokio::sync::Mutex<()>,
    released: Notify,
}

impl std::fmt::Debug for RedisCapacity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisCapacity")
            .field("prefix", &self.prefix)
            .field("process", &self.process)
            .finish()
    }
}

impl RedisCapacity {
    /// Capacity kept under `prefix` (hash-tagged like the queue's keys).
    /// Starts the lease renewal, so call it inside a Tokio runtime.
    pub fn new(conn: RedisConn, prefix: &str, process: &str) -> RedisCapacity {
        RedisCapacity::with_lease(conn, prefix, process, DEFAULT_LEASE)
    }

    pub fn with_lease(
        conn: RedisConn,
        prefix: &str,
        process: &str,
        lease: Duration,
    ) -> RedisCapacity {
        let capacity = RedisCapacity {
            conn,
            prefix: prefix.to_owned(),
            process: process.to_owned(),
            lease,
            next: Arc::new(AtomicU64::new(0)),
            held: Arc::default(),
            lines: Arc::default(),
        };
        tokio::spawn(renew(
            capacity.conn.clone(),
            Arc::downgrade(&capacity.held),
            lease,
        ));
        capacity
    }

    fn key(&self, key: &LimitKey, part: &str) -> String {
        format!("{{{}}}:cap:{key}:{part}", self.prefix)
    }

    fn line(&self, key: &LimitKey) -> Arc<Line> {
        self.lines
            .lock()
            .expect("lines lock")
            .entry(key.clone())
            .or_default()
            .clone()
    }

    async fn try_start(
        &self,
        key: &LimitKey,
        limits: Limits,
        holder: &str,
    ) -> Result<i64, redis::RedisError> {
        let interval = limits.interval().map_or(0, |d| d.as_millis().max(1) as u64);
        ACQUIRE_SCRIPT
            .key(self.key(key, "pause"))
            .key(self.key(key, "tat"))
            .key(self.key(key, "held"))
            .arg(interval)
            .arg(limits.max_concurrent)
            .arg(holder)
            .arg(self.lease.as_millis() as u64)
            .invoke_async(&mut self.conn.clone())
            .await
    }
}

#[async_trait::async_trait]
impl Capacity for RedisCapacity {
    async fn acquire(&self, key: &LimitKey, limits: Limits) -> Permit {
        let line = self.line(key);
        let _turn = line.turn.lock().await;
        let holder = format!(
            "{}:{}",
            self.process,
            self.next.fetch_add(1, Ordering::Relaxed)
        );
        loop {
            // Registered before asking, so a release between the answer and
            // the wait is not missed.
            let released = line.released.notified();
            let wait = match self.try_start(key, limits, &holder).await {
                Ok(0) => break,
                Ok(ms) if ms > 0 => Duration::from_millis(ms as u64),
                Ok(_) => FULL_POLL,
                Err(e) => {
                    warn!(error = %e, %key, "provider capacity could not be read; trying again");
                    RETRY_AFTER_ERROR
                }
            };
            tokio::select! {
                () = tokio::time::sleep(wait) => {}
                () = released => {}
            }
        }
        if limits.max_concurrent == 0 {
            return Permit::new(|| {});
        }
        let held_key = self.key(key, "held");
        self.held
            .lock()
            .expect("held lock")
            .entry(held_key.clone())
            .or_default()
            .push(holder.clone());
        let capacity = self.clone();
        let line = line.clone();
        Permit::new(move || {
            if let Some(holders) = capacity.held.lock().expect("held lock").get_mut(&held_key) {
                holders.retain(|h| *h != holder);
            }
            line.released.notify_one();
            let mut conn = capacity.conn.clone();
            // A release that fails leaves the slot to its lease.
            if let Ok(handle) = tokio::runtime::Handle::try_current() {
                handle.spawn(async move {
                    let removed: Result<i64, _> = redis::cmd("ZREM")
                        .arg(&held_key)
                        .arg(&holder)
                        .query_async(&mut conn)
                        .await;
                    if let Err(e) = removed {
                        warn!(error = %e, "releasing a provider slot failed; its lease frees it");
                    }
                });
            }
        })
    }

    async fn pause(&self, key: &LimitKey, wait: Duration) {
        let done: Result<i64, _> = PAUSE_SCRIPT
            .key(self.key(key, "pause"))
            .arg(wait.as_millis().max(1) as u64)
            .invoke_async(&mut self.conn.clone())
            .await;
        if let Err(e) = done {
            warn!(error = %e, %key, "pausing a provider key failed");
        }
    }
}

/// Renews every held lease each third of a lease, until the capacity is
/// dropped.
async fn renew(
    conn: RedisConn,
    held: std::sync::Weak<Mutex<HashMap<String, Vec<String>>>>,
    lease: Duration,
) {
    loop {
        tokio::time::sleep(lease / 3).await;
        let Some(held) = held.upgrade() else { return };
        let batches: Vec<(String, Vec<String>)> = {
            let mut held = held.lock().expect("held lock");
            held.retain(|_, holders| !holders.is_empty());
            held.iter().map(|(k, v)| (k.clone(), v.clone())).collect()
        };
        drop(held);
        for (key, holders) in batches {
            let mut script = RENEW_SCRIPT.key(&key);
            script.arg(lease.as_millis() as u64);
            for holder in &holders {
                script.arg(holder);
            }
            let done: Result<i64, _> = script.invoke_async(&mut conn.clone()).await;
            if let Err(e) = done {
                warn!(error = %e, "renewing provider slots failed; trying again");
            }
        }
    }
}
