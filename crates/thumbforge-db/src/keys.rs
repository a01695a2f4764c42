//! API keys: random, shown once, stored as a SHA-256 hash. A fast hash is
//! right here (unlike passwords): keys carry ~238 bits of entropy, so there
//! is nothing to brute-force, and every request verifies one.

use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, Set};
use sha2::{Digest, Sha256};
use thumbforge_core::{ApiKeyId, Plan, ids::new_api_key};

use crate::{
    Db, DbError,
    entities::{api_keys, organizations},
    now_ms,
};

pub const DEFAULT_SCOPES: &str = "thumbnail_generator";

/// Who is calling: the result of authenticating a key.
#[derive(Debug, Clone)]
pub struct Caller {
    pub org_id: String,
    pub plan: Plan,
    pub key_id: String,
    pub scopes: Vec<String>,
    /// The org has a credit balance (generate calls are debited).
    pub metered: bool,
}

pub fn hash_key(plain: &str) -> String {
    hex::encode(key_digest(plain))
}

/// The raw SHA-256 of a key, for in-memory lookups.
pub fn key_digest(plain: &str) -> [u8; 32] {
    Sha256::digest(plain.as_bytes()).into()
}

/// Creates a key for `org_id` and returns it in plain text; it cannot be
/// recovered later.
pub async fn create(db: &Db, org_id: &str, scopes: &str) -> Result<String, DbError> {
    let plain = new_api_key();
    api_keys::ActiveModel {
        id: Set(ApiKeyId::new().into_string()),
        org_id: Set(org_id.to_owned()),
        key_hash: Set(hash_key(&plain)),
        key_prefix: Set(plain.chars().take(8).collect()),
        scopes: Set(scopes.to_owned()),
        created_at: Set(now_ms()),
        revoked_at: Set(None),
    }
    .insert(db.conn())
    .await?;
    Ok(plain)
}

pub async fn authenticate(db: &Db, plain: &str) -> Result<Option<Caller>, DbError> {
    let Some(key) = api_keys::Entity::find()
        .filter(api_keys::Column::KeyHash.eq(hash_key(plain)))
        .filter(api_keys::Column::RevokedAt.is_null())
        .one(db.conn())
        .await?
    else {
        return Ok(None);
    };
    let Some(org) = organizations::Entity::find_by_id(key.org_id.clone())
        .one(db.conn())
        .await?
    else {
        return Ok(None);
    };
    Ok(Some(Caller {
        plan: org.plan.parse().map_err(DbError::Corrupt)?,
        org_id: org.id,
        key_id: key.id,
        scopes: key.scopes.split_whitespace().map(str::to_owned).collect(),
        metered: org.credits_balance.is_some(),
    }))
}

/// The org's keys, newest first (hashes and prefixes only; never the key).
pub async fn list(db: &Db, org_id: &str) -> Result<Vec<api_keys::Model>, DbError> {
    use sea_orm::QueryOrder;
    Ok(api_keys::Entity::find()
        .filter(api_keys::Column::OrgId.eq(org_id))
        .order_by_desc(api_keys::Column::CreatedAt)
        .all(db.conn())
        .await?)
}

/// Revokes the org's key with this id; false when there is no such live key.
pub async fn revoke(db: &Db, org_id: &str, key_id: &str) -> Result<bool, DbError> {
    use sea_orm::sea_query::Expr;
    let result = api_keys::Entity::update_many()
        .col_expr(api_keys::Column::RevokedAt, Expr::value(now_ms()))
        .filter(api_keys::Column::OrgId.eq(org_id))
        .filter(api_keys::Column::Id.eq(key_id))
        .filter(api_keys::Column::RevokedAt.is_null())
        .exec(db.conn())
        .await?;
    Ok(result.rows_affected == 1)
}
