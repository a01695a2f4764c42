//! Hand-written statements' helpers: placeholders in the backend's
//! spelling, batch padding, and the guard every status write keeps.

use sea_orm::{DbBackend, Statement, Value, sea_query::Expr};

/// A statement written with PostgreSQL's `$n` placeholders, each used once
/// and in order, in the backend's spelling (`?` on SQLite).
pub(crate) fn stmt(backend: DbBackend, pg: &str, values: Vec<Value>) -> Statement {
    let sql = match backend {
        DbBackend::Postgres => pg.to_owned(),
        _ => {
            let mut out = String::with_capacity(pg.len());
            let mut chars = pg.chars().peekable();
            while let Some(c) = chars.next() {
                if c == '$' {
                    while chars.peek().is_some_and(char::is_ascii_digit) {
                        chars.next();
                    }
                    out.push('?');
                } else {
                    out.push(c);
                }
            }
            out
        }
    };
    Statement::from_sql_and_values(backend, sql, values)
}

/// Positional parameters in the backend's spelling (`$n` or `?`).
pub(crate) struct Params {
    backend: DbBackend,
    values: Vec<Value>,
}

impl Params {
    pub(crate) fn new(backend: DbBackend) -> Params {
        Params {
            backend,
            values: Vec::new(),
        }
    }

    pub(crate) fn push(&mut self, value: Value) -> String {
        self.values.push(value);
        match self.backend {
            DbBackend::Postgres => format!("${}", self.values.len()),
            _ => "?".to_owned(),
        }
    }

    /// Runs `sql`, written with these parameters.
    pub(crate) async fn query(
        self,
        db: &crate::Db,
        sql: String,
    ) -> Result<Vec<sea_orm::QueryResult>, sea_orm::DbErr> {
        use sea_orm::ConnectionTrait;
        let statement = Statement::from_sql_and_values(self.backend, sql, self.values);
        db.conn().query_all_raw(statement).await
    }

    /// A row of a `VALUES` list.
    pub(crate) fn row(&mut self, values: impl IntoIterator<Item = Value>) -> String {
        let row: Vec<String> = values.into_iter().map(|v| self.push(v)).collect();
        format!("({})", row.join(", "))
    }
}

/// `items` with the last one repeated up to the next power of two. A batch
/// of any size then uses one of seven statement texts, so the driver's
/// per-connection cache of prepared statements keeps them all instead of
/// re-parsing a new text per size. Repeats are harmless: an id twice in
/// `IN (…)` or in the values matches its row once, with the same values.
pub(crate) fn padded<T: Clone>(items: &[T]) -> Vec<T> {
    let mut out = items.to_vec();
    if let Some(last) = items.last() {
        out.resize(items.len().next_power_of_two(), last.clone());
    }
    out
}

/// The guard every hot-path write keeps (only `processing` rows change),
/// written so no planner can answer it from a status index. Batches find
/// their rows by primary key; with the plain `status = 'processing'`,
/// PostgreSQL ANDed in a bitmap scan of every processing row whenever its
/// statistics thought few were processing — stale statistics during a
/// backlog made each claim scan tens of thousands of index entries (10 ms
/// per batch, measured).
pub(crate) fn still_processing_sql(table: &str) -> String {
    format!("\"{table}\".\"status\" || '' = 'processing'")
}

pub(crate) fn still_processing(table: &str) -> sea_orm::sea_query::SimpleExpr {
    Expr::cust(still_processing_sql(table))
}

#[cfg(test)]
mod tests {
    use super::*;
    use thumbforge_core::{GenerationStatus, ThumbnailStatus};

    #[test]
    fn batches_pad_to_powers_of_two() {
        assert_eq!(padded::<u8>(&[]), Vec::<u8>::new());
        assert_eq!(padded(&[1]), vec![1]);
        assert_eq!(padded(&[1, 2, 3]), vec![1, 2, 3, 3]);
        assert_eq!(padded(&[1, 2, 3, 4, 5]).len(), 8);
    }

    #[test]
    fn the_guard_names_the_processing_status_of_both_tables() {
        assert_eq!(ThumbnailStatus::Processing.as_str(), "processing");
        assert_eq!(GenerationStatus::Processing.as_str(), "processing");
        assert_eq!(
            still_processing_sql("thumbnails"),
            r#""thumbnails"."status" || '' = 'processing'"#
        );
    }

    #[test]
    fn placeholders_follow_the_backend() {
        let s = stmt(DbBackend::Sqlite, "SELECT $1, $2", vec![1.into(), 2.into()]);
        assert_eq!(s.sql, "SELECT ?, ?");
    }
}
