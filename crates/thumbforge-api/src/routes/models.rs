//! `GET /api/v1/models`: the catalogue as this server serves it, for
//! clients that offer a choice (the playground's model picker).

use actix_web::{HttpResponse, web};
use serde::Serialize;
use thumbforge_core::{ModelId, ProviderChoice};

use crate::{AppState, auth::Authenticated, error::ApiError};

#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ModelInfo {
    /// The name to send as `model`.
    pub name: &'static str,
    /// Credits per thumbnail on the server's keys (the org's own key: 0).
    pub credits: u32,
    /// The lowest plan that may use it.
    pub min_plan: &'static str,
    /// Whether this caller may use it on the server's keys now: its plan
    /// allows it and the server has a key for one of its providers.
    pub available: bool,
    /// The server's default model.
    pub default: bool,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ModelList {
    pub data: Vec<ModelInfo>,
}

#[utoipa::path(
    get,
    operation_id = "listModels",
    path = "/api/v1/models",
    tag = "generations",
    summary = "The models this server knows, and which the caller can use",
    responses((status = 200, description = "The catalogue", body = ModelList), (status = 401, description = "Missing or invalid API key", body = crate::error::Problem, content_type = "application/problem+json"), (status = 403, description = "The key lacks the thumbnail_generator scope", body = crate::error::Problem, content_type = "application/problem+json"), (status = 429, description = "Rate limit exceeded", body = crate::error::Problem, content_type = "application/problem+json")),
    security(("bearer" = []), ("api_key" = []))
)]
pub async fn list(
    Authenticated(caller): Authenticated,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let data = state
        .providers
        .catalogue()
        .iter()
        .filter(|(m, _)| *m != ModelId::TEST || state.test_model_enabled)
        .map(|(model, entry)| ModelInfo {
            name: model.as_str(),
            credits: entry.credits,
            min_plan: entry.min_plan.as_str(),
            available: entry.allowed_on(caller.plan)
                && state
                    .providers
                    .route(model, ProviderChoice::Platform)
                    .is_ok(),
            default: model == state.default_model,
        })
        .collect();
    Ok(HttpResponse::Ok().json(ModelList { data }))
}
