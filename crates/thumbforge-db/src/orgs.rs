//! Organisations: the unit that owns keys, generations and a plan.

use sea_orm::{
    ActiveModelTrait, ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, Set, sea_query::Expr,
};
use thumbforge_core::{OrgId, Plan};

use crate::{
    Db, DbError,
    entities::organizations::{self, Entity as Organizations},
    now_ms,
};

#[derive(Debug, Clone)]
pub struct Org {
    pub id: String,
    pub slug: String,
    pub plan: Plan,
}

fn to_org(m: organizations::Model) -> Result<Org, DbError> {
    Ok(Org {
        plan: m.plan.parse().map_err(DbError::Corrupt)?,
        id: m.id,
        slug: m.slug,
    })
}

pub async fn find_by_slug(db: &Db, slug: &str) -> Result<Option<Org>, DbError> {
    Organizations::find()
        .filter(organizations::Column::Slug.eq(slug))
        .one(db.conn())
        .await?
        .map(to_org)
        .transpose()
}

/// Returns the org with this slug, creating it with `plan` when missing.
/// An existing org keeps its plan unless `plan` is given explicitly.
pub async fn ensure(db: &Db, slug: &str, plan: Option<Plan>) -> Result<Org, DbError> {
    if let Some(existing) = find_by_slug(db, slug).await? {
        if let Some(plan) = plan.filter(|p| *p != existing.plan) {
            Organizations::update_many()
                .col_expr(organizations::Column::Plan, Expr::value(plan.as_str()))
                .filter(organizations::Column::Id.eq(existing.id.as_str()))
                .exec(db.conn())
                .await?;
            return Ok(Org { plan, ..existing });
        }
        return Ok(existing);
    }
    let plan = plan.unwrap_or(Plan::Free);
    let model = organizations::ActiveModel {
        id: Set(OrgId::new().into_string()),
        slug: Set(slug.to_owned()),
        name: Set(slug.to_owned()),
        plan: Set(plan.as_str().to_owned()),
        created_at: Set(now_ms()),
        credits_balance: Set(None),
        webhook_secret: Set(None),
    };
    match model.insert(db.conn()).await {
        Ok(m) => to_org(m),
        // Two creators raced: the other one's row wins.
        Err(e) => find_by_slug(db, slug).await?.ok_or(DbError::Db(e)),
    }
}

pub async fn count(db: &Db) -> Result<u64, DbError> {
    Ok(Organizations::find().count(db.conn()).await?)
}

/// Bytes of images the org stores: its succeeded thumbnails (as served)
/// and its assets.
pub async fn storage_used(db: &Db, org_id: &str) -> Result<u64, DbError> {
    use sea_orm::ConnectionTrait;
    let backend = db.conn().get_database_backend();
    let sql = "SELECT CAST(COALESCE((SELECT SUM(t.file_size_bytes) FROM thumbnails t \
         JOIN generations g ON g.id = t.generation_id \
         WHERE g.org_id = $1 AND t.status = 'succeeded'), 0) \
         + COALESCE((SELECT SUM(a.size_bytes) FROM assets a WHERE a.org_id = $2), 0) AS BIGINT) AS used";
    let row = db
        .conn()
        .query_one_raw(crate::sql::stmt(
            backend,
            sql,
            vec![org_id.into(), org_id.into()],
        ))
        .await?;
    let used: i64 = match row {
        Some(row) => row.try_get("", "used")?,
        None => 0,
    };
    Ok(used.max(0) as u64)
}
