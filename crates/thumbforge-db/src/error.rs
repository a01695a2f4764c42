use sea_orm::DbErr;

/// Errors from the database layer.
#[derive(Debug, Clone, thiserror::Error)]
pub enum DbError {
    #[error("database: {0}")]
    Db(#[from] DbErr),
    /// A stored value that does not parse (a plan, a JSON column).
    #[error("stored data is inconsistent: {0}")]
    Corrupt(String),
    /// A row this call relies on vanished while it ran.
    #[error("{0} vanished")]
    Vanished(String),
    /// A batching stage of this process stopped (it is shutting down).
    #[error("{0} stopped")]
    Stopped(&'static str),
}

impl DbError {
    /// True when the database could not be reached (as opposed to a bad
    /// query): the API answers 503 and callers may retry.
    pub fn is_unavailable(&self) -> bool {
        use sea_orm::{RuntimeErr, sqlx::Error as Sqlx};
        let runtime = match self {
            DbError::Db(DbErr::ConnectionAcquire(_)) => return true,
            DbError::Db(DbErr::Conn(e) | DbErr::Exec(e) | DbErr::Query(e)) => e,
            _ => return false,
        };
        match runtime {
            RuntimeErr::SqlxError(e) => match e.as_ref() {
                Sqlx::Io(_)
                | Sqlx::Tls(_)
                | Sqlx::PoolTimedOut
                | Sqlx::PoolClosed
                | Sqlx::WorkerCrashed
                | Sqlx::Protocol(_) => true,
                Sqlx::Database(db) => db.code().is_some_and(|c| is_outage_code(&c)),
                _ => false,
            },
            RuntimeErr::Internal(_) => matches!(self, DbError::Db(DbErr::Conn(_))),
            #[allow(unreachable_patterns)]
            _ => false,
        }
    }
}

/// SQLSTATE classes 08 (connection), 53 (resources) and 57 (operator
/// intervention: shutdown, restart) mean the database cannot serve now.
pub(crate) fn is_outage_code(code: &str) -> bool {
    ["08", "53", "57"]
        .iter()
        .any(|class| code.starts_with(class))
}
