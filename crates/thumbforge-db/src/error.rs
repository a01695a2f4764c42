use sea_orm::DbErr;

/// Errors from the database layer.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("database: {0}")]
    Db(#[from] DbErr),
    #[error("stored data is inconsistent: {0}")]
    Corrupt(String),
}

impl DbError {
    /// True when the database could not be reached (as opposed to a bad
    /// query): the API answers 503 and callers may retry.
    pub fn is_unavailable(&self) -> bool {
        matches!(
            self,
            DbError::Db(DbErr::Conn(_) | DbErr::ConnectionAcquire(_))
        )
    }
}
