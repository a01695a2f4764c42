//! The operator's queue endpoints (`/api/v1/admin/…`, the `admin` scope):
//! what is waiting, running, retrying and dead; jobs by state or id, each
//! with what it was asked to make; the last hour by minute; and retry or
//! discard, one job or many. The dashboard at `/admin` is a page over
//! these. Semantics live in `thumbforge_db::admin`.

use actix_web::ResponseError;
use actix_web::{HttpResponse, web};
use serde::{Deserialize, Serialize};
use thumbforge_core::{ErrorCode, ThumbnailStatus};
use thumbforge_db::admin::{self, JobRow, Overview, Refused};
use thumbforge_queue::RenderThumbnail;

use crate::{AppState, auth::Admin, error::ApiError};

#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct QueueQuery {
    /// Rows per list, 1–200 (default 50).
    pub limit: Option<u64>,
}

/// What the queue backend itself reports.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct QueueBackend {
    /// `sqlite` (embedded) or `redis`.
    pub kind: &'static str,
    /// Jobs in the queue, waiting or held.
    pub depth: i64,
    /// Jobs delivered to a worker and not yet acknowledged (Redis only).
    pub in_flight: Option<i64>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct QueueReport {
    #[schema(value_type = Object)]
    pub overview: Overview,
    pub queue: QueueBackend,
    /// Processing thumbnails after more than one claim, oldest first.
    #[schema(value_type = Vec<Object>)]
    pub retrying: Vec<JobRow>,
    /// Failed thumbnails not yet dismissed, newest first.
    #[schema(value_type = Vec<Object>)]
    pub dead: Vec<JobRow>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct JobAction {
    pub thumbnail_id: String,
    /// `retried` or `discarded`.
    pub action: &'static str,
}

#[utoipa::path(
    get,
    operation_id = "getQueueReport",
    path = "/api/v1/admin/queue",
    tag = "admin",
    summary = "Queue depth, in-flight, retrying and dead jobs",
    params(QueueQuery),
    responses((status = 200, description = "The queue as it stands", body = QueueReport), (status = 401, description = "Missing or invalid API key", body = crate::error::Problem, content_type = "application/problem+json"), (status = 403, description = "The key lacks the admin scope", body = crate::error::Problem, content_type = "application/problem+json")),
    security(("bearer" = []), ("api_key" = []))
)]
pub async fn queue(
    _admin: Admin,
    query: web::Query<QueueQuery>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let limit = query.limit.unwrap_or(50).clamp(1, 200);
    let queue_error = |e: thumbforge_queue::QueueError| {
        tracing::warn!(error = %e, "queue unreachable");
        ApiError::QueueUnavailable
    };
    let report = QueueReport {
        overview: admin::overview(&state.db).await?,
        queue: QueueBackend {
            kind: state.queue.kind(),
            depth: state.queue.depth().await.map_err(queue_error)?,
            in_flight: state.queue.in_flight().await.map_err(queue_error)?,
        },
        retrying: admin::retrying(&state.db, limit).await?,
        dead: admin::dead(&state.db, limit).await?,
    };
    Ok(HttpResponse::Ok()
        .insert_header(("Cache-Control", "no-store"))
        .json(report))
}

/// The answer to a refused action; `wrong_state` is the action's own 409.
fn refused(e: Refused, wrong_state: fn() -> ApiError) -> ApiError {
    match e {
        Refused::NotFound => ApiError::NotFound("thumbnail"),
        Refused::WrongState => wrong_state(),
        Refused::InsufficientCredits { needed } => ApiError::InsufficientCredits {
            needed: i32::try_from(needed).unwrap_or(i32::MAX),
        },
    }
}

fn not_dead() -> ApiError {
    ApiError::Conflict {
        code: ErrorCode::JobNotDead,
        detail: "only a failed thumbnail can be retried".to_owned(),
    }
}

fn not_discardable() -> ApiError {
    ApiError::Conflict {
        code: ErrorCode::JobNotDiscardable,
        detail:
            "only a processing thumbnail, or a failed one still listed as dead, can be discarded"
                .to_owned(),
    }
}

#[utoipa::path(
    post,
    operation_id = "retryJob",
    path = "/api/v1/admin/jobs/{thumbnail_id}/retry",
    tag = "admin",
    summary = "Retry a dead job",
    description = "The failed thumbnail goes back to processing with a fresh attempt budget; its generation reopens (the credits its end refunded are taken again) and will end, refund and send its webhook anew.",
    params(("thumbnail_id" = String, Path)),
    responses((status = 200, description = "Queued again", body = JobAction), (status = 404, description = "No such thumbnail", body = crate::error::Problem, content_type = "application/problem+json"), (status = 409, description = "The thumbnail is not failed", body = crate::error::Problem, content_type = "application/problem+json"), (status = 402, description = "The organisation cannot pay for the reopened generation", body = crate::error::Problem, content_type = "application/problem+json"), (status = 401, description = "Missing or invalid API key", body = crate::error::Problem, content_type = "application/problem+json"), (status = 403, description = "The key lacks the admin scope", body = crate::error::Problem, content_type = "application/problem+json")),
    security(("bearer" = []), ("api_key" = []))
)]
pub async fn retry(
    Admin(caller): Admin,
    path: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(retry_one(&state, &caller, path.into_inner()).await?))
}

async fn retry_one(
    state: &AppState,
    caller: &thumbforge_db::keys::Caller,
    id: String,
) -> Result<JobAction, ApiError> {
    let reopened = admin::retry(&state.db, state.providers.catalogue(), &id)
        .await?
        .map_err(|e| refused(e, not_dead))?;
    tracing::info!(
        thumbnail.id = %reopened.thumbnail_id,
        generation.id = %reopened.generation_id,
        operator.org = %caller.org_id,
        "operator retried a dead job"
    );
    state.forget_cached(&reopened.generation_id);
    let job = RenderThumbnail {
        thumbnail_id: reopened.thumbnail_id.clone(),
        generation_id: reopened.generation_id,
        enqueued_at_ms: thumbforge_db::now_ms(),
        lane: thumbforge_queue::Lane::for_model(&reopened.model),
        org_id: reopened.org_id,
        plan: None,
        sync: false,
    };
    // Committed first: if this push fails the sweeper pushes it later.
    crate::submit::push_committed(&state.db, &state.queue, &[(job, reopened.attempts)]).await?;
    Ok(JobAction {
        thumbnail_id: reopened.thumbnail_id,
        action: "retried",
    })
}

#[utoipa::path(
    post,
    operation_id = "discardJob",
    path = "/api/v1/admin/jobs/{thumbnail_id}/discard",
    tag = "admin",
    summary = "Discard a job",
    description = "A dead (failed) thumbnail is dismissed from the dead list and stays failed. A processing one fails now with \"Discarded by an operator.\", which ends and refunds its generation like any failure.",
    params(("thumbnail_id" = String, Path)),
    responses((status = 200, description = "Discarded", body = JobAction), (status = 404, description = "No such thumbnail", body = crate::error::Problem, content_type = "application/problem+json"), (status = 409, description = "Succeeded, canceled, or already dismissed", body = crate::error::Problem, content_type = "application/problem+json"), (status = 401, description = "Missing or invalid API key", body = crate::error::Problem, content_type = "application/problem+json"), (status = 403, description = "The key lacks the admin scope", body = crate::error::Problem, content_type = "application/problem+json")),
    security(("bearer" = []), ("api_key" = []))
)]
pub async fn discard(
    Admin(caller): Admin,
    path: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(discard_one(&state, &caller, path.into_inner()).await?))
}

async fn discard_one(
    state: &AppState,
    caller: &thumbforge_db::keys::Caller,
    id: String,
) -> Result<JobAction, ApiError> {
    admin::discard(&state.db, &id)
        .await?
        .map_err(|e| refused(e, not_discardable))?;
    tracing::info!(thumbnail.id = %id, operator.org = %caller.org_id, "operator discarded a job");
    Ok(JobAction {
        thumbnail_id: id,
        action: "discarded",
    })
}

/// Most jobs one bulk action takes.
pub const BULK_MAX: usize = 200;

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct BulkBody {
    /// 1–200 thumbnail ids.
    #[schema(min_items = 1, max_items = 200)]
    pub thumbnail_ids: Vec<String>,
}

/// One job's outcome in a bulk action: `action` when it was done, else
/// `code` and `detail` as its single action would have answered.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct BulkResult {
    pub thumbnail_id: String,
    /// `retried` or `discarded`.
    pub action: Option<&'static str>,
    /// The refusal's HTTP status, when refused.
    pub status: Option<u16>,
    #[schema(value_type = Option<String>)]
    pub code: Option<&'static str>,
    pub detail: Option<String>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct BulkReport {
    /// How many were done.
    pub done: usize,
    /// One per id, in the order given.
    pub results: Vec<BulkResult>,
}

async fn bulk(
    state: web::Data<AppState>,
    caller: thumbforge_db::keys::Caller,
    body: BulkBody,
    retry: bool,
) -> Result<HttpResponse, ApiError> {
    if body.thumbnail_ids.is_empty() || body.thumbnail_ids.len() > BULK_MAX {
        return Err(ApiError::invalid(
            ErrorCode::InvalidJobIds,
            format!("thumbnailIds: give 1 to {BULK_MAX} ids"),
        ));
    }
    let mut results = Vec::with_capacity(body.thumbnail_ids.len());
    for id in body.thumbnail_ids {
        let outcome = if retry {
            retry_one(&state, &caller, id.clone()).await
        } else {
            discard_one(&state, &caller, id.clone()).await
        };
        results.push(match outcome {
            Ok(done) => BulkResult {
                thumbnail_id: id,
                action: Some(done.action),
                status: None,
                code: None,
                detail: None,
            },
            // The store being down ends the whole action, as for one job.
            Err(
                e @ (ApiError::DatabaseUnavailable
                | ApiError::QueueUnavailable
                | ApiError::Internal(_)),
            ) => return Err(e),
            Err(e) => BulkResult {
                thumbnail_id: id,
                action: None,
                status: Some(e.status_code().as_u16()),
                code: Some(e.code().as_str()),
                detail: Some(e.to_string()),
            },
        });
    }
    let done = results.iter().filter(|r| r.action.is_some()).count();
    Ok(HttpResponse::Ok().json(BulkReport { done, results }))
}

#[utoipa::path(
    post,
    operation_id = "retryJobs",
    path = "/api/v1/admin/jobs/retry",
    tag = "admin",
    summary = "Retry many dead jobs",
    description = "Each id is retried as `POST /api/v1/admin/jobs/{thumbnail_id}/retry` would; one refused id does not stop the others.",
    request_body = BulkBody,
    responses((status = 200, description = "Each job's outcome", body = BulkReport), (status = 422, description = "No ids, or more than 200", body = crate::error::Problem, content_type = "application/problem+json"), (status = 401, description = "Missing or invalid API key", body = crate::error::Problem, content_type = "application/problem+json"), (status = 403, description = "The key lacks the admin scope", body = crate::error::Problem, content_type = "application/problem+json")),
    security(("bearer" = []), ("api_key" = []))
)]
pub async fn retry_many(
    Admin(caller): Admin,
    req: actix_web::HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let body: BulkBody = crate::body::read_json(&req, payload, 64 * 1024).await?;
    bulk(state, caller, body, true).await
}

#[utoipa::path(
    post,
    operation_id = "discardJobs",
    path = "/api/v1/admin/jobs/discard",
    tag = "admin",
    summary = "Discard many jobs",
    description = "Each id is discarded as `POST /api/v1/admin/jobs/{thumbnail_id}/discard` would; one refused id does not stop the others.",
    request_body = BulkBody,
    responses((status = 200, description = "Each job's outcome", body = BulkReport), (status = 422, description = "No ids, or more than 200", body = crate::error::Problem, content_type = "application/problem+json"), (status = 401, description = "Missing or invalid API key", body = crate::error::Problem, content_type = "application/problem+json"), (status = 403, description = "The key lacks the admin scope", body = crate::error::Problem, content_type = "application/problem+json")),
    security(("bearer" = []), ("api_key" = []))
)]
pub async fn discard_many(
    Admin(caller): Admin,
    req: actix_web::HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let body: BulkBody = crate::body::read_json(&req, payload, 64 * 1024).await?;
    bulk(state, caller, body, false).await
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct JobsQuery {
    /// Only jobs in this state: `processing`, `succeeded`, `failed` or
    /// `canceled`.
    #[param(pattern = "^(processing|succeeded|failed|canceled)$")]
    pub status: Option<String>,
    /// A thumbnail id, or a generation id (its thumbnails).
    pub id: Option<String>,
    /// Rows, 1–200 (default 50).
    pub limit: Option<u64>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct JobList {
    /// Newest first.
    #[schema(value_type = Vec<Object>)]
    pub data: Vec<JobRow>,
}

#[utoipa::path(
    get,
    operation_id = "listJobs",
    path = "/api/v1/admin/jobs",
    tag = "admin",
    summary = "Jobs by state, or by thumbnail or generation id",
    params(JobsQuery),
    responses((status = 200, description = "Newest first", body = JobList), (status = 422, description = "An unknown status", body = crate::error::Problem, content_type = "application/problem+json"), (status = 401, description = "Missing or invalid API key", body = crate::error::Problem, content_type = "application/problem+json"), (status = 403, description = "The key lacks the admin scope", body = crate::error::Problem, content_type = "application/problem+json")),
    security(("bearer" = []), ("api_key" = []))
)]
pub async fn jobs(
    _admin: Admin,
    query: web::Query<JobsQuery>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let status = query
        .status
        .as_deref()
        .map(|s| {
            s.parse::<ThumbnailStatus>().map_err(|_| {
                ApiError::invalid(
                    ErrorCode::InvalidStatus,
                    format!("status: {s:?} is not processing, succeeded, failed or canceled"),
                )
            })
        })
        .transpose()?;
    let id = query
        .id
        .as_deref()
        .map(str::trim)
        .filter(|id| !id.is_empty());
    let limit = query.limit.unwrap_or(50).clamp(1, 200);
    let data = admin::jobs(&state.db, status, id, limit).await?;
    Ok(HttpResponse::Ok()
        .insert_header(("Cache-Control", "no-store"))
        .json(JobList { data }))
}

/// What a job was asked to make: its generation's request.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct JobPayload {
    pub generation_id: String,
    pub org_id: String,
    pub prompt: String,
    pub title: Option<String>,
    pub model: String,
    pub count: i32,
    pub aspect_ratio: String,
    /// The variation this thumbnail renders (0-based).
    pub variation: i32,
    #[schema(value_type = Vec<String>)]
    pub reference_urls: serde_json::Value,
    #[schema(value_type = Vec<String>)]
    pub person_ids: serde_json::Value,
    #[schema(value_type = Vec<String>)]
    pub inspiration_ids: serde_json::Value,
    /// `system` or the organisation's own provider.
    pub provider: String,
    #[schema(value_type = Option<Object>)]
    pub style: Option<serde_json::Value>,
    pub webhook_url: Option<String>,
    pub generation_status: String,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct JobDetail {
    #[schema(value_type = Object)]
    pub job: JobRow,
    pub payload: JobPayload,
}

#[utoipa::path(
    get,
    operation_id = "getJob",
    path = "/api/v1/admin/jobs/{thumbnail_id}",
    tag = "admin",
    summary = "One job: its state and error, and what it was asked to make",
    params(("thumbnail_id" = String, Path)),
    responses((status = 200, description = "The job and its payload", body = JobDetail), (status = 404, description = "No such thumbnail", body = crate::error::Problem, content_type = "application/problem+json"), (status = 401, description = "Missing or invalid API key", body = crate::error::Problem, content_type = "application/problem+json"), (status = 403, description = "The key lacks the admin scope", body = crate::error::Problem, content_type = "application/problem+json")),
    security(("bearer" = []), ("api_key" = []))
)]
pub async fn job(
    _admin: Admin,
    path: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let Some((t, g)) = admin::job(&state.db, &path.into_inner()).await? else {
        return Err(ApiError::NotFound("thumbnail"));
    };
    let list = |text: &str| serde_json::from_str(text).unwrap_or(serde_json::Value::Null);
    let payload = JobPayload {
        generation_id: g.id,
        org_id: g.org_id,
        prompt: g.prompt,
        title: g.title,
        model: g.model,
        count: g.count,
        aspect_ratio: g.aspect_ratio,
        variation: t.idx,
        reference_urls: list(&g.reference_urls),
        person_ids: list(&g.person_ids),
        inspiration_ids: list(&g.inspiration_ids),
        provider: g.provider_used,
        style: g.style.as_deref().map(list),
        webhook_url: g.webhook_url,
        generation_status: g.status.to_string(),
    };
    Ok(HttpResponse::Ok()
        .insert_header(("Cache-Control", "no-store"))
        .json(JobDetail {
            job: JobRow::from(t),
            payload,
        }))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct StatsQuery {
    /// Whole minutes before the current one, 1–180 (default 60).
    pub minutes: Option<i64>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Stats {
    /// Oldest first; the last is the current, partial minute.
    #[schema(value_type = Vec<Object>)]
    pub minutes: Vec<admin::Minute>,
}

#[utoipa::path(
    get,
    operation_id = "getJobStats",
    path = "/api/v1/admin/stats",
    tag = "admin",
    summary = "The last hour by minute: throughput, wait, in flight and failures by reason",
    params(StatsQuery),
    responses((status = 200, description = "One entry a minute", body = Stats), (status = 401, description = "Missing or invalid API key", body = crate::error::Problem, content_type = "application/problem+json"), (status = 403, description = "The key lacks the admin scope", body = crate::error::Problem, content_type = "application/problem+json")),
    security(("bearer" = []), ("api_key" = []))
)]
pub async fn stats(
    _admin: Admin,
    query: web::Query<StatsQuery>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let minutes = query.minutes.unwrap_or(60).clamp(1, 180);
    // A job that ends in the window started at most its deadline earlier.
    let lookback_ms = i64::try_from(state.job_deadline.as_millis()).unwrap_or(i64::MAX / 2);
    let minutes = admin::minutes(&state.db, thumbforge_db::now_ms(), minutes, lookback_ms).await?;
    Ok(HttpResponse::Ok()
        .insert_header(("Cache-Control", "no-store"))
        .json(Stats { minutes }))
}
