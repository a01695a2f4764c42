//! Generations and the thumbnails created with them.

use sea_orm::{
    ColumnTrait, ConnectionTrait, DbBackend, EntityTrait, IntoActiveModel, QueryFilter, QueryOrder,
    Statement, TransactionTrait, Value,
    sea_query::{ArrayType, Expr},
};
use thumbforge_core::{
    GenerateRequest, GenerationId, GenerationStatus, ModelId, Plan, ThumbnailId, ThumbnailStatus,
};

use crate::{
    Db, DbError,
    entities::{generations, open_thumbnails, thumbnails},
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
    unit_credits: u32,
    request: &GenerateRequest,
) -> Result<GenerationView, DbError> {
    let view = build(org_id, plan, model, unit_credits, request);
    insert_many(db, std::slice::from_ref(&view)).await?;
    Ok(view)
}

/// A new generation and its processing thumbnails, not yet stored.
/// `enqueued_at` is set optimistically: the caller pushes the jobs right
/// after the commit and clears it if the push fails.
/// `unit_credits` is the model's price per thumbnail (its catalogue entry).
pub fn build(
    org_id: &str,
    plan: Plan,
    model: ModelId,
    unit_credits: u32,
    request: &GenerateRequest,
) -> GenerationView {
    let now = now_ms();
    let generation = generations::Model {
        id: GenerationId::new().into_string(),
        org_id: org_id.to_owned(),
        prompt: request.prompt.as_str().to_owned(),
        model: model.as_str().to_owned(),
        count: i32::from(request.count.get()),
        aspect_ratio: request.aspect_ratio.as_str().to_owned(),
        person_ids: json_list(request.person_ids.as_slice()),
        inspiration_ids: json_list(request.inspiration_ids.as_slice()),
        status: GenerationStatus::Processing,
        created_at: now,
        updated_at: now,
        completed_at: None,
        reference_urls: json_list(request.reference_urls.as_slice()),
        provider_used: request.provider.used_label().to_owned(),
        credits_consumed: crate::credits::credits_for(unit_credits, request),
        title: request.title.as_ref().map(|t| t.as_str().to_owned()),
        card_id: request.card_id.as_ref().map(|c| c.as_str().to_owned()),
        webhook_url: request.webhook.as_ref().map(|w| w.url.clone()),
        webhook_events: request.webhook.as_ref().map(|w| w.events().to_owned()),
        webhook_state: request.webhook.as_ref().map(|_| "pending".to_owned()),
        style: request
            .style
            .as_ref()
            .and_then(|s| serde_json::to_string(s).ok()),
    };
    let thumbnails = (0..request.count.get())
        .map(|idx| thumbnails::Model {
            id: ThumbnailId::new().into_string(),
            generation_id: generation.id.clone(),
            org_id: org_id.to_owned(),
            idx: i32::from(idx),
            status: ThumbnailStatus::Processing,
            end_reason: None,
            error: None,
            is_watermarked: plan.watermarks(),
            is_hidden: false,
            storage_key: None,
            watermarked_key: None,
            file_size_bytes: None,
            clean_size_bytes: None,
            format: request.format,
            width: None,
            height: None,
            generation_time_ms: None,
            attempts: 0,
            created_at: now,
            started_at: None,
            completed_at: None,
            enqueued_at: Some(now),
            lease_expires_at: None,
            dismissed_at: None,
            attempt_base: 0,
        })
        .collect();
    GenerationView {
        generation,
        thumbnails,
    }
}

/// Stores new generations (from [`build`]) and their thumbnails, all or
/// none, with one commit.
///
/// On PostgreSQL this is one statement of fixed text whatever the batch
/// size: each column travels as one array, and each row reads its element
/// of every array (`generate_subscripts`, then `$n[i]`); a data-modifying
/// CTE inserts the generations. Reading by subscript costs PostgreSQL less
/// than `UNNEST` over the same arrays, which materialises one set per
/// array (through the API: 41 against 46 µs per submit in the mean of
/// eight rounds, docs/decisions.md). Only the columns a new row sets are
/// named (the rest start NULL), because the driver's arrays cannot hold
/// NULLs.
pub async fn insert_many(db: &Db, views: &[GenerationView]) -> Result<(), DbError> {
    if views.is_empty() {
        return Ok(());
    }
    if db.conn().get_database_backend() == DbBackend::Postgres {
        insert_rows(db.conn(), views).await
    } else {
        let txn = db.conn().begin().await?;
        insert_rows(&txn, views).await?;
        txn.commit().await?;
        Ok(())
    }
}

/// Debits each metered generation's `credits_consumed` from its org and
/// stores the ones whose org could pay, all in one transaction. Returns,
/// per view, whether it was accepted. Each org is debited once for all its
/// views when its balance covers them, else view by view in order.
pub async fn create_batch(
    db: &Db,
    views: &[GenerationView],
    metered: &[bool],
) -> Result<Vec<bool>, DbError> {
    let charged: Vec<usize> = charged(views, metered).collect();
    if charged.is_empty() {
        insert_many(db, views).await?;
        return Ok(vec![true; views.len()]);
    }
    let mut accepted = vec![true; views.len()];
    let mut by_org: std::collections::BTreeMap<&str, Vec<usize>> = Default::default();
    for &i in &charged {
        by_org
            .entry(views[i].generation.org_id.as_str())
            .or_default()
            .push(i);
    }
    let txn = db.conn().begin().await?;
    for (org_id, indexes) in by_org {
        let amount = |i: &usize| i64::from(views[*i].generation.credits_consumed);
        let total: i64 = indexes.iter().map(amount).sum();
        if crate::credits::debit(&txn, org_id, total).await? {
            continue;
        }
        for i in indexes {
            accepted[i] = crate::credits::debit(&txn, org_id, amount(&i)).await?;
        }
    }
    let stored: Vec<GenerationView> = views
        .iter()
        .zip(&accepted)
        .filter(|(_, ok)| **ok)
        .map(|(v, _)| v.clone())
        .collect();
    if !stored.is_empty() {
        insert_rows(&txn, &stored).await?;
    }
    txn.commit().await?;
    Ok(accepted)
}

/// The indexes of the views that cost their org credits.
fn charged<'a>(
    views: &'a [GenerationView],
    metered: &'a [bool],
) -> impl Iterator<Item = usize> + 'a {
    (0..views.len()).filter(|&i| metered[i] && views[i].generation.credits_consumed > 0)
}

/// The inserts themselves, on `conn` (a transaction on SQLite).
async fn insert_rows<C: ConnectionTrait>(
    conn: &C,
    views: &[GenerationView],
) -> Result<(), DbError> {
    if views.is_empty() {
        return Ok(());
    }
    if conn.get_database_backend() == DbBackend::Postgres {
        let values: Vec<Value> = insert_columns(views)
            .into_iter()
            .map(Column::into_value)
            .collect();
        conn.execute_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            INSERT_MANY_PG,
            values,
        ))
        .await?;
    } else {
        let insert_generations = generations::Entity::insert_many(
            views
                .iter()
                .map(|v| v.generation.clone().into_active_model()),
        );
        let insert_thumbnails = thumbnails::Entity::insert_many(
            views
                .iter()
                .flat_map(|v| v.thumbnails.iter().cloned())
                .map(IntoActiveModel::into_active_model),
        );
        let insert_open = open_thumbnails::Entity::insert_many(
            views
                .iter()
                .flat_map(|v| &v.thumbnails)
                .filter(|t| t.status == ThumbnailStatus::Processing)
                .map(|t| open_thumbnails::ActiveModel {
                    id: sea_orm::ActiveValue::Set(t.id.clone()),
                }),
        );
        insert_generations.exec_without_returning(conn).await?;
        insert_thumbnails.exec_without_returning(conn).await?;
        insert_open.exec_without_returning(conn).await?;
    }
    Ok(())
}

const INSERT_MANY_PG: &str = "WITH g AS (\
    INSERT INTO generations (id, org_id, prompt, model, count, aspect_ratio, person_ids, \
    inspiration_ids, status, created_at, updated_at, reference_urls, provider_used, \
    credits_consumed, title, card_id, webhook_url, webhook_events, webhook_state, style) \
    SELECT ($1::text[])[i], ($2::text[])[i], ($3::text[])[i], ($4::text[])[i], ($5::int[])[i], \
    ($6::text[])[i], ($7::text[])[i], ($8::text[])[i], ($9::text[])[i], ($10::bigint[])[i], \
    ($11::bigint[])[i], ($12::text[])[i], ($13::text[])[i], ($14::int[])[i], \
    NULLIF(($15::text[])[i], ''), NULLIF(($16::text[])[i], ''), NULLIF(($17::text[])[i], ''), \
    NULLIF(($18::text[])[i], ''), NULLIF(($19::text[])[i], ''), NULLIF(($20::text[])[i], '') \
    FROM generate_subscripts($1::text[], 1) AS i), \
    o AS (INSERT INTO open_thumbnails (id) SELECT ($21::text[])[i] \
    FROM generate_subscripts($21::text[], 1) AS i WHERE ($25::text[])[i] = 'processing') \
    INSERT INTO thumbnails (id, generation_id, org_id, idx, status, is_watermarked, is_hidden, \
    attempts, created_at, enqueued_at, format) \
    SELECT ($21::text[])[i], ($22::text[])[i], ($23::text[])[i], ($24::int[])[i], \
    ($25::text[])[i], ($26::bool[])[i], ($27::bool[])[i], ($28::int[])[i], \
    ($29::bigint[])[i], ($30::bigint[])[i], ($31::text[])[i] \
    FROM generate_subscripts($21::text[], 1) AS i";

/// One parameter of [`INSERT_MANY_PG`]: a column of the batch as an array.
enum Column<'a> {
    Text(Vec<&'a str>),
    Int(Vec<i32>),
    BigInt(Vec<i64>),
    Bool(Vec<bool>),
}

impl Column<'_> {
    fn into_value(self) -> Value {
        fn array(ty: ArrayType, values: impl Iterator<Item = Value>) -> Value {
            Value::Array(ty, Some(Box::new(values.collect())))
        }
        match self {
            Column::Text(v) => array(ArrayType::String, v.into_iter().map(Value::from)),
            Column::Int(v) => array(ArrayType::Int, v.into_iter().map(Value::from)),
            Column::BigInt(v) => array(ArrayType::BigInt, v.into_iter().map(Value::from)),
            Column::Bool(v) => array(ArrayType::Bool, v.into_iter().map(Value::from)),
        }
    }
}

/// The parameters of [`INSERT_MANY_PG`] for `views`, `$1` first. The
/// driver's arrays cannot hold NULL, so an absent optional value travels
/// as '' (never a valid title, card, URL or style) and the statement turns
/// it back into NULL with `NULLIF`.
fn insert_columns(views: &[GenerationView]) -> Vec<Column<'_>> {
    let gens = || views.iter().map(|v| &v.generation);
    let thumbs = || views.iter().flat_map(|v| &v.thumbnails);
    let text = |f: fn(&generations::Model) -> &String| {
        Column::Text(gens().map(|g| f(g).as_str()).collect())
    };
    let optional = |f: fn(&generations::Model) -> &Option<String>| {
        Column::Text(
            gens()
                .map(|g| f(g).as_deref().unwrap_or_default())
                .collect(),
        )
    };
    let thumb_text = |f: fn(&thumbnails::Model) -> &String| {
        Column::Text(thumbs().map(|t| f(t).as_str()).collect())
    };
    vec![
        text(|g| &g.id),
        text(|g| &g.org_id),
        text(|g| &g.prompt),
        text(|g| &g.model),
        Column::Int(gens().map(|g| g.count).collect()),
        text(|g| &g.aspect_ratio),
        text(|g| &g.person_ids),
        text(|g| &g.inspiration_ids),
        Column::Text(gens().map(|g| g.status.as_str()).collect()),
        Column::BigInt(gens().map(|g| g.created_at).collect()),
        Column::BigInt(gens().map(|g| g.updated_at).collect()),
        text(|g| &g.reference_urls),
        text(|g| &g.provider_used),
        Column::Int(gens().map(|g| g.credits_consumed).collect()),
        optional(|g| &g.title),
        optional(|g| &g.card_id),
        optional(|g| &g.webhook_url),
        optional(|g| &g.webhook_events),
        optional(|g| &g.webhook_state),
        optional(|g| &g.style),
        thumb_text(|t| &t.id),
        thumb_text(|t| &t.generation_id),
        thumb_text(|t| &t.org_id),
        Column::Int(thumbs().map(|t| t.idx).collect()),
        Column::Text(thumbs().map(|t| t.status.as_str()).collect()),
        Column::Bool(thumbs().map(|t| t.is_watermarked).collect()),
        Column::Bool(thumbs().map(|t| t.is_hidden).collect()),
        Column::Int(thumbs().map(|t| t.attempts).collect()),
        Column::BigInt(thumbs().map(|t| t.created_at).collect()),
        Column::BigInt(
            thumbs()
                .map(|t| t.enqueued_at.unwrap_or(t.created_at))
                .collect(),
        ),
        Column::Text(thumbs().map(|t| t.format.as_str()).collect()),
    ]
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

/// A generation's stored status, whatever its organisation (operators,
/// drills).
pub async fn status_of(db: &Db, generation_id: &str) -> Result<Option<GenerationStatus>, DbError> {
    Ok(generations::Entity::find_by_id(generation_id.to_owned())
        .one(db.conn())
        .await?
        .map(|g| g.status))
}

/// Filters for [`list_for_org`].
#[derive(Debug, Clone, Default)]
pub struct ListFilter {
    pub status: Option<GenerationStatus>,
    pub model: Option<String>,
    pub card_id: Option<String>,
    /// Only generations created before this (ms).
    pub created_before: Option<i64>,
    pub created_after: Option<i64>,
    /// Keyset cursor: strictly after this (created_at, id), newest first.
    pub after: Option<(i64, String)>,
}

/// The org's generations, newest first, with their thumbnails.
pub async fn list_for_org(
    db: &Db,
    org_id: &str,
    filter: &ListFilter,
    limit: u64,
) -> Result<Vec<GenerationView>, DbError> {
    use sea_orm::{Condition, QuerySelect};
    let mut query = generations::Entity::find().filter(generations::Column::OrgId.eq(org_id));
    if let Some(status) = &filter.status {
        query = query.filter(generations::Column::Status.eq(*status));
    }
    if let Some(model) = &filter.model {
        query = query.filter(generations::Column::Model.eq(model.as_str()));
    }
    if let Some(card_id) = &filter.card_id {
        query = query.filter(generations::Column::CardId.eq(card_id.as_str()));
    }
    if let Some(before) = filter.created_before {
        query = query.filter(generations::Column::CreatedAt.lt(before));
    }
    if let Some(after) = filter.created_after {
        query = query.filter(generations::Column::CreatedAt.gt(after));
    }
    if let Some((created_at, id)) = &filter.after {
        query = query.filter(
            Condition::any()
                .add(generations::Column::CreatedAt.lt(*created_at))
                .add(
                    Condition::all()
                        .add(generations::Column::CreatedAt.eq(*created_at))
                        .add(generations::Column::Id.lt(id.as_str())),
                ),
        );
    }
    let rows = query
        .order_by_desc(generations::Column::CreatedAt)
        .order_by_desc(generations::Column::Id)
        .limit(limit)
        .all(db.conn())
        .await?;
    with_thumbnails(db, rows).await
}

async fn with_thumbnails(
    db: &Db,
    rows: Vec<generations::Model>,
) -> Result<Vec<GenerationView>, DbError> {
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    let ids: Vec<String> = rows.iter().map(|g| g.id.clone()).collect();
    let mut by_generation: std::collections::HashMap<String, Vec<thumbnails::Model>> =
        Default::default();
    for t in thumbnails::Entity::find()
        .filter(thumbnails::Column::GenerationId.is_in(ids))
        .order_by_asc(thumbnails::Column::Idx)
        .all(db.conn())
        .await?
    {
        by_generation
            .entry(t.generation_id.clone())
            .or_default()
            .push(t);
    }
    Ok(rows
        .into_iter()
        .map(|generation| GenerationView {
            thumbnails: by_generation.remove(&generation.id).unwrap_or_default(),
            generation,
        })
        .collect())
}

/// Deletes the org's generation and its thumbnail rows, after canceling
/// what still runs (which refunds it). Returns the deleted view, so the
/// caller can remove the files; `None` when the org has no such generation.
pub async fn delete_for_org(
    db: &Db,
    org_id: &str,
    id: &str,
) -> Result<Option<GenerationView>, DbError> {
    if crate::lifecycle::cancel(db, org_id, id).await?.is_none() {
        return Ok(None);
    }
    let Some(view) = find_for_org(db, org_id, id).await? else {
        return Ok(None);
    };
    delete_rows(
        db.conn(),
        sea_orm::Condition::all()
            .add(generations::Column::Id.eq(id))
            .add(generations::Column::OrgId.eq(org_id)),
    )
    .await?;
    Ok(Some(view))
}

/// Deletes the generations matching `which` and returns their ids. Their
/// thumbnails go with them by the foreign key (`ON DELETE CASCADE` on both
/// databases); the caller removes the image objects. The one delete of a
/// generation's rows: an organisation's [`delete_for_org`] and retention
/// ([`crate::retention`]) both go through it.
pub(crate) async fn delete_rows<C: ConnectionTrait>(
    conn: &C,
    which: sea_orm::Condition,
) -> Result<Vec<String>, DbError> {
    Ok(generations::Entity::delete_many()
        .filter(which)
        .exec_with_returning(conn)
        .await?
        .into_iter()
        .map(|g| g.id)
        .collect())
}

/// Flokan's generation statuses, as stored statuses and thumbnail facts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FlokanStatus {
    /// Processing, no thumbnail started yet.
    Pending,
    /// Processing, some thumbnail started.
    Generating,
    /// Succeeded or partial.
    Completed,
    /// Failed or canceled, not by the deadline.
    Failed,
    /// Failed or canceled, and the deadline ended a thumbnail.
    TimedOut,
}

impl FlokanStatus {
    pub fn parse(raw: &str) -> Option<FlokanStatus> {
        Some(match raw {
            "pending" => FlokanStatus::Pending,
            "generating" => FlokanStatus::Generating,
            "completed" => FlokanStatus::Completed,
            "failed" => FlokanStatus::Failed,
            "timed_out" => FlokanStatus::TimedOut,
            _ => return None,
        })
    }
}

const ANY_STARTED: &str = "EXISTS (SELECT 1 FROM thumbnails t WHERE t.generation_id = generations.id \
     AND t.started_at IS NOT NULL)";
const ANY_TIMED_OUT: &str = "EXISTS (SELECT 1 FROM thumbnails t WHERE t.generation_id = generations.id \
     AND t.end_reason = 'timed_out')";

/// One page (from 1) of the org's generations, newest first, with the
/// total that match.
pub async fn page_for_org(
    db: &Db,
    org_id: &str,
    status: Option<FlokanStatus>,
    card_id: Option<&str>,
    page: u64,
    per_page: u64,
) -> Result<(Vec<GenerationView>, u64), DbError> {
    use sea_orm::{PaginatorTrait, QuerySelect};
    let mut query = generations::Entity::find().filter(generations::Column::OrgId.eq(org_id));
    if let Some(card_id) = card_id {
        query = query.filter(generations::Column::CardId.eq(card_id));
    }
    let status_in =
        |statuses: &[GenerationStatus]| generations::Column::Status.is_in(statuses.iter().copied());
    query = match status {
        None => query,
        Some(FlokanStatus::Pending) => query
            .filter(status_in(&[GenerationStatus::Processing]))
            .filter(Expr::cust(format!("NOT {ANY_STARTED}"))),
        Some(FlokanStatus::Generating) => query
            .filter(status_in(&[GenerationStatus::Processing]))
            .filter(Expr::cust(ANY_STARTED)),
        Some(FlokanStatus::Completed) => query.filter(status_in(&[
            GenerationStatus::Succeeded,
            GenerationStatus::Partial,
        ])),
        Some(FlokanStatus::Failed) => query
            .filter(status_in(&[
                GenerationStatus::Failed,
                GenerationStatus::Canceled,
            ]))
            .filter(Expr::cust(format!("NOT {ANY_TIMED_OUT}"))),
        Some(FlokanStatus::TimedOut) => query
            .filter(status_in(&[
                GenerationStatus::Failed,
                GenerationStatus::Canceled,
            ]))
            .filter(Expr::cust(ANY_TIMED_OUT)),
    };
    let total = query.clone().count(db.conn()).await?;
    let rows = query
        .order_by_desc(generations::Column::CreatedAt)
        .order_by_desc(generations::Column::Id)
        .offset(page.saturating_sub(1).saturating_mul(per_page))
        .limit(per_page)
        .all(db.conn())
        .await?;
    Ok((with_thumbnails(db, rows).await?, total))
}
