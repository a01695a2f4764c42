//! `GET /api/v1/generations/{id}` (FatThumb's "Get Generation Status API"),
//! the list, cancel and delete: presenters over `app::generations`, with
//! exactly the documented fields.

use std::{str::FromStr, sync::Arc};

use actix_web::{HttpRequest, HttpResponse, web};
use serde::{Deserialize, Serialize};
use thumbforge_core::{ErrorCode, GenerationId, GenerationStatus};
use thumbforge_db::{generations::ListFilter, now_ms};

use crate::{
    AppState,
    app::generations::{self as app, parse_id},
    auth::Authenticated,
    error::ApiError,
    signing::UrlSigner,
    state::CachedBody,
    wire::GenerationBody,
};

#[utoipa::path(
    get,
    operation_id = "getGeneration",
    path = "/api/v1/generations/{id}",
    tag = "generations",
    summary = "One generation (FatThumb)",
    params(("id" = String, Path)),
    responses((status = 200, description = "The generation", body = GenerationBody), (status = 404, description = "Not found in this organisation", body = crate::error::Problem, content_type = "application/problem+json"), (status = 401, description = "Missing or invalid API key", body = crate::error::Problem, content_type = "application/problem+json"), (status = 403, description = "The key lacks the thumbnail_generator scope", body = crate::error::Problem, content_type = "application/problem+json"), (status = 429, description = "Rate limit exceeded", body = crate::error::Problem, content_type = "application/problem+json")),
    security(("bearer" = []), ("api_key" = []))
)]
pub async fn get(
    req: HttpRequest,
    Authenticated(caller): Authenticated,
    path: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let id = parse_id(&path.into_inner())?;
    let base = state.base_url(&req);
    // A terminal generation's whole answer is the same until its URLs'
    // expiry step changes: serve the bytes, if they were made for this org
    // and base URL.
    let body_key = (
        id.as_str().to_owned(),
        UrlSigner::expiry(now_ms() / 1000, state.url_ttl_secs),
    );
    if let Some(body) = state.caches.bodies.get(&body_key)
        && body.org_id == caller.org_id
        && body.base == base
    {
        return Ok(HttpResponse::Ok()
            .content_type("application/json")
            .body(body.bytes.clone()));
    }
    let view = app::get(&state, &caller, &id).await?;
    let standings = app::standings(&state, &view).await;
    let body = serde_json::to_vec(&GenerationBody::placed(&state, &base, &view, &standings).await)
        .map_err(ApiError::internal)?;
    let body = web::Bytes::from(body);
    // A terminal generation never changes again: keep its answer.
    if view.generation.status.is_terminal() {
        let cached = CachedBody {
            org_id: caller.org_id.clone(),
            base,
            bytes: body.clone(),
        };
        state.caches.bodies.insert(body_key, Arc::new(cached));
    }
    Ok(HttpResponse::Ok()
        .content_type("application/json")
        .body(body))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(rename_all = "camelCase")]
pub struct ListQuery {
    #[param(pattern = "^(processing|succeeded|failed|partial|canceled)$")]
    pub status: Option<String>,
    pub model: Option<String>,
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<u64>,
    /// `nextCursor` of the previous page.
    pub cursor: Option<String>,
    /// Unix ms bounds on `createdAt`.
    pub created_after: Option<i64>,
    pub created_before: Option<i64>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct GenerationList {
    pub data: Vec<GenerationBody>,
    /// Pass as `cursor` for the next page; null on the last one.
    pub next_cursor: Option<String>,
    pub has_more: bool,
}

/// A keyset cursor: `createdAt.id` of the last item, base64url.
fn encode_cursor(created_at: i64, id: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!("{created_at}.{id}"))
}

fn decode_cursor(cursor: &str) -> Option<(i64, String)> {
    use base64::Engine;
    let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(cursor)
        .ok()?;
    let raw = String::from_utf8(raw).ok()?;
    let (at, id) = raw.split_once('.')?;
    Some((at.parse().ok()?, GenerationId::parse(id)?.into_string()))
}

/// `GET /api/v1/generations`: the caller's generations, newest first,
/// keyset-paginated.
#[utoipa::path(
    get,
    operation_id = "listGenerations",
    path = "/api/v1/generations",
    tag = "generations",
    summary = "List generations",
    params(ListQuery),
    responses((status = 200, description = "A page", body = GenerationList), (status = 422, description = "A query parameter is invalid", body = crate::error::Problem, content_type = "application/problem+json"), (status = 401, description = "Missing or invalid API key", body = crate::error::Problem, content_type = "application/problem+json"), (status = 403, description = "The key lacks the thumbnail_generator scope", body = crate::error::Problem, content_type = "application/problem+json"), (status = 429, description = "Rate limit exceeded", body = crate::error::Problem, content_type = "application/problem+json")),
    security(("bearer" = []), ("api_key" = []))
)]
pub async fn list(
    req: HttpRequest,
    Authenticated(caller): Authenticated,
    query: web::Query<ListQuery>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let limit = query.limit.unwrap_or(20);
    if !(1..=100).contains(&limit) {
        return Err(ApiError::invalid(
            ErrorCode::InvalidLimit,
            "limit must be from 1 to 100",
        ));
    }
    let status = match &query.status {
        Some(status) => Some(GenerationStatus::from_str(status).map_err(|_| {
            ApiError::invalid(
                ErrorCode::InvalidStatus,
                "status must be processing, succeeded, failed, partial or canceled",
            )
        })?),
        None => None,
    };
    let after = match &query.cursor {
        Some(c) => Some(decode_cursor(c).ok_or_else(|| {
            ApiError::invalid(
                ErrorCode::InvalidCursor,
                "cursor is not one this API returned",
            )
        })?),
        None => None,
    };
    let filter = ListFilter {
        status,
        model: query.model.clone(),
        card_id: None,
        created_before: query.created_before,
        created_after: query.created_after,
        after,
    };
    let (views, has_more) = app::list(&state, &caller, &filter, limit).await?;
    let next_cursor = has_more
        .then(|| {
            views
                .last()
                .map(|v| encode_cursor(v.generation.created_at, &v.generation.id))
        })
        .flatten();
    let base = state.base_url(&req);
    let mut data = Vec::with_capacity(views.len());
    for v in &views {
        data.push(GenerationBody::new(&state, &base, v).await);
    }
    Ok(HttpResponse::Ok().json(GenerationList {
        data,
        next_cursor,
        has_more,
    }))
}

/// `POST /api/v1/generations/{id}/cancel`: what has not finished never
/// will, and costs nothing. Answers the generation as it now stands; a
/// generation that already ended is answered unchanged.
#[utoipa::path(
    post,
    operation_id = "cancelGeneration",
    path = "/api/v1/generations/{id}/cancel",
    tag = "generations",
    summary = "Cancel what has not finished",
    params(("id" = String, Path)),
    responses((status = 200, description = "The generation now", body = GenerationBody), (status = 404, description = "Not found in this organisation", body = crate::error::Problem, content_type = "application/problem+json"), (status = 401, description = "Missing or invalid API key", body = crate::error::Problem, content_type = "application/problem+json"), (status = 403, description = "The key lacks the thumbnail_generator scope", body = crate::error::Problem, content_type = "application/problem+json"), (status = 429, description = "Rate limit exceeded", body = crate::error::Problem, content_type = "application/problem+json")),
    security(("bearer" = []), ("api_key" = []))
)]
pub async fn cancel(
    req: HttpRequest,
    Authenticated(caller): Authenticated,
    path: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let view = app::cancel(&state, &caller, &parse_id(&path.into_inner())?).await?;
    Ok(HttpResponse::Ok().json(GenerationBody::new(&state, &state.base_url(&req), &view).await))
}

/// `DELETE /api/v1/generations/{id}`: cancels what still runs, deletes the
/// rows and the stored images.
#[utoipa::path(
    delete,
    operation_id = "deleteGeneration",
    path = "/api/v1/generations/{id}",
    tag = "generations",
    summary = "Delete a generation and its images",
    params(("id" = String, Path)),
    responses((status = 204, description = "Deleted"), (status = 404, description = "Not found in this organisation", body = crate::error::Problem, content_type = "application/problem+json"), (status = 401, description = "Missing or invalid API key", body = crate::error::Problem, content_type = "application/problem+json"), (status = 403, description = "The key lacks the thumbnail_generator scope", body = crate::error::Problem, content_type = "application/problem+json"), (status = 429, description = "Rate limit exceeded", body = crate::error::Problem, content_type = "application/problem+json")),
    security(("bearer" = []), ("api_key" = []))
)]
pub async fn delete(
    Authenticated(caller): Authenticated,
    path: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    app::delete(&state, &caller, &parse_id(&path.into_inner())?).await?;
    Ok(HttpResponse::NoContent().finish())
}
