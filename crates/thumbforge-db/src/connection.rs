//! Connecting, migrating, and the clock every timestamp comes from.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use sea_orm::{
    ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DbBackend, TransactionTrait,
};
use thumbforge_migration::Migrator;
use thumbforge_migration::MigratorTrait;

use crate::DbError;

/// A pooled connection idle this long is pinged before use; a busy one is
/// not (its failure surfaces as the statement's error, and the pool drops
/// it on release).
const PING_IF_IDLE_FOR: Duration = Duration::from_secs(5);

/// Unix milliseconds, the unit every stored timestamp and the API use.
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or_default()
}

#[derive(Debug, Clone)]
pub struct Db {
    conn: DatabaseConnection,
    /// How this pool was opened, for [`Db::dedicated`].
    opened: std::sync::Arc<Opened>,
}

struct Opened {
    url: String,
    acquire_timeout: Duration,
    async_commit: bool,
}

/// Leaves the URL out: it may hold a password.
impl std::fmt::Debug for Opened {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Opened")
            .field("acquire_timeout", &self.acquire_timeout)
            .field("async_commit", &self.async_commit)
            .finish_non_exhaustive()
    }
}

impl Db {
    /// Connects to `sqlite://…` or `postgres://…`. SQLite files are created
    /// when missing and put in WAL mode so readers never wait on the writer.
    pub async fn connect(
        url: &str,
        max_connections: u32,
        acquire_timeout: Duration,
    ) -> Result<Db, DbError> {
        Self::connect_with(url, max_connections, acquire_timeout, false).await
    }

    /// `connect`, and with `async_commit` on PostgreSQL every session runs
    /// with `synchronous_commit = off`: a commit returns before its WAL is
    /// flushed, so a database crash can undo the last moments of writes.
    /// Only for writers whose work is redone anyway (workers: see
    /// `worker.async_commit`); never for the API, whose 2xx promises a
    /// durable commit.
    pub async fn connect_with(
        url: &str,
        max_connections: u32,
        acquire_timeout: Duration,
        async_commit: bool,
    ) -> Result<Db, DbError> {
        install_tls_provider();
        let is_sqlite = url.starts_with("sqlite:");
        let url = if is_sqlite && !url.contains("mode=") && !url.contains(":memory:") {
            let sep = if url.contains('?') { '&' } else { '?' };
            format!("{url}{sep}mode=rwc")
        } else {
            url.to_owned()
        };
        let opened = std::sync::Arc::new(Opened {
            url,
            acquire_timeout,
            async_commit,
        });
        Self::open(opened, max_connections, false).await
    }

    async fn open(
        opened: std::sync::Arc<Opened>,
        max_connections: u32,
        lazy: bool,
    ) -> Result<Db, DbError> {
        let is_sqlite = opened.url.starts_with("sqlite:");
        let mut options = ConnectOptions::new(opened.url.clone());
        options
            .max_connections(max_connections)
            .min_connections(1)
            .acquire_timeout(opened.acquire_timeout)
            .connect_timeout(opened.acquire_timeout)
            // The pool pings a connection before handing it out only after
            // it sat idle (where a restart, proxy or firewall may have
            // dropped it), not on every checkout: the default cost every
            // batch a round trip before its statement (docs/decisions.md).
            .test_before_acquire_if_idle_for(PING_IF_IDLE_FOR)
            .connect_lazy(lazy)
            .sqlx_logging(false);
        if opened.async_commit && !is_sqlite {
            options.map_sqlx_postgres_opts(|opts| opts.options([("synchronous_commit", "off")]));
        }
        if is_sqlite {
            options.map_sqlx_sqlite_opts(|opts| {
                opts.journal_mode(sea_orm::sqlx::sqlite::SqliteJournalMode::Wal)
                    .synchronous(sea_orm::sqlx::sqlite::SqliteSynchronous::Normal)
                    .busy_timeout(Duration::from_secs(10))
                    .foreign_keys(true)
            });
        }
        let conn = Database::connect(options).await?;
        Ok(Db { conn, opened })
    }

    /// A pool of its own, of at most `max_connections`, for one hot
    /// writer. The shared pool hands out its idle connections in turn, so
    /// a writer that runs a statement every millisecond lands on a
    /// different PostgreSQL backend each time, whose caches are cold: a
    /// connection of its own cut PostgreSQL's CPU per submit by about a
    /// quarter (docs/decisions.md, "A connection of its own").
    ///
    /// The pool connects lazily, so this does not fail while the database
    /// is down; its statements do, like the shared pool's. On SQLite this
    /// is the shared pool itself: one file has one writer anyway, and an
    /// in-memory database exists only in its own pool.
    pub async fn dedicated(&self, max_connections: u32) -> Result<Db, DbError> {
        if self.conn.get_database_backend() != DbBackend::Postgres {
            return Ok(self.clone());
        }
        Self::open(self.opened.clone(), max_connections, true).await
    }

    /// Applies pending migrations. On PostgreSQL they run in one
    /// transaction under an advisory lock, so replicas starting together
    /// take turns instead of racing to create the same tables.
    pub async fn migrate(&self) -> Result<(), DbError> {
        if self.conn.get_database_backend() == DbBackend::Postgres {
            let txn = self.conn.begin().await?;
            txn.execute_unprepared("SELECT pg_advisory_xact_lock(72752026)")
                .await?;
            Migrator::up(&txn, None).await?;
            txn.commit().await?;
        } else {
            Migrator::up(&self.conn, None).await?;
        }
        Ok(())
    }

    /// A cheap round trip, for readiness checks.
    pub async fn ping(&self) -> Result<(), DbError> {
        self.conn.execute_unprepared("SELECT 1").await?;
        Ok(())
    }

    pub fn conn(&self) -> &DatabaseConnection {
        &self.conn
    }

    pub async fn close(self) -> Result<(), DbError> {
        self.conn.close().await?;
        Ok(())
    }
}

/// sqlx's TLS asks rustls for the process's default crypto provider, which
/// rustls cannot choose on its own when, as here, both of its providers
/// are compiled in (reqwest brings aws-lc-rs, sqlx ring): without one
/// installed, a PostgreSQL connection with `sslmode` other than `disable`
/// panicked in the handshake. Installs ring, sqlx's own, once per process;
/// a provider installed earlier stays.
fn install_tls_provider() {
    static INSTALLED: std::sync::Once = std::sync::Once::new();
    INSTALLED.call_once(|| {
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
}
