//! Organisations' own provider keys (bring your own key), sealed at rest.

use sea_orm::{
    ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter, QueryOrder, sea_query::OnConflict,
};
use thumbforge_core::ProviderKind;

use crate::{
    Db, DbError,
    crypto::{OpenError, Sealer},
    entities::provider_keys,
    now_ms,
};

/// The associated data a key is sealed with: the row's identity.
fn context(org_id: &str, provider: &str) -> String {
    format!("{org_id}/{provider}")
}

/// Stores (or replaces) the org's key for `provider`.
pub async fn set(
    db: &Db,
    sealer: &Sealer,
    org_id: &str,
    provider: ProviderKind,
    key: &str,
) -> Result<(), DbError> {
    let now = now_ms();
    let row = provider_keys::ActiveModel {
        org_id: Set(org_id.to_owned()),
        provider: Set(provider.as_str().to_owned()),
        sealed: Set(sealer.seal(key, &context(org_id, provider.as_str()))),
        created_at: Set(now),
        updated_at: Set(now),
    };
    provider_keys::Entity::insert(row)
        .on_conflict(
            OnConflict::columns([
                provider_keys::Column::OrgId,
                provider_keys::Column::Provider,
            ])
            .update_columns([
                provider_keys::Column::Sealed,
                provider_keys::Column::UpdatedAt,
            ])
            .to_owned(),
        )
        .exec_without_returning(db.conn())
        .await?;
    Ok(())
}

/// Whether the org has a key for `provider` (no decryption).
pub async fn exists(db: &Db, org_id: &str, provider: ProviderKind) -> Result<bool, DbError> {
    Ok(
        provider_keys::Entity::find_by_id((org_id.to_owned(), provider.as_str().to_owned()))
            .one(db.conn())
            .await?
            .is_some(),
    )
}

/// The org's key for `provider`, opened. `Ok(None)` when there is none;
/// `Err(Right(_))` when it cannot be opened with this server's secret.
pub async fn get(
    db: &Db,
    sealer: &Sealer,
    org_id: &str,
    provider: ProviderKind,
) -> Result<Option<Result<String, OpenError>>, DbError> {
    let row = provider_keys::Entity::find_by_id((org_id.to_owned(), provider.as_str().to_owned()))
        .one(db.conn())
        .await?;
    Ok(row.map(|r| sealer.open(&r.sealed, &context(org_id, provider.as_str()))))
}

/// Which providers the org has keys for, with when they were set. Never
/// the keys.
pub async fn list(db: &Db, org_id: &str) -> Result<Vec<provider_keys::Model>, DbError> {
    Ok(provider_keys::Entity::find()
        .filter(provider_keys::Column::OrgId.eq(org_id))
        .order_by_asc(provider_keys::Column::Provider)
        .all(db.conn())
        .await?)
}

/// Removes the org's key for `provider`; true when one existed.
pub async fn delete(db: &Db, org_id: &str, provider: ProviderKind) -> Result<bool, DbError> {
    let result =
        provider_keys::Entity::delete_by_id((org_id.to_owned(), provider.as_str().to_owned()))
            .exec(db.conn())
            .await?;
    Ok(result.rows_affected > 0)
}

/// Seals every stored key again under the current secret (after a secret
/// rotation; the sealer must know the previous one).
pub async fn reseal(db: &Db, sealer: &Sealer) -> Result<crate::crypto::Resealed, DbError> {
    use sea_orm::{ActiveModelTrait, IntoActiveModel};
    let mut report = crate::crypto::Resealed::default();
    for row in provider_keys::Entity::find().all(db.conn()).await? {
        let context = context(&row.org_id, &row.provider);
        if let Some(sealed) = report.step(sealer, &row.sealed, &context) {
            let mut active = row.into_active_model();
            active.sealed = Set(sealed);
            active.update(db.conn()).await?;
        }
    }
    Ok(report)
}
