//! Flokan's `POST /youtube-search`: a presenter over `app::youtube`.

use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;
use serde_json::json;

use crate::{
    AppState,
    app::youtube,
    auth::Authenticated,
    body::read_json,
    error::{ApiError, FlokanError},
};

#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct SearchBody {
    pub query: Option<String>,
    pub page_token: Option<String>,
}

#[utoipa::path(
    post,
    operation_id = "searchYoutube",
    path = "/api/v1/thumbnail-generator/youtube-search",
    tag = "flokan",
    summary = "Search YouTube for reference thumbnails",
    request_body = SearchBody,
    responses((status = 200, description = "{success, data: {results, next_page_token}}", body = serde_json::Value), (status = 400, description = "Invalid query", body = crate::error::FlokanErrorBody, content_type = "application/json"), (status = 502, description = "YouTube failed", body = crate::error::FlokanErrorBody, content_type = "application/json"), (status = 503, description = "YouTube search is not configured", body = crate::error::FlokanErrorBody, content_type = "application/json"), (status = 401, description = "Missing or invalid API key", body = crate::error::FlokanErrorBody, content_type = "application/json"), (status = 403, description = "The key lacks the thumbnail_generator scope", body = crate::error::FlokanErrorBody, content_type = "application/json"), (status = 429, description = "Rate limit exceeded", body = crate::error::FlokanErrorBody, content_type = "application/json")),
    security(("bearer" = []), ("api_key" = []))
)]
pub async fn search(
    req: HttpRequest,
    caller: Result<Authenticated, ApiError>,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, FlokanError> {
    caller?;
    let body: SearchBody = read_json(&req, payload, 8 * 1024).await?;
    let data = youtube::search(
        &state,
        body.query.as_deref().unwrap_or_default(),
        body.page_token.as_deref(),
    )
    .await?;
    Ok(HttpResponse::Ok().json(json!({ "success": true, "data": data })))
}
