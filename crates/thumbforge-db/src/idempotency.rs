//! `Idempotency-Key` on generate: a retried request with the same key and
//! the same parameters gets the original generation back; the same key with
//! different parameters is refused. Keys are per organisation and remembered
//! for [`TTL_MS`].

use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, Statement,
    sea_query::{Expr, ExprTrait, Order, Query},
};

use crate::{Db, DbError, entities::idempotency_keys, now_ms};

/// How long a key is remembered.
pub const TTL_MS: i64 = 24 * 3600 * 1000;

/// What a key already stands for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Remembered {
    pub request_hash: String,
    pub generation_id: String,
    /// When the key was claimed (ms).
    pub created_at: i64,
}

/// Claims `key` for a new generation. `Ok(None)`: claimed, go ahead.
/// `Ok(Some(_))`: the key is taken (by an earlier request, or a concurrent
/// one) and stands for that generation. An expired claim is taken over.
pub async fn claim(
    db: &Db,
    org_id: &str,
    key: &str,
    request_hash: &str,
    generation_id: &str,
) -> Result<Option<Remembered>, DbError> {
    let now = now_ms();
    let backend = db.conn().get_database_backend();
    let (sql, values) = match backend {
        sea_orm::DbBackend::Postgres => (
            "INSERT INTO idempotency_keys (org_id, key, request_hash, generation_id, created_at) \
             VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT (org_id, key) DO UPDATE SET request_hash = EXCLUDED.request_hash, \
             generation_id = EXCLUDED.generation_id, created_at = EXCLUDED.created_at \
             WHERE idempotency_keys.created_at < $6",
            vec![
                org_id.into(),
                key.into(),
                request_hash.into(),
                generation_id.into(),
                now.into(),
                (now - TTL_MS).into(),
            ],
        ),
        _ => (
            "INSERT INTO idempotency_keys (org_id, key, request_hash, generation_id, created_at) \
             VALUES (?, ?, ?, ?, ?) \
             ON CONFLICT (org_id, key) DO UPDATE SET request_hash = excluded.request_hash, \
             generation_id = excluded.generation_id, created_at = excluded.created_at \
             WHERE idempotency_keys.created_at < ?",
            vec![
                org_id.into(),
                key.into(),
                request_hash.into(),
                generation_id.into(),
                now.into(),
                (now - TTL_MS).into(),
            ],
        ),
    };
    let applied = db
        .conn()
        .execute_raw(Statement::from_sql_and_values(backend, sql, values))
        .await?
        .rows_affected()
        == 1;
    if applied {
        return Ok(None);
    }
    let existing = idempotency_keys::Entity::find_by_id((org_id.to_owned(), key.to_owned()))
        .one(db.conn())
        .await?
        .ok_or_else(|| DbError::Vanished("the idempotency key".to_owned()))?;
    Ok(Some(Remembered {
        request_hash: existing.request_hash,
        generation_id: existing.generation_id,
        created_at: existing.created_at,
    }))
}

/// Frees a key whose generation was never stored (refused or failed), so a
/// retry can use it.
pub async fn release(db: &Db, org_id: &str, key: &str, generation_id: &str) -> Result<(), DbError> {
    idempotency_keys::Entity::delete_many()
        .filter(idempotency_keys::Column::OrgId.eq(org_id))
        .filter(idempotency_keys::Column::Key.eq(key))
        .filter(idempotency_keys::Column::GenerationId.eq(generation_id))
        .exec(db.conn())
        .await?;
    Ok(())
}

/// Forgets up to `limit` keys older than the TTL, oldest first (a claim
/// already treats them as free), and returns how many. The sweeper's
/// retention pass calls this: with retention of a day or more, every key
/// of a generation it deletes is past the TTL.
pub async fn expire(db: &Db, limit: u64) -> Result<u64, DbError> {
    let oldest = Query::select()
        .columns([
            idempotency_keys::Column::OrgId,
            idempotency_keys::Column::Key,
        ])
        .from(idempotency_keys::Entity)
        .and_where(idempotency_keys::Column::CreatedAt.lt(now_ms() - TTL_MS))
        .order_by(idempotency_keys::Column::CreatedAt, Order::Asc)
        .limit(limit)
        .to_owned();
    Ok(idempotency_keys::Entity::delete_many()
        .filter(
            Expr::tuple([
                Expr::col(idempotency_keys::Column::OrgId),
                Expr::col(idempotency_keys::Column::Key),
            ])
            .in_subquery(oldest),
        )
        .exec(db.conn())
        .await?
        .rows_affected)
}
