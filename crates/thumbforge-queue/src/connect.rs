//! Connections to Redis: one address (`redis://`, `rediss://`), or the
//! primary that Redis Sentinel names (`redis+sentinel://`), found again
//! after a failover.
//!
//! `redis+sentinel://[:PASSWORD@]HOST:PORT[,HOST:PORT...]/PRIMARY_NAME[/DB]`
//! lists the Sentinels and the name they monitor; the password and db are
//! the primary's (the Sentinels themselves take none). Every connection,
//! to a Sentinel or a primary, finds a dead peer within [`DEAD_PEER`].
//!
//! [`RedisConn`] is the shared handle every component sends commands
//! through. On an error that says the primary may have moved (the
//! connection dropped or was refused, a timeout, or `READONLY` from a
//! demoted primary), it asks the Sentinels where the primary is now and,
//! when it moved, connects there. The command that failed still fails;
//! its caller's retry reaches the new primary.

use std::{
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use arc_swap::ArcSwap;
use redis::{
    Client, Cmd, ErrorKind, IntoConnectionInfo, Pipeline, RedisError, RedisFuture, RedisResult,
    ServerErrorKind, Value,
    aio::{ConnectionLike, ConnectionManager, ConnectionManagerConfig},
    io::tcp::{TcpSettings, socket2::TcpKeepalive},
    sentinel::{SentinelClient, SentinelNodeConnectionInfo, SentinelServerType},
};
use tracing::{info, warn};

/// How long a Redis peer may leave sent data unacknowledged, or go quiet
/// on an idle connection, before the kernel ends the connection. The
/// connection manager then reconnects; without this a connection whose
/// network link went down keeps timing out every command until the
/// kernel's own retransmissions give up, about 15 minutes later.
pub const DEAD_PEER: Duration = Duration::from_secs(15);

/// Fewest seconds between two questions to the Sentinels.
const RESOLVE_EVERY: Duration = Duration::from_secs(1);

const SCHEME: &str = "redis+sentinel://";

fn tcp_settings() -> TcpSettings {
    let keepalive = TcpKeepalive::new()
        .with_time(Duration::from_secs(5))
        .with_interval(Duration::from_secs(2))
        .with_retries(5);
    TcpSettings::default()
        .set_nodelay(true)
        .set_keepalive(keepalive)
        .set_user_timeout(DEAD_PEER)
}

/// A Redis client for one address whose connections find a dead peer
/// within [`DEAD_PEER`]: TCP keepalive probes on idle connections and
/// `TCP_USER_TIMEOUT` on busy ones.
pub fn redis_client(url: &str) -> RedisResult<Client> {
    Client::open(url.into_connection_info()?.set_tcp_settings(tcp_settings()))
}

/// What a `redis+sentinel://` URL says.
#[derive(Debug, Clone, PartialEq, Eq)]
struct SentinelUrl {
    sentinels: Vec<String>,
    primary: String,
    password: Option<String>,
    db: i64,
}

fn invalid(url: &str, why: &str) -> RedisError {
    RedisError::from((
        ErrorKind::InvalidClientConfig,
        "invalid redis+sentinel URL",
        format!("{why}: {}", redact(url)),
    ))
}

/// The URL with its password hidden, for messages.
fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            format!("{}***{}", &url[..scheme + 3], &url[at..])
        }
        _ => url.to_owned(),
    }
}

fn parse_sentinel_url(url: &str) -> RedisResult<SentinelUrl> {
    let rest = url
        .strip_prefix(SCHEME)
        .ok_or_else(|| invalid(url, "expected redis+sentinel://"))?;
    let (auth, rest) = match rest.rsplit_once('@') {
        Some((auth, rest)) => (Some(auth), rest),
        None => (None, rest),
    };
    let password = auth
        .map(|a| a.split_once(':').map_or(a, |(_, password)| password))
        .filter(|p| !p.is_empty())
        .map(|p| {
            percent_decode(p).ok_or_else(|| invalid(url, "the password is not percent-encoded"))
        })
        .transpose()?;
    let (hosts, path) = rest
        .split_once('/')
        .ok_or_else(|| invalid(url, "no primary name after the Sentinels"))?;
    let sentinels: Vec<String> = hosts
        .split(',')
        .filter(|h| !h.is_empty())
        .map(|h| format!("redis://{h}"))
        .collect();
    if sentinels.is_empty() {
        return Err(invalid(url, "no Sentinel addresses"));
    }
    let mut parts = path.trim_end_matches('/').split('/');
    let primary = parts.next().unwrap_or_default().to_owned();
    if primary.is_empty() {
        return Err(invalid(url, "no primary name"));
    }
    let db = match parts.next() {
        Some(db) => db
            .parse()
            .map_err(|_| invalid(url, "the db is not a number"))?,
        None => 0,
    };
    Ok(SentinelUrl {
        sentinels,
        primary,
        password,
        db,
    })
}

fn percent_decode(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// Redis, through a handle that every component clones.
#[derive(Clone)]
pub struct RedisConn {
    shared: Arc<Shared>,
}

struct Shared {
    /// Set for `redis+sentinel://`: asked again when the primary may have
    /// moved.
    sentinel: Option<tokio::sync::Mutex<SentinelClient>>,
    /// The primary's client now (dedicated connections are made from it).
    client: ArcSwap<Client>,
    manager: ArcSwap<ConnectionManager>,
    config: ConnectionManagerConfig,
    last_resolve: Mutex<Option<Instant>>,
}

impl std::fmt::Debug for RedisConn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisConn")
            .field("sentinel", &self.shared.sentinel.is_some())
            .finish()
    }
}

impl RedisConn {
    /// Connects to `url` (`redis://`, `rediss://` or `redis+sentinel://`).
    /// A lazy handle connects on its first command.
    pub async fn open(url: &str, config: ConnectionManagerConfig, lazy: bool) -> RedisResult<Self> {
        let (sentinel, client) = if url.starts_with(SCHEME) {
            let parsed = parse_sentinel_url(url)?;
            let mut redis = redis::RedisConnectionInfo::default().set_db(parsed.db);
            if let Some(password) = &parsed.password {
                redis = redis.set_password(password);
            }
            let node = SentinelNodeConnectionInfo::default()
                .set_redis_connection_info(redis)
                .set_tcp_settings(tcp_settings());
            let sentinels = parsed
                .sentinels
                .iter()
                .map(|s| {
                    Ok(s.as_str()
                        .into_connection_info()?
                        .set_tcp_settings(tcp_settings()))
                })
                .collect::<RedisResult<Vec<_>>>()?;
            let mut sentinel = SentinelClient::build(
                sentinels,
                parsed.primary.clone(),
                Some(node),
                SentinelServerType::Master,
            )?;
            let client = sentinel.async_get_client().await?;
            info!(primary = %parsed.primary, at = %client.get_connection_info().addr(),
                "Redis primary found through Sentinel");
            (Some(tokio::sync::Mutex::new(sentinel)), client)
        } else {
            (None, redis_client(url)?)
        };
        let manager = if lazy {
            ConnectionManager::new_lazy_with_config(client.clone(), config.clone())?
        } else {
            ConnectionManager::new_with_config(client.clone(), config.clone()).await?
        };
        Ok(RedisConn {
            shared: Arc::new(Shared {
                sentinel,
                client: ArcSwap::from_pointee(client),
                manager: ArcSwap::from_pointee(manager),
                config,
                last_resolve: Mutex::new(None),
            }),
        })
    }

    /// The primary's client as last known, for a connection of one's own
    /// (a blocking read).
    pub fn client(&self) -> Client {
        (**self.shared.client.load()).clone()
    }

    /// Whether this handle follows a Sentinel-monitored primary.
    pub fn follows_sentinel(&self) -> bool {
        self.shared.sentinel.is_some()
    }

    /// After `error`: when the primary may have moved, asks the Sentinels
    /// where it is and connects there.
    async fn after_error(&self, error: &RedisError) {
        let moved = error.is_io_error()
            || error.is_connection_refusal()
            || error.is_connection_dropped()
            || error.is_timeout()
            || matches!(error.kind(), ErrorKind::Server(ServerErrorKind::ReadOnly));
        if moved {
            self.recheck().await;
        }
    }

    /// Asks the Sentinels where the primary is (at most once a second) and
    /// connects there when it moved. Users of [`RedisConn::client`] call
    /// this when their own connection fails.
    pub async fn recheck(&self) {
        let Some(sentinel) = &self.shared.sentinel else {
            return;
        };
        {
            let mut last = self
                .shared
                .last_resolve
                .lock()
                .unwrap_or_else(|e| e.into_inner());
            if last.is_some_and(|at| at.elapsed() < RESOLVE_EVERY) {
                return;
            }
            *last = Some(Instant::now());
        }
        let found = sentinel.lock().await.async_get_client().await;
        let client = match found {
            Ok(client) => client,
            Err(e) => {
                warn!(error = %e, "asking Redis Sentinel for the primary failed");
                return;
            }
        };
        let now = client.get_connection_info().addr().to_string();
        let before = self
            .shared
            .client
            .load()
            .get_connection_info()
            .addr()
            .to_string();
        if now == before {
            return;
        }
        match ConnectionManager::new_lazy_with_config(client.clone(), self.shared.config.clone()) {
            Ok(manager) => {
                self.shared.manager.store(Arc::new(manager));
                self.shared.client.store(Arc::new(client));
                warn!(from = %before, to = %now, "Redis primary moved; following it");
            }
            Err(e) => warn!(error = %e, "connecting to the new Redis primary failed"),
        }
    }
}

impl ConnectionLike for RedisConn {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        Box::pin(async move {
            let mut manager = (**self.shared.manager.load()).clone();
            let result = manager.req_packed_command(cmd).await;
            if let Err(e) = &result {
                self.after_error(e).await;
            }
            result
        })
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        Box::pin(async move {
            let mut manager = (**self.shared.manager.load()).clone();
            let result = manager.req_packed_commands(pipeline, offset, count).await;
            if let Err(e) = &result {
                self.after_error(e).await;
            }
            result
        })
    }

    fn get_db(&self) -> i64 {
        self.shared.manager.load().get_db()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sentinel_urls_name_their_sentinels_primary_password_and_db() {
        let parsed =
            parse_sentinel_url("redis+sentinel://:s%40cret@10.0.0.1:26379,10.0.0.2:26380/main/2")
                .expect("parses");
        assert_eq!(
            parsed,
            SentinelUrl {
                sentinels: vec![
                    "redis://10.0.0.1:26379".to_owned(),
                    "redis://10.0.0.2:26380".to_owned()
                ],
                primary: "main".to_owned(),
                password: Some("s@cret".to_owned()),
                db: 2,
            }
        );
        let plain = parse_sentinel_url("redis+sentinel://h:26379/main").expect("parses");
        assert_eq!((plain.password, plain.db), (None, 0));
        for bad in [
            "redis+sentinel://h:26379",
            "redis+sentinel:///main",
            "redis+sentinel://h:26379/",
            "redis+sentinel://h:26379/main/x",
        ] {
            let e = parse_sentinel_url(bad).expect_err(bad);
            assert!(!e.to_string().contains("cret"), "{e}");
        }
        assert_eq!(
            redact("redis+sentinel://:secret@h:1/m"),
            "redis+sentinel://***@h:1/m"
        );
    }
}
