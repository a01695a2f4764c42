//! Generations and the thumbnails created with them.

use sea_orm::{
    ColumnTrait, ConnectionTrait, DbBackend, EntityTrait, IntoActiveModel, QueryFilter, QueryOrder,
    QueryTrait, Set, Statement, TransactionTrait, TryIntoModel, sea_query::Expr,
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
    let generation = generation.try_into_model()?;
    let thumbs: Vec<thumbnails::Model> = (0..request.count.get())
        .map(|idx| thumbnails::Model {
            id: ThumbnailId::new().into_string(),
            generation_id: generation.id.clone(),
            org_id: org_id.to_owned(),
            idx: i32::from(idx),
            status: ThumbnailStatus::Processing.as_str().to_owned(),
            error: None,
            is_watermarked: plan.watermarks(),
            is_hidden: false,
            storage_key: None,
            watermarked_key: None,
            file_size_bytes: None,
            width: None,
            height: None,
            generation_time_ms: None,
            attempts: 0,
            created_at: now,
            started_at: None,
            completed_at: None,
            // Optimistic: the caller pushes right after the commit and
            // clears this if the push fails.
            enqueued_at: Some(now),
            lease_expires_at: None,
        })
        .collect();
    let insert_generation = generations::Entity::insert(generation.clone().into_active_model());
    let insert_thumbnails = thumbnails::Entity::insert_many(
        thumbs
            .iter()
            .cloned()
            .map(IntoActiveModel::into_active_model),
    );
    if db.conn().get_database_backend() == DbBackend::Postgres {
        // One statement, one round trip, one implicit transaction: the
        // thumbnails' foreign key is checked at the end of the statement.
        let backend = DbBackend::Postgres;
        let g = backend.build(insert_generation.as_query());
        let t = backend.build(insert_thumbnails.as_query());
        let mut values = g.values.map(|v| v.0).unwrap_or_default();
        let t_sql = renumber_placeholders(&t.sql, values.len());
        values.extend(t.values.map(|v| v.0).unwrap_or_default());
        let g_sql = g.sql;
        db.conn()
            .execute_raw(Statement::from_sql_and_values(
                backend,
                format!("WITH g AS ({g_sql}) {t_sql}"),
                values,
            ))
            .await?;
    } else {
        let txn = db.conn().begin().await?;
        insert_generation.exec_without_returning(&txn).await?;
        insert_thumbnails.exec_without_returning(&txn).await?;
        txn.commit().await?;
    }
    Ok(GenerationView {
        generation,
        thumbnails: thumbs,
    })
}

/// Shifts `$1, $2, …` by `offset`, to append one statement's placeholders
/// after another's.
fn renumber_placeholders(sql: &str, offset: usize) -> String {
    let mut out = String::with_capacity(sql.len() + 16);
    let mut chars = sql.chars().peekable();
    let mut in_string = false;
    while let Some(c) = chars.next() {
        out.push(c);
        if c == '\'' {
            in_string = !in_string;
        } else if c == '$' && !in_string {
            let mut digits = String::new();
            while let Some(d) = chars.peek().filter(|d| d.is_ascii_digit()) {
                digits.push(*d);
                chars.next();
            }
            match digits.parse::<usize>() {
                Ok(n) => out.push_str(&(n + offset).to_string()),
                Err(_) => out.push_str(&digits),
            }
        }
    }
    out
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

#[cfg(test)]
mod tests {
    use super::renumber_placeholders;

    #[test]
    fn placeholders_shift_outside_strings() {
        assert_eq!(
            renumber_placeholders("INSERT INTO t VALUES ($1, '$2', $10)", 3),
            "INSERT INTO t VALUES ($4, '$2', $13)"
        );
    }
}
