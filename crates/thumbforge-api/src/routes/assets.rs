//! Reference assets (FatThumb's person and inspiration images):
//! `POST /api/v1/assets` (multipart: `file`, `kind`), `GET /api/v1/assets`,
//! `GET` and `DELETE /api/v1/assets/{id}`. Uploads are decoded with limits
//! and stored re-encoded as PNG (metadata stripped). Assets are org-scoped:
//! another org's id is a 404 like a missing one.

use actix_multipart::Multipart;
use actix_web::{HttpResponse, web};
use futures::StreamExt;
use serde::{Deserialize, Serialize};
use thumbforge_core::AssetId;
use thumbforge_core::ErrorCode;
use thumbforge_db::{assets, now_ms};
use thumbforge_providers::decode;

use crate::{AppState, auth::Authenticated, error::ApiError};

#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AssetBody {
    pub id: String,
    pub kind: String,
    pub content_type: String,
    pub width: i32,
    pub height: i32,
    pub size_bytes: i64,
    pub filename: Option<String>,
    pub created_at: i64,
}

impl From<assets::Asset> for AssetBody {
    fn from(a: assets::Asset) -> AssetBody {
        AssetBody {
            id: a.id,
            kind: a.kind,
            content_type: a.content_type,
            width: a.width,
            height: a.height,
            size_bytes: a.size_bytes,
            filename: a.filename,
            created_at: a.created_at,
        }
    }
}

const KINDS: [&str; 2] = ["person", "inspiration"];

#[utoipa::path(
    post,
    operation_id = "uploadAsset",
    path = "/api/v1/assets",
    tag = "assets",
    summary = "Upload a reference image",
    request_body(content = String, content_type = "multipart/form-data", description = "kind (person|inspiration) and file"),
    responses((status = 201, description = "Stored", body = AssetBody), (status = 413, description = "The file is too large", body = crate::error::Problem, content_type = "application/problem+json"), (status = 422, description = "Not an image, or a bad kind", body = crate::error::Problem, content_type = "application/problem+json"), (status = 401, description = "Missing or invalid API key", body = crate::error::Problem, content_type = "application/problem+json"), (status = 403, description = "The key lacks the thumbnail_generator scope", body = crate::error::Problem, content_type = "application/problem+json"), (status = 429, description = "Rate limit exceeded", body = crate::error::Problem, content_type = "application/problem+json")),
    security(("bearer" = []), ("api_key" = []))
)]
pub async fn upload(
    Authenticated(caller): Authenticated,
    req: actix_web::HttpRequest,
    mut form: Multipart,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    crate::app::submit::check_storage(&state, &caller).await?;
    let limit = state.max_upload_bytes;
    if let Some(len) = req
        .headers()
        .get(actix_web::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok())
        && len > limit + 64 * 1024
    {
        return Err(ApiError::PayloadTooLarge { limit });
    }
    let mut kind: Option<String> = None;
    let mut file: Option<(Vec<u8>, Option<String>)> = None;
    while let Some(field) = form.next().await {
        let mut field =
            field.map_err(|e| ApiError::invalid(ErrorCode::InvalidMultipart, e.to_string()))?;
        let name = field.name().unwrap_or_default().to_owned();
        let filename = field
            .content_disposition()
            .and_then(|d| d.get_filename())
            .map(|f| f.chars().take(200).collect::<String>());
        // `filename*=UTF-8''a%00b` decodes to a NUL.
        if let Some(filename) = &filename {
            thumbforge_core::refuse_nul("filename", filename)?;
        }
        let cap = if name == "file" { limit } else { 1024 };
        let mut bytes = Vec::new();
        while let Some(chunk) = field.next().await {
            let chunk =
                chunk.map_err(|e| ApiError::invalid(ErrorCode::InvalidMultipart, e.to_string()))?;
            if bytes.len() + chunk.len() > cap {
                if name == "file" {
                    return Err(ApiError::PayloadTooLarge { limit });
                }
                return Err(ApiError::invalid(
                    ErrorCode::InvalidMultipart,
                    format!("field `{name}` is too long"),
                ));
            }
            bytes.extend_from_slice(&chunk);
        }
        match name.as_str() {
            "kind" => kind = Some(String::from_utf8_lossy(&bytes).trim().to_owned()),
            "file" => file = Some((bytes, filename)),
            _ => {}
        }
    }
    let kind = kind.ok_or_else(|| {
        ApiError::invalid(
            ErrorCode::MissingField,
            "the form has no `kind` field (person or inspiration)",
        )
    })?;
    if !KINDS.contains(&kind.as_str()) {
        return Err(ApiError::invalid(
            ErrorCode::InvalidAssetKind,
            format!("kind must be person or inspiration (got `{kind}`)"),
        ));
    }
    let (bytes, filename) = file
        .ok_or_else(|| ApiError::invalid(ErrorCode::MissingField, "the form has no `file` part"))?;
    let limits = state.upload_limits;
    let decoded = tokio::task::spawn_blocking(move || {
        decode::decode_limited(&bytes, &limits).and_then(|(image, _)| {
            decode::to_png(&image).map(|png| (png, image.width(), image.height()))
        })
    })
    .await
    .map_err(ApiError::internal)?;
    let (png, width, height) =
        decoded.map_err(|e| ApiError::invalid(ErrorCode::InvalidImage, e))?;
    let id = AssetId::new().into_string();
    let storage_key = format!("assets/{}/{id}.png", caller.org_id);
    let asset = assets::Asset {
        id,
        org_id: caller.org_id.clone(),
        kind,
        content_type: "image/png".to_owned(),
        storage_key: storage_key.clone(),
        width: width as i32,
        height: height as i32,
        size_bytes: png.len() as i64,
        filename,
        created_at: now_ms(),
    };
    state
        .storage
        .put(&storage_key, png)
        .await
        .map_err(ApiError::internal)?;
    assets::insert(&state.db, &asset).await?;
    Ok(HttpResponse::Created()
        .insert_header(("Location", format!("/api/v1/assets/{}", asset.id)))
        .json(AssetBody::from(asset)))
}

#[utoipa::path(
    get,
    operation_id = "getAsset",
    path = "/api/v1/assets/{id}",
    tag = "assets",
    summary = "One asset",
    params(("id" = String, Path)),
    responses((status = 200, description = "The asset", body = AssetBody), (status = 404, description = "Not found in this organisation", body = crate::error::Problem, content_type = "application/problem+json"), (status = 401, description = "Missing or invalid API key", body = crate::error::Problem, content_type = "application/problem+json"), (status = 403, description = "The key lacks the thumbnail_generator scope", body = crate::error::Problem, content_type = "application/problem+json"), (status = 429, description = "Rate limit exceeded", body = crate::error::Problem, content_type = "application/problem+json")),
    security(("bearer" = []), ("api_key" = []))
)]
pub async fn get(
    Authenticated(caller): Authenticated,
    path: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let asset = assets::find_for_org(&state.db, &caller.org_id, &path)
        .await?
        .ok_or(ApiError::NotFound("asset"))?;
    Ok(HttpResponse::Ok().json(AssetBody::from(asset)))
}

#[utoipa::path(
    delete,
    operation_id = "deleteAsset",
    path = "/api/v1/assets/{id}",
    tag = "assets",
    summary = "Delete an asset",
    params(("id" = String, Path)),
    responses((status = 204, description = "Deleted"), (status = 404, description = "Not found in this organisation", body = crate::error::Problem, content_type = "application/problem+json"), (status = 401, description = "Missing or invalid API key", body = crate::error::Problem, content_type = "application/problem+json"), (status = 403, description = "The key lacks the thumbnail_generator scope", body = crate::error::Problem, content_type = "application/problem+json"), (status = 429, description = "Rate limit exceeded", body = crate::error::Problem, content_type = "application/problem+json")),
    security(("bearer" = []), ("api_key" = []))
)]
pub async fn delete(
    Authenticated(caller): Authenticated,
    path: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let asset = assets::delete_for_org(&state.db, &caller.org_id, &path)
        .await?
        .ok_or(ApiError::NotFound("asset"))?;
    if let Err(e) = state.storage.delete(&asset.storage_key).await {
        tracing::warn!(error = %e, asset.id = %asset.id, "asset file not removed");
    }
    Ok(HttpResponse::NoContent().finish())
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    #[param(pattern = "^(person|inspiration)$")]
    pub kind: Option<String>,
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<u64>,
    /// `createdAt` of the last asset of the previous page.
    pub before: Option<i64>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AssetList {
    pub data: Vec<AssetBody>,
    /// Pass as `before` for the next page; null on the last page.
    pub next_before: Option<i64>,
}

#[utoipa::path(
    get,
    operation_id = "listAssets",
    path = "/api/v1/assets",
    tag = "assets",
    summary = "List assets",
    params(ListQuery),
    responses((status = 200, description = "A page", body = AssetList), (status = 422, description = "A query parameter is invalid", body = crate::error::Problem, content_type = "application/problem+json"), (status = 401, description = "Missing or invalid API key", body = crate::error::Problem, content_type = "application/problem+json"), (status = 403, description = "The key lacks the thumbnail_generator scope", body = crate::error::Problem, content_type = "application/problem+json"), (status = 429, description = "Rate limit exceeded", body = crate::error::Problem, content_type = "application/problem+json")),
    security(("bearer" = []), ("api_key" = []))
)]
pub async fn list(
    Authenticated(caller): Authenticated,
    query: web::Query<ListQuery>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let limit = query.limit.unwrap_or(50);
    if !(1..=200).contains(&limit) {
        return Err(ApiError::invalid(
            ErrorCode::InvalidLimit,
            "limit must be from 1 to 200",
        ));
    }
    if let Some(kind) = &query.kind
        && !KINDS.contains(&kind.as_str())
    {
        return Err(ApiError::invalid(
            ErrorCode::InvalidAssetKind,
            "kind must be person or inspiration",
        ));
    }
    let rows = assets::list_for_org(
        &state.db,
        &caller.org_id,
        query.kind.as_deref(),
        query.before,
        limit,
    )
    .await?;
    let next_before = (rows.len() as u64 == limit)
        .then(|| rows.last().map(|a| a.created_at))
        .flatten();
    Ok(HttpResponse::Ok().json(AssetList {
        data: rows.into_iter().map(AssetBody::from).collect(),
        next_before,
    }))
}
