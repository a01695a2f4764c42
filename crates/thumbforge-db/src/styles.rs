//! Style presets, org-scoped: another org's id is simply not found.

use sea_orm::{ColumnTrait, EntityTrait, IntoActiveModel, QueryFilter, QueryOrder, QuerySelect};
use thumbforge_core::StyleSpec;

use crate::{Db, DbError, entities::styles, now_ms};

pub use styles::Model as Style;

impl Style {
    pub fn spec(&self) -> Result<StyleSpec, DbError> {
        serde_json::from_str(&self.spec).map_err(|e| DbError::Corrupt(e.to_string()))
    }
}

pub async fn create(db: &Db, org_id: &str, spec: &StyleSpec) -> Result<Style, DbError> {
    let style = Style {
        id: format!("sty_{}", thumbforge_core::ids::random_token(20)),
        org_id: org_id.to_owned(),
        name: spec.name.clone(),
        spec: serde_json::to_string(spec).map_err(|e| DbError::Corrupt(e.to_string()))?,
        created_at: now_ms(),
    };
    styles::Entity::insert(style.clone().into_active_model())
        .exec_without_returning(db.conn())
        .await?;
    Ok(style)
}

pub async fn find_for_org(db: &Db, org_id: &str, id: &str) -> Result<Option<Style>, DbError> {
    Ok(styles::Entity::find_by_id(id.to_owned())
        .filter(styles::Column::OrgId.eq(org_id))
        .one(db.conn())
        .await?)
}

pub async fn list_for_org(db: &Db, org_id: &str, limit: u64) -> Result<Vec<Style>, DbError> {
    Ok(styles::Entity::find()
        .filter(styles::Column::OrgId.eq(org_id))
        .order_by_desc(styles::Column::CreatedAt)
        .limit(limit)
        .all(db.conn())
        .await?)
}

/// True when the org had such a style.
pub async fn delete_for_org(db: &Db, org_id: &str, id: &str) -> Result<bool, DbError> {
    Ok(styles::Entity::delete_many()
        .filter(styles::Column::Id.eq(id))
        .filter(styles::Column::OrgId.eq(org_id))
        .exec(db.conn())
        .await?
        .rows_affected
        > 0)
}
