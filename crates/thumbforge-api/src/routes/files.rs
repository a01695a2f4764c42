//! `GET /files/{thumbnail}.png?exp=…&sig=…`: the image behind a signed URL.
//! Watermarked thumbnails only ever serve their watermarked file.

use actix_web::{HttpResponse, http::header, web};
use serde::Deserialize;
use thumbforge_core::ThumbnailId;
use thumbforge_db::{now_ms, thumbnails};
use thumbforge_storage::StorageError;

use crate::{AppState, error::ApiError};

/// A PNG's bytes.
#[derive(utoipa::ToSchema)]
#[schema(value_type = String, format = Binary)]
pub struct Png(#[allow(dead_code)] Vec<u8>);

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct Signature {
    exp: Option<i64>,
    sig: Option<String>,
}

#[utoipa::path(
    get,
    operation_id = "getFile",
    path = "/files/{name}",
    tag = "files",
    summary = "A thumbnail image behind a signed URL",
    params(("name" = String, Path, description = "{thumbnail}.png"), Signature),
    responses((status = 200, description = "The PNG", content_type = "image/png", body = Png), (status = 403, description = "Bad or expired signature", body = crate::error::Problem, content_type = "application/problem+json"), (status = 404, description = "No such image", body = crate::error::Problem, content_type = "application/problem+json"))
)]
pub async fn get(
    path: web::Path<String>,
    query: Result<web::Query<Signature>, actix_web::Error>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let name = path.into_inner();
    let id = name
        .strip_suffix(".png")
        .and_then(ThumbnailId::parse)
        .ok_or(ApiError::NotFound("image"))?;
    let query = query.map_err(|_| ApiError::InvalidSignature)?;
    let (Some(exp), Some(sig)) = (query.exp, query.sig.as_deref()) else {
        return Err(ApiError::InvalidSignature);
    };
    if !state.signer.verify(id.as_str(), exp, sig) {
        return Err(ApiError::InvalidSignature);
    }
    if exp < now_ms() / 1000 {
        return Err(ApiError::UrlExpired);
    }
    let thumbnail = thumbnails::find(&state.db, id.as_str())
        .await?
        .ok_or(ApiError::NotFound("image"))?;
    let key = crate::wire::served_key(&thumbnail).ok_or(ApiError::NotFound("image"))?;
    let bytes = match state.storage.get(key).await {
        Ok(bytes) => bytes,
        Err(StorageError::NotFound(_)) => return Err(ApiError::NotFound("image")),
        Err(e) => return Err(ApiError::internal(e)),
    };
    Ok(HttpResponse::Ok()
        .content_type("image/png")
        .insert_header((header::CACHE_CONTROL, "private, max-age=3600, immutable"))
        .body(bytes))
}
