//! An org's own provider keys (bring your own key):
//! `PUT /api/v1/provider-keys/{provider}` with `{"apiKey": "…"}`,
//! `GET /api/v1/provider-keys` (which providers are set, never the keys),
//! `DELETE /api/v1/provider-keys/{provider}`. Keys are sealed with the
//! server secret before they are stored.

use actix_web::{HttpRequest, HttpResponse, web};
use serde::{Deserialize, Serialize};
use thumbforge_core::ErrorCode;
use thumbforge_core::ProviderKind;
use thumbforge_db::provider_keys;

use crate::{AppState, auth::Authenticated, body::read_json, error::ApiError};

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SetKey {
    pub api_key: String,
}

/// `GET /api/v1/provider-keys`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct KeyList {
    pub data: Vec<KeyInfo>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct KeyInfo {
    pub provider: String,
    pub created_at: i64,
    pub updated_at: i64,
}

fn provider(raw: &str) -> Result<ProviderKind, ApiError> {
    raw.parse().map_err(|()| {
        ApiError::invalid(
            ErrorCode::UnknownProvider,
            format!("unknown provider `{raw}`; expected openai, google, fal or kie"),
        )
    })
}

#[utoipa::path(
    put,
    operation_id = "setProviderKey",
    path = "/api/v1/provider-keys/{provider}",
    tag = "provider keys",
    summary = "Store the organisation's own provider key",
    params(("provider" = String, Path, description = "openai, google, fal or kie", pattern = "^(openai|google|fal|kie)$")),
    request_body = SetKey,
    responses((status = 204, description = "Stored (sealed)"), (status = 400, description = "The body is not JSON", body = crate::error::Problem, content_type = "application/problem+json"), (status = 413, description = "The body is too large", body = crate::error::Problem, content_type = "application/problem+json"), (status = 415, description = "The body is not JSON", body = crate::error::Problem, content_type = "application/problem+json"), (status = 422, description = "A field is invalid", body = crate::error::Problem, content_type = "application/problem+json"), (status = 401, description = "Missing or invalid API key", body = crate::error::Problem, content_type = "application/problem+json"), (status = 403, description = "The key lacks the thumbnail_generator scope", body = crate::error::Problem, content_type = "application/problem+json"), (status = 429, description = "Rate limit exceeded", body = crate::error::Problem, content_type = "application/problem+json")),
    security(("bearer" = []), ("api_key" = []))
)]
pub async fn set(
    req: HttpRequest,
    Authenticated(caller): Authenticated,
    path: web::Path<String>,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let provider = provider(&path)?;
    let body: SetKey = read_json(&req, payload, 8 * 1024).await?;
    let key = body.api_key.trim();
    if key.is_empty() || key.len() > 1024 || key.chars().any(char::is_control) {
        return Err(ApiError::invalid(
            ErrorCode::InvalidApiKeyValue,
            "apiKey must be 1 to 1024 printable characters",
        ));
    }
    provider_keys::set(&state.db, &state.sealer, &caller.org_id, provider, key).await?;
    Ok(HttpResponse::NoContent().finish())
}

#[utoipa::path(
    get,
    operation_id = "listProviderKeys",
    path = "/api/v1/provider-keys",
    tag = "provider keys",
    summary = "Which providers have keys (never the keys)",
    responses((status = 200, description = "{data: [...]}", body = KeyList), (status = 401, description = "Missing or invalid API key", body = crate::error::Problem, content_type = "application/problem+json"), (status = 403, description = "The key lacks the thumbnail_generator scope", body = crate::error::Problem, content_type = "application/problem+json"), (status = 429, description = "Rate limit exceeded", body = crate::error::Problem, content_type = "application/problem+json")),
    security(("bearer" = []), ("api_key" = []))
)]
pub async fn list(
    Authenticated(caller): Authenticated,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let rows = provider_keys::list(&state.db, &caller.org_id).await?;
    let data: Vec<KeyInfo> = rows
        .into_iter()
        .map(|r| KeyInfo {
            provider: r.provider,
            created_at: r.created_at,
            updated_at: r.updated_at,
        })
        .collect();
    Ok(HttpResponse::Ok().json(KeyList { data }))
}

#[utoipa::path(
    delete,
    operation_id = "deleteProviderKey",
    path = "/api/v1/provider-keys/{provider}",
    tag = "provider keys",
    summary = "Remove a provider key",
    params(("provider" = String, Path, pattern = "^(openai|google|fal|kie)$")),
    responses((status = 204, description = "Removed"), (status = 404, description = "No key for that provider", body = crate::error::Problem, content_type = "application/problem+json"), (status = 422, description = "Unknown provider", body = crate::error::Problem, content_type = "application/problem+json"), (status = 401, description = "Missing or invalid API key", body = crate::error::Problem, content_type = "application/problem+json"), (status = 403, description = "The key lacks the thumbnail_generator scope", body = crate::error::Problem, content_type = "application/problem+json"), (status = 429, description = "Rate limit exceeded", body = crate::error::Problem, content_type = "application/problem+json")),
    security(("bearer" = []), ("api_key" = []))
)]
pub async fn delete(
    Authenticated(caller): Authenticated,
    path: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let provider = provider(&path)?;
    if !provider_keys::delete(&state.db, &caller.org_id, provider).await? {
        return Err(ApiError::NotFound("provider key"));
    }
    Ok(HttpResponse::NoContent().finish())
}
