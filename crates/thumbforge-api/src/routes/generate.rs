//! `POST /api/v1/generate` (FatThumb's "Generate Thumbnail API").
//!
//! Answers `202 Accepted` as soon as the generation and its thumbnails are
//! committed (batched with concurrent submits: `crate::submit`). Jobs are
//! enqueued after the commit; if that fails the answer is still 202,
//! because the sweeper enqueues any committed thumbnail whose job never
//! reached the queue.

use actix_web::{HttpRequest, HttpResponse, web};
use serde::{Deserialize, Serialize};
use thumbforge_core::{
    GenerateRequest, Prompt, ProviderChoice, ReferenceUrls, ThumbnailCount, ValidationError,
    request::{ReferenceIds, parse_model, parse_provider},
};
use thumbforge_db::{generations, provider_keys};
use tracing::{info, warn};

use crate::{AppState, auth::Authenticated, body::read_json, error::ApiError, submit::Pushed};

/// The documented camelCase body. Unknown fields are ignored, as FatThumb
/// clients may send more than this server reads.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GenerateBody {
    pub prompt: String,
    #[serde(default)]
    pub model: Option<String>,
    #[serde(default)]
    pub count: Option<i64>,
    #[serde(default)]
    pub person_ids: Option<Vec<String>>,
    #[serde(default)]
    pub inspiration_ids: Option<Vec<String>>,
    #[serde(default)]
    pub aspect_ratio: Option<String>,
    /// Extension (Flokan's `reference_image_url`): the primary reference.
    #[serde(default)]
    pub reference_image_url: Option<String>,
    /// Extension (Flokan's `youtube_references`): up to 6 image URLs.
    #[serde(default)]
    pub youtube_references: Option<Vec<String>>,
    /// Extension (Flokan's `provider`): `platform` or a BYOK provider.
    #[serde(default)]
    pub provider: Option<String>,
}

impl TryFrom<GenerateBody> for GenerateRequest {
    type Error = ValidationError;
    fn try_from(body: GenerateBody) -> Result<Self, Self::Error> {
        Ok(GenerateRequest {
            prompt: Prompt::try_from(body.prompt)?,
            model: body.model.as_deref().map(parse_model).transpose()?,
            count: body
                .count
                .map(ThumbnailCount::try_from)
                .transpose()?
                .unwrap_or_default(),
            aspect_ratio: body
                .aspect_ratio
                .as_deref()
                .map(str::parse)
                .transpose()?
                .unwrap_or_default(),
            person_ids: ReferenceIds::parse("personIds", body.person_ids.unwrap_or_default())?,
            inspiration_ids: ReferenceIds::parse(
                "inspirationIds",
                body.inspiration_ids.unwrap_or_default(),
            )?,
            reference_urls: ReferenceUrls::parse(
                body.reference_image_url,
                body.youtube_references.unwrap_or_default(),
            )?,
            provider: body
                .provider
                .as_deref()
                .map(parse_provider)
                .transpose()?
                .unwrap_or_default(),
        })
    }
}

/// What the body alone cannot tell: the plan, the route, the org's keys
/// and assets, and whether plain-http references are allowed.
pub async fn check_request(
    state: &AppState,
    caller: &thumbforge_db::keys::Caller,
    model: thumbforge_core::ModelId,
    request: &GenerateRequest,
) -> Result<(), ApiError> {
    if !model.allowed_on(caller.plan) {
        return Err(ApiError::PlanRequired(model));
    }
    state.providers.route(model, request.provider)?;
    if let ProviderChoice::Byok(provider) = request.provider
        && !provider_keys::exists(&state.db, &caller.org_id, provider).await?
    {
        return Err(ApiError::ProviderNotConfigured(provider));
    }
    if !state.allow_http_references
        && let Some(url) = request
            .reference_urls
            .as_slice()
            .iter()
            .find(|u| !u.to_ascii_lowercase().starts_with("https://"))
    {
        return Err(ApiError::InvalidField {
            code: "invalid_reference_url",
            detail: format!("reference URLs must be https: {url}"),
        });
    }
    let ids: Vec<String> = request
        .person_ids
        .as_slice()
        .iter()
        .chain(request.inspiration_ids.as_slice())
        .cloned()
        .collect();
    if !ids.is_empty() {
        let found =
            thumbforge_db::assets::find_many_for_org(&state.db, &caller.org_id, &ids).await?;
        if let Some(missing) = ids.iter().find(|id| !found.iter().any(|a| &a.id == *id)) {
            return Err(ApiError::AssetNotFound(missing.clone()));
        }
    }
    Ok(())
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct GenerateResponse {
    pub generation_id: String,
    pub thumbnail_ids: Vec<String>,
    pub status: &'static str,
}

pub async fn generate(
    req: HttpRequest,
    Authenticated(caller): Authenticated,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let body: GenerateBody = read_json(&req, payload, state.max_body_bytes).await?;
    let request = GenerateRequest::try_from(body)?;
    let model = request.model.unwrap_or(state.default_model);
    check_request(&state, &caller, model, &request).await?;

    // A queue known to be down: refuse before committing, so the client
    // retries rather than waiting on the sweeper.
    if state.queue_breaker.is_open() {
        return Err(ApiError::QueueUnavailable);
    }
    let view = generations::build(&caller.org_id, caller.plan, model, &request);
    let generation_id = view.generation.id.clone();
    let thumbnail_ids: Vec<String> = view.thumbnails.iter().map(|t| t.id.clone()).collect();
    // Committed (with whatever other submits are in flight) before we
    // answer; the jobs are pushed right after the commit.
    if state.submitter.submit(view).await? == Pushed::Failed {
        // Committed, so accepted: the sweeper enqueues it once the queue is
        // back (within `enqueue_grace_secs`, `enqueued_at` being cleared).
        // Later requests get 503 until the breaker closes.
        state.queue_breaker.trip();
        warn!(generation.id = %generation_id, "enqueue failed; the sweeper will retry");
    }
    info!(generation.id = %generation_id, model = %model, count = thumbnail_ids.len(), "generation accepted");
    Ok(HttpResponse::Accepted()
        .insert_header(("Location", format!("/api/v1/generations/{generation_id}")))
        .json(GenerateResponse {
            generation_id,
            thumbnail_ids,
            status: "processing",
        }))
}
