//! Reference images uploaded by an organisation. Org-scoped: another org's
//! id is simply not found.

use sea_orm::{
    ColumnTrait, EntityTrait, IntoActiveModel, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect,
};

use crate::{Db, DbError, entities::assets};

pub use assets::Model as Asset;

pub async fn insert(db: &Db, asset: &Asset) -> Result<(), DbError> {
    assets::Entity::insert(asset.clone().into_active_model())
        .exec_without_returning(db.conn())
        .await?;
    Ok(())
}

pub async fn find_for_org(db: &Db, org_id: &str, id: &str) -> Result<Option<Asset>, DbError> {
    Ok(assets::Entity::find_by_id(id.to_owned())
        .filter(assets::Column::OrgId.eq(org_id))
        .one(db.conn())
        .await?)
}

/// The org's assets among `ids`, in no particular order.
pub async fn find_many_for_org(
    db: &Db,
    org_id: &str,
    ids: &[String],
) -> Result<Vec<Asset>, DbError> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    Ok(assets::Entity::find()
        .filter(assets::Column::OrgId.eq(org_id))
        .filter(assets::Column::Id.is_in(ids.iter().cloned()))
        .all(db.conn())
        .await?)
}

/// Newest first; `kind` filters; `before` (a `created_at`) pages.
pub async fn list_for_org(
    db: &Db,
    org_id: &str,
    kind: Option<&str>,
    before: Option<i64>,
    limit: u64,
) -> Result<Vec<Asset>, DbError> {
    let mut query = assets::Entity::find().filter(assets::Column::OrgId.eq(org_id));
    if let Some(kind) = kind {
        query = query.filter(assets::Column::Kind.eq(kind));
    }
    if let Some(before) = before {
        query = query.filter(assets::Column::CreatedAt.lt(before));
    }
    Ok(query
        .order_by_desc(assets::Column::CreatedAt)
        .order_by_desc(assets::Column::Id)
        .limit(limit)
        .all(db.conn())
        .await?)
}

pub async fn count_for_org(db: &Db, org_id: &str) -> Result<u64, DbError> {
    Ok(assets::Entity::find()
        .filter(assets::Column::OrgId.eq(org_id))
        .count(db.conn())
        .await?)
}

/// Deletes the org's asset; returns it so the caller can remove its file.
pub async fn delete_for_org(db: &Db, org_id: &str, id: &str) -> Result<Option<Asset>, DbError> {
    let Some(asset) = find_for_org(db, org_id, id).await? else {
        return Ok(None);
    };
    assets::Entity::delete_by_id(id.to_owned())
        .filter(assets::Column::OrgId.eq(org_id))
        .exec(db.conn())
        .await?;
    Ok(Some(asset))
}
