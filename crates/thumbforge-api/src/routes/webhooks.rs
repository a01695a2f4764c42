//! The org's webhook signing secret and its delivery log:
//! `GET /api/v1/webhooks/secret` (made on first use),
//! `POST /api/v1/webhooks/secret/rotate`, and
//! `GET /api/v1/webhooks/deliveries?generationId=&limit=` with every
//! attempt of each delivery.

use actix_web::{HttpResponse, web};
use serde::{Deserialize, Serialize};
use thumbforge_core::ErrorCode;
use thumbforge_db::webhooks;

use crate::{AppState, auth::Authenticated, error::ApiError};

#[utoipa::path(
    get,
    operation_id = "getWebhookSecret",
    path = "/api/v1/webhooks/secret",
    tag = "webhooks",
    summary = "The webhook signing secret",
    responses((status = 200, description = "The secret", body = SecretBody), (status = 401, description = "Missing or invalid API key", body = crate::error::Problem, content_type = "application/problem+json"), (status = 403, description = "The key lacks the thumbnail_generator scope", body = crate::error::Problem, content_type = "application/problem+json"), (status = 429, description = "Rate limit exceeded", body = crate::error::Problem, content_type = "application/problem+json")),
    security(("bearer" = []), ("api_key" = []))
)]
pub async fn secret(
    Authenticated(caller): Authenticated,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let secret = webhooks::secret(&state.db, &state.sealer, &caller.org_id).await?;
    Ok(HttpResponse::Ok().json(SecretBody { secret }))
}

#[utoipa::path(
    post,
    operation_id = "rotateWebhookSecret",
    path = "/api/v1/webhooks/secret/rotate",
    tag = "webhooks",
    summary = "Replace the webhook signing secret",
    responses((status = 200, description = "The secret", body = SecretBody), (status = 401, description = "Missing or invalid API key", body = crate::error::Problem, content_type = "application/problem+json"), (status = 403, description = "The key lacks the thumbnail_generator scope", body = crate::error::Problem, content_type = "application/problem+json"), (status = 429, description = "Rate limit exceeded", body = crate::error::Problem, content_type = "application/problem+json")),
    security(("bearer" = []), ("api_key" = []))
)]
pub async fn rotate(
    Authenticated(caller): Authenticated,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let secret = webhooks::rotate_secret(&state.db, &state.sealer, &caller.org_id).await?;
    Ok(HttpResponse::Ok().json(SecretBody { secret }))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(rename_all = "camelCase")]
pub struct DeliveriesQuery {
    pub generation_id: Option<String>,
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<u64>,
}

/// `GET /api/v1/webhooks/deliveries`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct DeliveryList {
    pub data: Vec<DeliveryBody>,
}

/// The org's webhook signing secret.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct SecretBody {
    pub secret: String,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AttemptBody {
    pub attempted_at: i64,
    pub status_code: Option<i32>,
    pub error: Option<String>,
    pub duration_ms: i64,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DeliveryBody {
    pub id: String,
    pub generation_id: String,
    pub event_type: String,
    pub url: String,
    pub status: String,
    pub next_attempt_at: i64,
    pub delivered_at: Option<i64>,
    pub last_error: Option<String>,
    pub created_at: i64,
    pub attempts: Vec<AttemptBody>,
}

#[utoipa::path(
    get,
    operation_id = "listWebhookDeliveries",
    path = "/api/v1/webhooks/deliveries",
    tag = "webhooks",
    summary = "Webhook deliveries and their attempts",
    params(DeliveriesQuery),
    responses((status = 200, description = "{data: [...]}", body = DeliveryList), (status = 422, description = "A query parameter is invalid", body = crate::error::Problem, content_type = "application/problem+json"), (status = 401, description = "Missing or invalid API key", body = crate::error::Problem, content_type = "application/problem+json"), (status = 403, description = "The key lacks the thumbnail_generator scope", body = crate::error::Problem, content_type = "application/problem+json"), (status = 429, description = "Rate limit exceeded", body = crate::error::Problem, content_type = "application/problem+json")),
    security(("bearer" = []), ("api_key" = []))
)]
pub async fn deliveries(
    Authenticated(caller): Authenticated,
    query: web::Query<DeliveriesQuery>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let limit = query.limit.unwrap_or(50);
    if !(1..=200).contains(&limit) {
        return Err(ApiError::invalid(
            ErrorCode::InvalidLimit,
            "limit must be from 1 to 200",
        ));
    }
    let rows = webhooks::list(
        &state.db,
        &caller.org_id,
        query.generation_id.as_deref(),
        limit,
    )
    .await?;
    let data: Vec<DeliveryBody> = rows
        .into_iter()
        .map(|(d, attempts)| DeliveryBody {
            id: d.id,
            generation_id: d.generation_id,
            event_type: d.event_type,
            url: d.url,
            status: d.status,
            next_attempt_at: d.next_attempt_at,
            delivered_at: d.delivered_at,
            last_error: d.last_error,
            created_at: d.created_at,
            attempts: attempts
                .into_iter()
                .map(|a| AttemptBody {
                    attempted_at: a.attempted_at,
                    status_code: a.status_code,
                    error: a.error,
                    duration_ms: a.duration_ms,
                })
                .collect(),
        })
        .collect();
    Ok(HttpResponse::Ok().json(DeliveryList { data }))
}
