//! `GET /files/{thumbnail}.{png|jpg|webp}?exp=…&sig=…`: the image behind a
//! signed URL, with its format's `Content-Type`. The extension must be the
//! thumbnail's format's (a PNG's URL is what it always was). Watermarked
//! thumbnails only ever serve their watermarked file.

use actix_web::{HttpResponse, http::header, web};
use serde::Deserialize;
use thumbforge_core::ThumbnailId;
use thumbforge_db::{now_ms, thumbnails};
use thumbforge_storage::StorageError;

use crate::{AppState, error::ApiError};

/// An image's bytes (PNG, JPEG or WebP).
#[derive(utoipa::ToSchema)]
#[schema(value_type = String, format = Binary)]
pub struct Image(#[allow(dead_code)] Vec<u8>);

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
    params(("name" = String, Path, description = "{thumbnail}.png, .jpg or .webp: the thumbnail's format"), Signature),
    responses((status = 200, description = "The image, at most 2 MB", content((Image = "image/png"), (Image = "image/jpeg"), (Image = "image/webp"))), (status = 403, description = "Bad or expired signature", body = crate::error::Problem, content_type = "application/problem+json"), (status = 404, description = "No such image", body = crate::error::Problem, content_type = "application/problem+json"))
)]
pub async fn get(
    path: web::Path<String>,
    query: Result<web::Query<Signature>, actix_web::Error>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let name = path.into_inner();
    let (id, extension) = name
        .rsplit_once('.')
        .and_then(|(id, extension)| Some((ThumbnailId::parse(id)?, extension)))
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
        .filter(|t| t.format.extension() == extension)
        .ok_or(ApiError::NotFound("image"))?;
    let key = crate::wire::served_key(&thumbnail).ok_or(ApiError::NotFound("image"))?;
    let bytes = match state.storage.get(key).await {
        Ok(bytes) => bytes,
        Err(StorageError::NotFound(_)) => return Err(ApiError::NotFound("image")),
        Err(e) => return Err(ApiError::internal(e)),
    };
    Ok(HttpResponse::Ok()
        .content_type(thumbnail.format.content_type())
        .insert_header((header::CACHE_CONTROL, "private, max-age=3600, immutable"))
        .body(bytes))
}
