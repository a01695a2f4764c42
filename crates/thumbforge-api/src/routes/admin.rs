//! The operator's queue endpoints (`/api/v1/admin/…`, the `admin` scope):
//! what is waiting, running, retrying and dead, and retry or discard one
//! job. The dashboard at `/admin` is a page over these. Semantics live in
//! `thumbforge_db::admin`.

use actix_web::{HttpResponse, web};
use serde::{Deserialize, Serialize};
use thumbforge_core::ErrorCode;
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
    let id = path.into_inner();
    let reopened = admin::retry(&state.db, &id)
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
    Ok(HttpResponse::Ok().json(JobAction {
        thumbnail_id: reopened.thumbnail_id,
        action: "retried",
    }))
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
    let id = path.into_inner();
    admin::discard(&state.db, &id)
        .await?
        .map_err(|e| refused(e, not_discardable))?;
    tracing::info!(thumbnail.id = %id, operator.org = %caller.org_id, "operator discarded a job");
    Ok(HttpResponse::Ok().json(JobAction {
        thumbnail_id: id,
        action: "discarded",
    }))
}
