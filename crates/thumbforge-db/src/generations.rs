//! Generations and the thumbnails created with them.

use sea_orm::{
    ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, QueryOrder, Set, TransactionTrait,
    sea_query::Expr,
};
use thumbforge_core::{
    GenerateRequest, GenerationId, GenerationStatus, ModelId, Plan, ThumbnailId, ThumbnailStatus,
};

use crate::{
    Db, DbError,
    entities::{generations, thumbnails},
    now_ms,
};

/// A generation with its thumbnails in order.
#[derive(Debug, Clone)]
pub struct GenerationView {
    pub generation: generations::Model,
    pub thumbnails: Vec<thumbnails::Model>,
}

/// Inserts a generation and one processing thumbnail per variation in one
/// transaction, so a 2xx answer always means everything is committed.
pub async fn create(
    db: &Db,
    org_id: &str,
    plan: Plan,
    model: ModelId,
    request: &GenerateRequest,
) -> Result<GenerationView, DbError> {
    let now = now_ms();
    let generation = generations::ActiveModel {
        id: Set(GenerationId::new().into_string()),
        org_id: Set(org_id.to_owned()),
        prompt: Set(request.prompt.as_str().to_owned()),
        model: Set(model.as_str().to_owned()),
        count: Set(i32::from(request.count.get())),
        aspect_ratio: Set(request.aspect_ratio.as_str().to_owned()),
        person_ids: Set(json_list(request.person_ids.as_slice())),
        inspiration_ids: Set(json_list(request.inspiration_ids.as_slice())),
        status: Set(GenerationStatus::Processing.as_str().to_owned()),
        created_at: Set(now),
        updated_at: Set(now),
        completed_at: Set(None),
    };
    let txn = db.conn().begin().await?;
    let generation = generation.insert(&txn).await?;
    let mut thumbs = Vec::with_capacity(request.count.get().into());
    for idx in 0..request.count.get() {
        let thumb = thumbnails::ActiveModel {
            id: Set(ThumbnailId::new().into_string()),
            generation_id: Set(generation.id.clone()),
            org_id: Set(org_id.to_owned()),
            idx: Set(i32::from(idx)),
            status: Set(ThumbnailStatus::Processing.as_str().to_owned()),
            error: Set(None),
            is_watermarked: Set(plan.watermarks()),
            is_hidden: Set(false),
            storage_key: Set(None),
            watermarked_key: Set(None),
            file_size_bytes: Set(None),
            width: Set(None),
            height: Set(None),
            generation_time_ms: Set(None),
            attempts: Set(0),
            created_at: Set(now),
            started_at: Set(None),
            completed_at: Set(None),
            enqueued_at: Set(None),
            lease_expires_at: Set(None),
        };
        thumbs.push(thumb.insert(&txn).await?);
    }
    txn.commit().await?;
    Ok(GenerationView {
        generation,
        thumbnails: thumbs,
    })
}

fn json_list(ids: &[String]) -> String {
    serde_json::to_string(ids).unwrap_or_else(|_| "[]".to_owned())
}

/// A generation as its org sees it; another org's id is simply not found.
pub async fn find_for_org(
    db: &Db,
    org_id: &str,
    id: &str,
) -> Result<Option<GenerationView>, DbError> {
    let Some(generation) = generations::Entity::find_by_id(id.to_owned())
        .filter(generations::Column::OrgId.eq(org_id))
        .one(db.conn())
        .await?
    else {
        return Ok(None);
    };
    let thumbnails = thumbnails::Entity::find()
        .filter(thumbnails::Column::GenerationId.eq(id))
        .order_by_asc(thumbnails::Column::Idx)
        .all(db.conn())
        .await?;
    Ok(Some(GenerationView {
        generation,
        thumbnails,
    }))
}

/// Re-derives a generation's status from its thumbnails and stores it when
/// it became terminal. Safe to call any number of times from any process:
/// terminal thumbnail states are final, so every caller that sees them all
/// terminal computes the same answer, and the write only applies while the
/// row still says `processing`.
pub async fn refresh_status(db: &Db, generation_id: &str) -> Result<GenerationStatus, DbError> {
    let statuses = thumbnails::Entity::find()
        .filter(thumbnails::Column::GenerationId.eq(generation_id))
        .all(db.conn())
        .await?
        .into_iter()
        .map(|t| {
            t.status
                .parse::<ThumbnailStatus>()
                .map_err(DbError::Corrupt)
        })
        .collect::<Result<Vec<_>, _>>()?;
    let derived = GenerationStatus::derive(statuses);
    if derived.is_terminal() {
        let now = now_ms();
        generations::Entity::update_many()
            .col_expr(generations::Column::Status, Expr::value(derived.as_str()))
            .col_expr(generations::Column::UpdatedAt, Expr::value(now))
            .col_expr(generations::Column::CompletedAt, Expr::value(now))
            .filter(generations::Column::Id.eq(generation_id))
            .filter(generations::Column::Status.eq(GenerationStatus::Processing.as_str()))
            .exec(db.conn())
            .await?;
    }
    Ok(derived)
}

/// Processing generations none of whose thumbnails is still processing: a
/// worker died between finishing the last thumbnail and refreshing the
/// generation. The sweeper refreshes these.
pub async fn settled_but_processing(db: &Db, limit: u64) -> Result<Vec<String>, DbError> {
    use sea_orm::{QuerySelect, sea_query::Query};
    let still_running = Query::select()
        .column(thumbnails::Column::GenerationId)
        .from(thumbnails::Entity)
        .and_where(thumbnails::Column::Status.eq(ThumbnailStatus::Processing.as_str()))
        .to_owned();
    Ok(generations::Entity::find()
        .filter(generations::Column::Status.eq(GenerationStatus::Processing.as_str()))
        .filter(generations::Column::Id.not_in_subquery(still_running))
        .limit(limit)
        .all(db.conn())
        .await?
        .into_iter()
        .map(|g| g.id)
        .collect())
}

/// A generation's stored status, whatever its organisation (operators,
/// drills).
pub async fn status_of(db: &Db, generation_id: &str) -> Result<Option<String>, DbError> {
    Ok(generations::Entity::find_by_id(generation_id.to_owned())
        .one(db.conn())
        .await?
        .map(|g| g.status))
}
