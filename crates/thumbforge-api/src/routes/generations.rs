//! `GET /api/v1/generations/{id}` (FatThumb's "Get Generation Status API"):
//! exactly the documented fields. Another org's generation is a 404, the
//! same answer as a missing one.

use actix_web::{HttpRequest, HttpResponse, web};
use serde::{Deserialize, Serialize};
use std::str::FromStr;
use thumbforge_core::ErrorCode;

use thumbforge_core::{GenerationId, GenerationStatus, ThumbnailStatus};
use thumbforge_db::{entities::thumbnails, generations, now_ms};

use crate::{AppState, auth::Authenticated, error::ApiError};

#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct GenerationBody {
    pub id: String,
    pub status: String,
    pub model: String,
    pub count: i32,
    pub created_at: i64,
    pub thumbnails: Vec<ThumbnailBody>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ThumbnailBody {
    pub id: String,
    pub status: String,
    pub url: Option<String>,
    pub is_watermarked: bool,
    pub is_hidden: bool,
    pub error: Option<String>,
}

#[utoipa::path(
    get,
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
    let now_secs = now_ms() / 1000;
    // A terminal generation's whole answer is the same until its URLs'
    // expiry step changes: serve the bytes, if they were made for this org
    // and base URL.
    let body_key = (
        id.as_str().to_owned(),
        crate::signing::UrlSigner::expiry(now_secs, state.url_ttl_secs),
    );
    if let Some(body) = state.caches.bodies.get(&body_key)
        && body.org_id == caller.org_id
        && body.base == base
    {
        return Ok(HttpResponse::Ok()
            .content_type("application/json")
            .body(body.bytes.clone()));
    }
    let view = find_view(&state, &caller.org_id, &id).await?;
    let body = serde_json::to_vec(&render(&state, &base, &view)).map_err(ApiError::internal)?;
    let body = actix_web::web::Bytes::from(body);
    // A terminal generation never changes again: keep its answer.
    if is_terminal(&view) {
        let cached = crate::startup::CachedBody {
            org_id: caller.org_id.clone(),
            base,
            bytes: body.clone(),
        };
        state
            .caches
            .bodies
            .insert(body_key, std::sync::Arc::new(cached));
    }
    Ok(HttpResponse::Ok()
        .content_type("application/json")
        .body(body))
}

/// A generation id from a path or argument. A malformed id answers 404,
/// exactly like a missing one or another org's.
pub fn parse_id(raw: &str) -> Result<GenerationId, ApiError> {
    GenerationId::parse(raw).ok_or(ApiError::NotFound("generation"))
}

/// The org's generation with its thumbnails, or the same 404.
pub async fn find_view(
    state: &AppState,
    org_id: &str,
    id: &GenerationId,
) -> Result<generations::GenerationView, ApiError> {
    generations::find_for_org(&state.db, org_id, id.as_str())
        .await?
        .ok_or(ApiError::NotFound("generation"))
}

/// A generation as every native endpoint shows it: FatThumb's fields.
pub fn render(state: &AppState, base: &str, view: &generations::GenerationView) -> GenerationBody {
    let now_secs = now_ms() / 1000;
    let g = &view.generation;
    GenerationBody {
        id: g.id.clone(),
        status: g.status.to_string(),
        model: g.model.clone(),
        count: g.count,
        created_at: g.created_at,
        thumbnails: view
            .thumbnails
            .iter()
            .map(|t| thumbnail_body(state, base, now_secs, t))
            .collect(),
    }
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

fn invalid(code: ErrorCode, detail: impl Into<String>) -> ApiError {
    ApiError::InvalidField {
        code,
        detail: detail.into(),
    }
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
        return Err(invalid(
            ErrorCode::InvalidLimit,
            "limit must be from 1 to 100",
        ));
    }
    let status = match &query.status {
        Some(status) => Some(GenerationStatus::from_str(status).map_err(|_| {
            invalid(
                ErrorCode::InvalidStatus,
                "status must be processing, succeeded, failed, partial or canceled",
            )
        })?),
        None => None,
    };
    let after = match &query.cursor {
        Some(c) => Some(decode_cursor(c).ok_or_else(|| {
            invalid(
                ErrorCode::InvalidCursor,
                "cursor is not one this API returned",
            )
        })?),
        None => None,
    };
    let filter = generations::ListFilter {
        status,
        model: query.model.clone(),
        card_id: None,
        created_before: query.created_before,
        created_after: query.created_after,
        after,
    };
    // One more than asked tells whether another page exists.
    let mut views =
        generations::list_for_org(&state.db, &caller.org_id, &filter, limit + 1).await?;
    let has_more = views.len() as u64 > limit;
    views.truncate(limit as usize);
    let next_cursor = has_more
        .then(|| {
            views
                .last()
                .map(|v| encode_cursor(v.generation.created_at, &v.generation.id))
        })
        .flatten();
    let base = state.base_url(&req);
    Ok(HttpResponse::Ok().json(GenerationList {
        data: views.iter().map(|v| render(&state, &base, v)).collect(),
        next_cursor,
        has_more,
    }))
}

/// `POST /api/v1/generations/{id}/cancel`: what has not finished never
/// will, and costs nothing. Answers the generation as it now stands; a
/// generation that already ended is answered unchanged.
#[utoipa::path(
    post,
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
    let id = parse_id(&path.into_inner())?;
    thumbforge_db::lifecycle::cancel(&state.db, &caller.org_id, id.as_str())
        .await?
        .ok_or(ApiError::NotFound("generation"))?;
    let view = find_view(&state, &caller.org_id, &id).await?;
    Ok(HttpResponse::Ok().json(render(&state, &state.base_url(&req), &view)))
}

/// `DELETE /api/v1/generations/{id}`: cancels what still runs, deletes the
/// rows and the stored images.
#[utoipa::path(
    delete,
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
    let id = parse_id(&path.into_inner())?;
    delete_generation(&state, &caller.org_id, &id).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Deletes the org's generation (canceling what still runs), its cached
/// answer on this replica, and its image files.
pub async fn delete_generation(
    state: &AppState,
    org_id: &str,
    id: &GenerationId,
) -> Result<(), ApiError> {
    let view = generations::delete_for_org(&state.db, org_id, id.as_str())
        .await?
        .ok_or(ApiError::NotFound("generation"))?;
    // This replica's cached answer goes now; see docs/api.md for others.
    forget_cached(state, id.as_str());
    for t in &view.thumbnails {
        for key in [
            thumbforge_storage::thumbnail_key(id.as_str(), &t.id),
            thumbforge_storage::watermarked_key(id.as_str(), &t.id),
        ] {
            if let Err(e) = state.storage.delete(&key).await {
                tracing::debug!(error = %e, key, "no file to delete");
            }
        }
    }
    Ok(())
}

fn is_terminal(view: &generations::GenerationView) -> bool {
    view.generation.status.is_terminal()
}

fn thumbnail_body(
    state: &AppState,
    base: &str,
    now_secs: i64,
    t: &thumbnails::Model,
) -> ThumbnailBody {
    let downloadable =
        t.status == ThumbnailStatus::Succeeded && !t.is_hidden && t.storage_key.is_some();
    let url = downloadable.then(|| {
        let (expires, sig) = state.signer.sign(&t.id, now_secs, state.url_ttl_secs);
        format!("{base}/files/{}.png?exp={expires}&sig={sig}", t.id)
    });
    ThumbnailBody {
        id: t.id.clone(),
        status: t.status.to_string(),
        url,
        is_watermarked: t.is_watermarked,
        is_hidden: t.is_hidden,
        error: t.error.clone(),
    }
}

/// Drops this replica's cached answer for a generation that changed after
/// it ended (deleted, or reopened by an operator's retry).
pub fn forget_cached(state: &AppState, generation_id: &str) {
    let step = crate::signing::UrlSigner::expiry(now_ms() / 1000, state.url_ttl_secs);
    state
        .caches
        .bodies
        .invalidate(&(generation_id.to_owned(), step));
}
