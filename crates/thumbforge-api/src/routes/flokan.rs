//! Flokan's Thumbnail Generator API at `/api/v1/thumbnail-generator`, field
//! for field: snake_case bodies, the `{success, data}` envelope,
//! `{success: false, error}` on errors (with our `code` beside it), and
//! Flokan's status codes (400 for validation, `error::FlokanError`). A
//! presenter over the same use cases as the native API (`app`): the same
//! request type, the same checks, the same submit path.

use actix_web::{HttpRequest, HttpResponse, http::StatusCode, web};
use serde::{Deserialize, Serialize};
use serde_json::json;
use thumbforge_core::{
    EndReason, ErrorCode, GenerateRequest, GenerationStatus, Label, ModelId, Prompt, ReferenceUrls,
    ThumbnailCount, ThumbnailStatus, Title,
    request::{ReferenceIds, parse_model, parse_provider},
};
use thumbforge_db::{generations, now_ms};

use crate::{
    AppState,
    app::{
        generations::{self as app, parse_id},
        submit::{NewGeneration, submit},
    },
    auth::Authenticated,
    body::read_json,
    error::{ApiError, FlokanError},
    wire::file_url,
};

/// Where this surface is mounted.
pub const PREFIX: &str = "/api/v1/thumbnail-generator";

type FlokanResult = Result<HttpResponse, FlokanError>;

fn ok(status: StatusCode, data: impl Serialize) -> HttpResponse {
    HttpResponse::build(status).json(json!({ "success": true, "data": data }))
}

fn required<T>(value: Option<T>, field: &str) -> Result<T, ApiError> {
    value.ok_or_else(|| {
        ApiError::invalid(ErrorCode::MissingField, format!("missing field `{field}`"))
    })
}

/// `POST /generate`'s documented body.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct FlokanGenerateBody {
    pub video_title: Option<String>,
    pub prompt: Option<String>,
    pub image_model: Option<String>,
    pub aspect_ratio: Option<String>,
    #[schema(minimum = 1, maximum = 4)]
    pub image_count: Option<i64>,
    pub style_id: Option<String>,
    pub card_id: Option<String>,
    pub youtube_references: Option<Vec<String>>,
    pub reference_image_url: Option<String>,
    pub provider: Option<String>,
}

/// Flokan's models.
const MODELS: [ModelId; 3] = [ModelId::PRO, ModelId::STANDARD, ModelId::CREATIVE];

impl FlokanGenerateBody {
    pub(crate) fn into_request(self, test_model: bool) -> Result<GenerateRequest, ApiError> {
        let title = Title::parse(&required(self.video_title, "video_title")?)?;
        let model = parse_model(&required(self.image_model, "image_model")?)?;
        // The scripted test model stands in for Flokan's in tests only.
        let allowed = MODELS.iter().any(|m| m.as_str() == model.as_str())
            || (test_model && model.as_str() == ModelId::TEST.as_str());
        if !allowed {
            return Err(ApiError::invalid(
                ErrorCode::UnknownModel,
                format!("image_model must be pro, standard or creative (got `{model}`)"),
            ));
        }
        let aspect_ratio = required(self.aspect_ratio, "aspect_ratio")?.parse()?;
        let count = ThumbnailCount::try_from(required(self.image_count, "image_count")?)?;
        let reference_urls = ReferenceUrls::parse(
            self.reference_image_url,
            self.youtube_references.unwrap_or_default(),
        )?;
        // Optional when a reference is given: the title then describes it.
        let prompt = match self.prompt {
            Some(p) => Prompt::try_from(p)?,
            None if !reference_urls.is_empty() => Prompt::try_from(title.as_str().to_owned())?,
            None => {
                return Err(ApiError::invalid(
                    ErrorCode::MissingField,
                    "prompt is required unless youtube_references or reference_image_url is given",
                ));
            }
        };
        Ok(GenerateRequest {
            prompt,
            model: Some(model),
            count,
            aspect_ratio,
            person_ids: ReferenceIds::default(),
            inspiration_ids: ReferenceIds::default(),
            reference_urls,
            provider: self
                .provider
                .as_deref()
                .map(parse_provider)
                .transpose()?
                .unwrap_or_default(),
            title: Some(title),
            card_id: self
                .card_id
                .as_deref()
                .map(|c| Label::parse("card_id", c))
                .transpose()?,
            webhook: None,
            style: None,
            // Flokan's API names no output format: its images are PNGs.
            format: thumbforge_core::OutputFormat::Png,
        })
    }
}

/// A generation as Flokan's responses show it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct FlokanRecord {
    pub id: String,
    pub workspace_id: String,
    pub card_id: Option<String>,
    pub video_title: Option<String>,
    pub prompt: String,
    pub image_model: String,
    pub aspect_ratio: String,
    pub image_count: i32,
    pub status: &'static str,
    pub image_paths: Vec<String>,
    pub image_urls: Vec<String>,
    pub total_file_size_bytes: i64,
    pub generation_time_ms: i64,
    pub created_at: String,
    pub provider_used: String,
    pub credits_consumed: i32,
}

/// Flokan's status for a generation: `pending` until a thumbnail starts,
/// `generating`, then `completed` (with at least one image), `timed_out`
/// when the deadline ended it, else `failed`.
pub fn flokan_status(view: &generations::GenerationView) -> &'static str {
    let timed_out = view
        .thumbnails
        .iter()
        .any(|t| t.end_reason == Some(EndReason::TimedOut));
    match view.generation.status {
        GenerationStatus::Processing => {
            if view.thumbnails.iter().any(|t| t.started_at.is_some()) {
                "generating"
            } else {
                "pending"
            }
        }
        GenerationStatus::Succeeded | GenerationStatus::Partial => "completed",
        GenerationStatus::Failed | GenerationStatus::Canceled if timed_out => "timed_out",
        GenerationStatus::Failed | GenerationStatus::Canceled => "failed",
    }
}

fn iso8601(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .unwrap_or_default()
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

async fn record(state: &AppState, base: &str, view: &generations::GenerationView) -> FlokanRecord {
    let now_secs = now_ms() / 1000;
    let mut image_urls = Vec::new();
    for t in &view.thumbnails {
        image_urls.extend(file_url(state, base, now_secs, t).await);
    }
    let g = &view.generation;
    let done: Vec<_> = view
        .thumbnails
        .iter()
        .filter(|t| t.status == ThumbnailStatus::Succeeded)
        .collect();
    FlokanRecord {
        id: g.id.clone(),
        workspace_id: g.org_id.clone(),
        card_id: g.card_id.clone(),
        video_title: g.title.clone(),
        prompt: g.prompt.clone(),
        image_model: g.model.clone(),
        aspect_ratio: g.aspect_ratio.clone(),
        image_count: g.count,
        status: flokan_status(view),
        image_paths: done
            .iter()
            .filter_map(|t| crate::wire::client_key(t).map(str::to_owned))
            .collect(),
        image_urls,
        total_file_size_bytes: done.iter().filter_map(|t| t.file_size_bytes).sum(),
        generation_time_ms: g
            .completed_at
            .map(|c| c - g.created_at)
            .unwrap_or_else(|| now_ms() - g.created_at)
            .max(0),
        created_at: iso8601(g.created_at),
        provider_used: g.provider_used.clone(),
        credits_consumed: g.credits_consumed,
    }
}

/// `POST /generate`: synchronous. Answers 201 once the generation ends, or
/// with its current record and status when it outlives
/// `api.sync_wait_secs`.
#[utoipa::path(
    post,
    operation_id = "flokanCreateGeneration",
    path = "/api/v1/thumbnail-generator/generate",
    tag = "flokan",
    summary = "Generate thumbnails synchronously (Flokan)",
    request_body = FlokanGenerateBody,
    responses((status = 201, description = "{success, data: record}", body = serde_json::Value), (status = 400, description = "Validation error", body = crate::error::FlokanErrorBody, content_type = "application/json"), (status = 402, description = "Insufficient credits", body = crate::error::FlokanErrorBody, content_type = "application/json"), (status = 404, description = "Style not found", body = crate::error::FlokanErrorBody, content_type = "application/json"), (status = 422, description = "BYOK provider not configured", body = crate::error::FlokanErrorBody, content_type = "application/json"), (status = 401, description = "Missing or invalid API key", body = crate::error::FlokanErrorBody, content_type = "application/json"), (status = 403, description = "The key lacks the thumbnail_generator scope", body = crate::error::FlokanErrorBody, content_type = "application/json"), (status = 429, description = "Rate limit exceeded (rate_limited), or the organisation already has its plan's most thumbnails waiting (queue_full)", body = crate::error::FlokanErrorBody, content_type = "application/json")),
    security(("bearer" = []), ("api_key" = []))
)]
pub async fn generate(
    req: HttpRequest,
    caller: Result<Authenticated, ApiError>,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> FlokanResult {
    let Authenticated(caller) = caller?;
    let body: FlokanGenerateBody = read_json(&req, payload, state.max_body_bytes).await?;
    let style_id = body.style_id.clone();
    let new = NewGeneration {
        request: body.into_request(state.test_model_enabled)?,
        style_id: style_id.as_deref(),
        idempotency_key: None,
        sync: true,
    };
    let id = submit(&state, &caller, new).await?.generation_id;
    let view = match app::wait_terminal(&state, &caller, &id, state.sync_wait).await? {
        Some(view) => view,
        None => app::get(&state, &caller, &id).await?,
    };
    Ok(ok(
        StatusCode::CREATED,
        record(&state, &state.base_url(&req), &view).await,
    ))
}

/// The last page number accepted.
const MAX_PAGE: u64 = 1_000_000;

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    #[param(minimum = 1, maximum = 1000000)]
    pub page: Option<u64>,
    #[param(minimum = 1, maximum = 100)]
    pub per_page: Option<u64>,
    #[param(pattern = "^(pending|generating|completed|failed|timed_out)$")]
    pub status: Option<String>,
    pub card_id: Option<String>,
}

/// `GET /generations`: page-numbered, newest first.
#[utoipa::path(
    get,
    operation_id = "flokanListGenerations",
    path = "/api/v1/thumbnail-generator/generations",
    tag = "flokan",
    summary = "List generations (Flokan)",
    params(ListQuery),
    responses((status = 200, description = "{success, data, pagination}", body = serde_json::Value), (status = 400, description = "A query parameter is invalid", body = crate::error::FlokanErrorBody, content_type = "application/json"), (status = 401, description = "Missing or invalid API key", body = crate::error::FlokanErrorBody, content_type = "application/json"), (status = 403, description = "The key lacks the thumbnail_generator scope", body = crate::error::FlokanErrorBody, content_type = "application/json"), (status = 429, description = "Rate limit exceeded", body = crate::error::FlokanErrorBody, content_type = "application/json")),
    security(("bearer" = []), ("api_key" = []))
)]
pub async fn list(
    req: HttpRequest,
    caller: Result<Authenticated, ApiError>,
    state: web::Data<AppState>,
) -> FlokanResult {
    let Authenticated(caller) = caller?;
    let invalid = |detail: &str| ApiError::invalid(ErrorCode::InvalidQuery, detail);
    let query = web::Query::<ListQuery>::from_query(req.query_string())
        .map_err(|e| invalid(&e.to_string()))?
        .into_inner();
    let page = query.page.unwrap_or(1);
    let per_page = query.per_page.unwrap_or(25);
    if !(1..=MAX_PAGE).contains(&page) {
        return Err(invalid("page must be from 1 to 1000000").into());
    }
    if !(1..=100).contains(&per_page) {
        return Err(invalid("per_page must be from 1 to 100").into());
    }
    let status = match query.status.as_deref() {
        None => None,
        Some(s) => Some(generations::FlokanStatus::parse(s).ok_or_else(|| {
            invalid("status must be pending, generating, completed, failed or timed_out")
        })?),
    };
    if let Some(card) = &query.card_id {
        Label::parse("card_id", card).map_err(ApiError::from)?;
    }
    let (views, total) = app::page(
        &state,
        &caller,
        status,
        query.card_id.as_deref(),
        page,
        per_page,
    )
    .await?;
    let base = state.base_url(&req);
    let mut data: Vec<FlokanRecord> = Vec::with_capacity(views.len());
    for v in &views {
        data.push(record(&state, &base, v).await);
    }
    Ok(HttpResponse::Ok().json(json!({
        "success": true,
        "data": data,
        "pagination": { "page": page, "per_page": per_page, "total": total },
    })))
}

/// `GET /generations/{id}`: the same record as generate's.
#[utoipa::path(
    get,
    operation_id = "flokanGetGeneration",
    path = "/api/v1/thumbnail-generator/generations/{id}",
    tag = "flokan",
    summary = "One generation (Flokan)",
    params(("id" = String, Path)),
    responses((status = 200, description = "{success, data: record}", body = serde_json::Value), (status = 404, description = "Not found", body = crate::error::FlokanErrorBody, content_type = "application/json"), (status = 401, description = "Missing or invalid API key", body = crate::error::FlokanErrorBody, content_type = "application/json"), (status = 403, description = "The key lacks the thumbnail_generator scope", body = crate::error::FlokanErrorBody, content_type = "application/json"), (status = 429, description = "Rate limit exceeded", body = crate::error::FlokanErrorBody, content_type = "application/json")),
    security(("bearer" = []), ("api_key" = []))
)]
pub async fn get(
    req: HttpRequest,
    caller: Result<Authenticated, ApiError>,
    path: web::Path<String>,
    state: web::Data<AppState>,
) -> FlokanResult {
    let Authenticated(caller) = caller?;
    let view = app::get(&state, &caller, &parse_id(&path.into_inner())?).await?;
    Ok(ok(
        StatusCode::OK,
        record(&state, &state.base_url(&req), &view).await,
    ))
}

/// `DELETE /generations/{id}`: the row and its images.
#[utoipa::path(
    delete,
    operation_id = "flokanDeleteGeneration",
    path = "/api/v1/thumbnail-generator/generations/{id}",
    tag = "flokan",
    summary = "Delete a generation (Flokan)",
    params(("id" = String, Path)),
    responses((status = 200, description = "{success, data: {id, deleted}}", body = serde_json::Value), (status = 404, description = "Not found", body = crate::error::FlokanErrorBody, content_type = "application/json"), (status = 401, description = "Missing or invalid API key", body = crate::error::FlokanErrorBody, content_type = "application/json"), (status = 403, description = "The key lacks the thumbnail_generator scope", body = crate::error::FlokanErrorBody, content_type = "application/json"), (status = 429, description = "Rate limit exceeded", body = crate::error::FlokanErrorBody, content_type = "application/json")),
    security(("bearer" = []), ("api_key" = []))
)]
pub async fn delete(
    caller: Result<Authenticated, ApiError>,
    path: web::Path<String>,
    state: web::Data<AppState>,
) -> FlokanResult {
    let Authenticated(caller) = caller?;
    let id = parse_id(&path.into_inner())?;
    app::delete(&state, &caller, &id).await?;
    Ok(ok(
        StatusCode::OK,
        json!({ "id": id.as_str(), "deleted": true }),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A Flokan generation of one thumbnail per entry of `thumbs` (status,
    /// end reason, started), the generation itself `status`.
    fn view(
        status: &str,
        thumbs: &[(&str, Option<EndReason>, bool)],
    ) -> generations::GenerationView {
        let body = json!({"video_title": "t", "prompt": "p", "image_model": "pro",
            "aspect_ratio": "16:9", "image_count": thumbs.len()});
        let request = serde_json::from_value::<FlokanGenerateBody>(body)
            .expect("a body")
            .into_request(false)
            .expect("a request");
        let mut view = generations::build(
            "org_1",
            thumbforge_core::Plan::Pro,
            ModelId::PRO,
            6,
            &request,
        );
        view.generation.status = status.parse().expect("status");
        for (t, (status, reason, started)) in view.thumbnails.iter_mut().zip(thumbs) {
            t.status = status.parse().expect("status");
            t.error = reason.map(|r| r.to_string());
            t.end_reason = *reason;
            t.started_at = started.then_some(1);
        }
        view
    }

    #[test]
    fn statuses_map_to_flokans() {
        // Read from the typed reason, whatever the message says.
        let timed_out = Some(EndReason::TimedOut);
        for (status, thumbs, expected) in [
            ("processing", vec![("processing", None, false)], "pending"),
            ("processing", vec![("processing", None, true)], "generating"),
            ("succeeded", vec![("succeeded", None, true)], "completed"),
            (
                "partial",
                vec![
                    ("succeeded", None, true),
                    ("failed", Some(EndReason::ModelError), true),
                ],
                "completed",
            ),
            (
                "failed",
                vec![("failed", Some(EndReason::ModelError), true)],
                "failed",
            ),
            ("failed", vec![("failed", timed_out, true)], "timed_out"),
            (
                "canceled",
                vec![("canceled", Some(EndReason::Canceled), false)],
                "failed",
            ),
        ] {
            assert_eq!(
                flokan_status(&view(status, &thumbs)),
                expected,
                "{status} {thumbs:?}"
            );
        }
    }
}
