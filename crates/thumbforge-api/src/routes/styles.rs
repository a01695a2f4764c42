//! Style presets: `POST /api/v1/styles`, `GET /api/v1/styles`, `GET` and
//! `DELETE /api/v1/styles/{id}`. A generation names one with `styleId`
//! (Flokan: `style_id`) and keeps a snapshot of it, so editing or deleting
//! a preset never changes accepted work. Org-scoped: another org's id is a
//! 404 like a missing one.

use actix_web::{HttpRequest, HttpResponse, web};
use serde::Serialize;
use thumbforge_core::StyleSpec;
use thumbforge_db::styles;

use crate::{AppState, auth::Authenticated, body::read_json, error::ApiError};

/// A stored style preset.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct StyleBody {
    pub id: String,
    pub name: String,
    pub background_colors: [String; 2],
    pub accent_color: String,
    pub uppercase: bool,
    pub outline: String,
    pub created_at: i64,
}

/// What `POST /api/v1/styles` takes.
#[derive(Debug, serde::Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct NewStyle {
    #[schema(min_length = 1, max_length = 100)]
    pub name: String,
    /// Two `#rrggbb` colours: the background gradient.
    pub background_colors: [String; 2],
    /// `#rrggbb`: the emphasised word.
    pub accent_color: String,
    /// Headline in capitals (default true).
    pub uppercase: Option<bool>,
    /// `thick` (default), `thin` or `none`.
    #[schema(pattern = "^(thick|thin|none)$")]
    pub outline: Option<String>,
}

/// `GET /api/v1/styles`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct StyleList {
    pub data: Vec<StyleBody>,
}

fn body(style: &styles::Style) -> Result<StyleBody, ApiError> {
    let spec = style.spec()?;
    Ok(StyleBody {
        id: style.id.clone(),
        name: spec.name,
        background_colors: spec.background_colors,
        accent_color: spec.accent_color,
        uppercase: spec.uppercase,
        outline: spec.outline,
        created_at: style.created_at,
    })
}

#[utoipa::path(
    post,
    operation_id = "createStyle",
    path = "/api/v1/styles",
    tag = "styles",
    summary = "Create a style preset",
    request_body = NewStyle,
    responses(
        (status = 201, description = "Created", body = StyleBody),
        (status = 400, description = "The body is not JSON", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 413, description = "The body is too large", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 415, description = "The body is not JSON", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 422, description = "A field is invalid", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 401, description = "Missing or invalid API key", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 403, description = "The key lacks the thumbnail_generator scope", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 429, description = "Rate limit exceeded", body = crate::error::Problem, content_type = "application/problem+json")
    ),
    security(("bearer" = []), ("api_key" = []))
)]
pub async fn create(
    req: HttpRequest,
    Authenticated(caller): Authenticated,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let new: NewStyle = read_json(&req, payload, 8 * 1024).await?;
    let spec = StyleSpec {
        name: new.name,
        background_colors: new.background_colors,
        accent_color: new.accent_color,
        uppercase: new.uppercase.unwrap_or(true),
        outline: new.outline.unwrap_or_else(|| "thick".to_owned()),
    }
    .validate()?;
    let style = styles::create(&state.db, &caller.org_id, &spec).await?;
    Ok(HttpResponse::Created()
        .insert_header(("Location", format!("/api/v1/styles/{}", style.id)))
        .json(body(&style)?))
}

#[utoipa::path(
    get,
    operation_id = "listStyles",
    path = "/api/v1/styles",
    tag = "styles",
    summary = "List style presets",
    responses(
        (status = 200, description = "Newest first", body = StyleList),
        (status = 401, description = "Missing or invalid API key", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 403, description = "The key lacks the thumbnail_generator scope", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 429, description = "Rate limit exceeded", body = crate::error::Problem, content_type = "application/problem+json")
    ),
    security(("bearer" = []), ("api_key" = []))
)]
pub async fn list(
    Authenticated(caller): Authenticated,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let data = styles::list_for_org(&state.db, &caller.org_id, 200)
        .await?
        .iter()
        .map(body)
        .collect::<Result<Vec<_>, _>>()?;
    Ok(HttpResponse::Ok().json(StyleList { data }))
}

#[utoipa::path(
    get,
    operation_id = "getStyle",
    path = "/api/v1/styles/{id}",
    tag = "styles",
    summary = "One style preset",
    params(("id" = String, Path)),
    responses(
        (status = 200, description = "The style", body = StyleBody),
        (status = 404, description = "Not found in this organisation", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 401, description = "Missing or invalid API key", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 403, description = "The key lacks the thumbnail_generator scope", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 429, description = "Rate limit exceeded", body = crate::error::Problem, content_type = "application/problem+json")
    ),
    security(("bearer" = []), ("api_key" = []))
)]
pub async fn get(
    Authenticated(caller): Authenticated,
    path: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let style = styles::find_for_org(&state.db, &caller.org_id, &path)
        .await?
        .ok_or(ApiError::NotFound("style"))?;
    Ok(HttpResponse::Ok().json(body(&style)?))
}

#[utoipa::path(
    delete,
    operation_id = "deleteStyle",
    path = "/api/v1/styles/{id}",
    tag = "styles",
    summary = "Delete a style preset (generations keep their snapshot)",
    params(("id" = String, Path)),
    responses(
        (status = 204, description = "Deleted"),
        (status = 404, description = "Not found in this organisation", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 401, description = "Missing or invalid API key", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 403, description = "The key lacks the thumbnail_generator scope", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 429, description = "Rate limit exceeded", body = crate::error::Problem, content_type = "application/problem+json")
    ),
    security(("bearer" = []), ("api_key" = []))
)]
pub async fn delete(
    Authenticated(caller): Authenticated,
    path: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    if !styles::delete_for_org(&state.db, &caller.org_id, &path).await? {
        return Err(ApiError::NotFound("style"));
    }
    Ok(HttpResponse::NoContent().finish())
}
