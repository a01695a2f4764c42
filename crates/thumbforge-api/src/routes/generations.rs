//! `GET /api/v1/generations/{id}` (FatThumb's "Get Generation Status API"):
//! exactly the documented fields. Another org's generation is a 404, the
//! same answer as a missing one.

use actix_web::{HttpRequest, HttpResponse, web};
use serde::Serialize;
use std::str::FromStr;

use thumbforge_core::{GenerationId, GenerationStatus};
use thumbforge_db::{entities::thumbnails, generations, now_ms};

use crate::{AppState, auth::Authenticated, error::ApiError};

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct GenerationBody {
    pub id: String,
    pub status: String,
    pub model: String,
    pub count: i32,
    pub created_at: i64,
    pub thumbnails: Vec<ThumbnailBody>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ThumbnailBody {
    pub id: String,
    pub status: String,
    pub url: Option<String>,
    pub is_watermarked: bool,
    pub is_hidden: bool,
    pub error: Option<String>,
}

pub async fn get(
    req: HttpRequest,
    Authenticated(caller): Authenticated,
    path: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    // A malformed id and another org's id answer exactly like a missing one.
    let not_found = || ApiError::NotFound("generation");
    let id = GenerationId::parse(&path.into_inner()).ok_or_else(not_found)?;
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
    let view = generations::find_for_org(&state.db, &caller.org_id, id.as_str())
        .await?
        .ok_or_else(not_found)?;
    let thumbnails = view
        .thumbnails
        .iter()
        .map(|t| thumbnail_body(&state, &base, now_secs, t))
        .collect();
    let g = &view.generation;
    let body = serde_json::to_vec(&GenerationBody {
        id: g.id.clone(),
        status: g.status.clone(),
        model: g.model.clone(),
        count: g.count,
        created_at: g.created_at,
        thumbnails,
    })
    .map_err(ApiError::internal)?;
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

fn is_terminal(view: &generations::GenerationView) -> bool {
    GenerationStatus::from_str(&view.generation.status).is_ok_and(|s| s.is_terminal())
}

fn thumbnail_body(
    state: &AppState,
    base: &str,
    now_secs: i64,
    t: &thumbnails::Model,
) -> ThumbnailBody {
    let downloadable = t.status == "succeeded" && !t.is_hidden && t.storage_key.is_some();
    let url = downloadable.then(|| {
        let (expires, sig) = state.signer.sign(&t.id, now_secs, state.url_ttl_secs);
        format!("{base}/files/{}.png?exp={expires}&sig={sig}", t.id)
    });
    ThumbnailBody {
        id: t.id.clone(),
        status: t.status.clone(),
        url,
        is_watermarked: t.is_watermarked,
        is_hidden: t.is_hidden,
        error: t.error.clone(),
    }
}
