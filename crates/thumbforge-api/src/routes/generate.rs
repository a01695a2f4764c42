//! `POST /api/v1/generate` (FatThumb's "Generate Thumbnail API").
//!
//! Answers `202 Accepted` as soon as the generation and its thumbnails are
//! committed (batched with concurrent submits: `crate::submit`). Jobs are
//! pushed after the commit, without holding up the answer; a job that
//! never reaches the queue is pushed by the sweeper.

use actix_web::{HttpRequest, HttpResponse, web};
use serde::{Deserialize, Serialize};
use thumbforge_core::ErrorCode;
use thumbforge_core::{
    GenerateRequest, Prompt, ProviderChoice, ReferenceUrls, ThumbnailCount, ValidationError,
    request::{ReferenceIds, parse_model, parse_provider},
};
use thumbforge_core::{GenerationStatus, Webhook};
use thumbforge_db::{generations, idempotency, now_ms, provider_keys};
use tracing::{info, warn};

use std::time::{Duration, Instant};

use crate::{AppState, auth::Authenticated, body::read_json, error::ApiError, submit::Submitted};

/// The documented camelCase body. Unknown fields are ignored, as FatThumb
/// clients may send more than this server reads.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct GenerateBody {
    #[schema(min_length = 1, max_length = 10000)]
    pub prompt: String,
    #[serde(default)]
    pub model: Option<String>,
    #[serde(default)]
    #[schema(minimum = 1, maximum = 4)]
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
    /// Where to POST this generation's events (Standard Webhooks).
    #[serde(default)]
    pub webhook_url: Option<String>,
    /// `completed` (default) or `all` (every thumbnail too).
    #[serde(default)]
    pub webhook_events: Option<String>,
    /// Extension (Flokan's `style_id`): a style preset of the organisation.
    #[serde(default)]
    pub style_id: Option<String>,
    /// Extension (Flokan's `video_title`): the video's title, 1–500
    /// characters; the local renderer draws it instead of the prompt.
    #[serde(default)]
    #[schema(min_length = 1, max_length = 500)]
    pub title: Option<String>,
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
            title: body
                .title
                .as_deref()
                .map(thumbforge_core::Title::parse)
                .transpose()?,
            card_id: None,
            webhook: body
                .webhook_url
                .map(|url| Webhook::parse(url, body.webhook_events.as_deref()))
                .transpose()?,
            style: None,
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
    check_storage(state, caller).await?;
    state.providers.route(model, request.provider)?;
    if let ProviderChoice::Byok(provider) = request.provider {
        if !state.limiter.byok_allowed(caller.plan) {
            return Err(ApiError::ByokNotInPlan);
        }
        if !provider_keys::exists(&state.db, &caller.org_id, provider).await? {
            return Err(ApiError::ProviderNotConfigured(provider));
        }
    }
    if !state.allow_http_references
        && let Some(url) = request
            .reference_urls
            .as_slice()
            .iter()
            .find(|u| !u.to_ascii_lowercase().starts_with("https://"))
    {
        return Err(ApiError::InvalidField {
            code: ErrorCode::InvalidReferenceUrl,
            detail: format!("reference URLs must be https: {url}"),
        });
    }
    if !state.allow_http_references
        && let Some(webhook) = &request.webhook
        && !webhook.url.to_ascii_lowercase().starts_with("https://")
    {
        return Err(ApiError::InvalidField {
            code: ErrorCode::InvalidWebhookUrl,
            detail: "webhookUrl must be https".to_owned(),
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

/// Refuses new images once the org's stored bytes reach its plan's quota.
pub async fn check_storage(
    state: &AppState,
    caller: &thumbforge_db::keys::Caller,
) -> Result<(), ApiError> {
    let quota = state.limiter.storage_quota(caller.plan);
    if quota == 0 {
        return Ok(());
    }
    let used = thumbforge_db::orgs::storage_used(&state.db, &caller.org_id).await?;
    if used >= quota {
        return Err(ApiError::StorageQuotaExceeded { quota });
    }
    Ok(())
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct GenerateResponse {
    pub generation_id: String,
    pub thumbnail_ids: Vec<String>,
    pub status: &'static str,
}

#[utoipa::path(
    post,
    path = "/api/v1/generate",
    tag = "generations",
    summary = "Generate thumbnails (FatThumb)",
    params(("Idempotency-Key" = Option<String>, Header, description = "Replays the original answer for a retry"), ("Prefer" = Option<String>, Header, description = "wait=N: answer the finished generation if it ends within N seconds")),
    request_body = GenerateBody,
    responses((status = 202, description = "Accepted", body = GenerateResponse), (status = 200, description = "Finished within Prefer: wait", body = crate::routes::generations::GenerationBody), (status = 400, description = "The body is not JSON", body = crate::error::Problem, content_type = "application/problem+json"), (status = 413, description = "The body is too large", body = crate::error::Problem, content_type = "application/problem+json"), (status = 415, description = "The body is not JSON", body = crate::error::Problem, content_type = "application/problem+json"), (status = 422, description = "A field is invalid", body = crate::error::Problem, content_type = "application/problem+json"), (status = 402, description = "Insufficient credits", body = crate::error::Problem, content_type = "application/problem+json"), (status = 404, description = "styleId is not one of the organisation's styles", body = crate::error::Problem, content_type = "application/problem+json"), (status = 409, description = "The Idempotency-Key is in use", body = crate::error::Problem, content_type = "application/problem+json"), (status = 503, description = "The database or queue is unavailable", body = crate::error::Problem, content_type = "application/problem+json"), (status = 401, description = "Missing or invalid API key", body = crate::error::Problem, content_type = "application/problem+json"), (status = 403, description = "The key lacks the thumbnail_generator scope", body = crate::error::Problem, content_type = "application/problem+json"), (status = 429, description = "Rate limit exceeded", body = crate::error::Problem, content_type = "application/problem+json")),
    security(("bearer" = []), ("api_key" = []))
)]
pub async fn generate(
    req: HttpRequest,
    Authenticated(caller): Authenticated,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let body: GenerateBody = read_json(&req, payload, state.max_body_bytes).await?;
    let style_id = body.style_id.clone();
    let mut request = GenerateRequest::try_from(body)?;
    request.style = super::styles::resolve(&state, &caller.org_id, style_id.as_deref()).await?;
    let model = request.model.unwrap_or(state.default_model);
    let wait = prefer_wait(&req);
    let idempotency_key = idempotency_key(&req)?;
    check_request(&state, &caller, model, &request).await?;

    let view = generations::build(&caller.org_id, caller.plan, model, &request);
    let generation_id = view.generation.id.clone();
    let thumbnail_ids: Vec<String> = view.thumbnails.iter().map(|t| t.id.clone()).collect();
    if let Some(key) = &idempotency_key {
        let hash = request_hash(model, &request);
        if let Some(original) =
            claim_key(&state, &caller.org_id, key, &hash, &generation_id).await?
        {
            return respond(&req, &state, &caller.org_id, original, wait, true).await;
        }
    }
    if let Err(e) = accept(&state, &caller, view).await {
        if let Some(key) = &idempotency_key
            && let Err(e) =
                idempotency::release(&state.db, &caller.org_id, key, &generation_id).await
        {
            warn!(error = %e, "could not release an idempotency key");
        }
        return Err(e);
    }
    info!(generation.id = %generation_id, model = %model, count = thumbnail_ids.len(), "generation accepted");
    let accepted = GenerateResponse {
        generation_id,
        thumbnail_ids,
        status: "processing",
    };
    respond(&req, &state, &caller.org_id, accepted, wait, false).await
}

/// Debits and commits a built generation (batched with concurrent
/// submits); its jobs are pushed right after. Refuses up front while the
/// queue is known to be down, so the client retries rather than waiting
/// on the sweeper.
pub async fn accept(
    state: &AppState,
    caller: &thumbforge_db::keys::Caller,
    view: generations::GenerationView,
) -> Result<(), ApiError> {
    if state.submitter.queue_down() {
        return Err(ApiError::QueueUnavailable);
    }
    let needed = view.generation.credits_consumed;
    match state.submitter.submit(view, caller.metered).await? {
        Submitted::InsufficientCredits => Err(ApiError::InsufficientCredits { needed }),
        Submitted::Stored => Ok(()),
    }
}

/// 202 with the ids; or, with `Prefer: wait=N`, 200 with the whole
/// generation when it ends within N seconds.
async fn respond(
    req: &HttpRequest,
    state: &AppState,
    org_id: &str,
    accepted: GenerateResponse,
    wait: Option<Duration>,
    replayed: bool,
) -> Result<HttpResponse, ApiError> {
    let id = accepted.generation_id.clone();
    let mut answer = if let Some(wait) = wait
        && let Some(view) = wait_terminal(state, org_id, &id, wait).await?
    {
        let mut ok = HttpResponse::Ok();
        ok.insert_header(("Preference-Applied", format!("wait={}", wait.as_secs())));
        ok.insert_header(("Location", format!("/api/v1/generations/{id}")));
        if replayed {
            ok.insert_header(("Idempotent-Replayed", "true"));
        }
        return Ok(ok.json(super::generations::render(
            state,
            &state.base_url(req),
            &view,
        )));
    } else {
        HttpResponse::Accepted()
    };
    answer.insert_header(("Location", format!("/api/v1/generations/{id}")));
    if replayed {
        answer.insert_header(("Idempotent-Replayed", "true"));
    }
    Ok(answer.json(accepted))
}

/// Polls until the generation is terminal or `wait` passes.
pub async fn wait_terminal(
    state: &AppState,
    org_id: &str,
    id: &str,
    wait: Duration,
) -> Result<Option<generations::GenerationView>, ApiError> {
    let deadline = Instant::now() + wait;
    let mut step = Duration::from_millis(50);
    loop {
        let status = generations::status_of(&state.db, id).await?;
        let terminal = status.is_some_and(GenerationStatus::is_terminal);
        if terminal {
            return Ok(generations::find_for_org(&state.db, org_id, id).await?);
        }
        let now = Instant::now();
        if now >= deadline {
            return Ok(None);
        }
        tokio::time::sleep(step.min(deadline - now)).await;
        step = (step * 2).min(Duration::from_millis(500));
    }
}

/// `Prefer: wait=N` (RFC 7240), N capped at 60 seconds.
fn prefer_wait(req: &HttpRequest) -> Option<Duration> {
    req.headers()
        .get_all("prefer")
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split([',', ';']))
        .filter_map(|p| p.trim().strip_prefix("wait="))
        .find_map(|n| n.trim().parse::<u64>().ok())
        .filter(|n| *n > 0)
        .map(|n| Duration::from_secs(n.min(MAX_WAIT_SECS)))
}

/// Longest `Prefer: wait` honoured.
pub const MAX_WAIT_SECS: u64 = 60;

fn idempotency_key(req: &HttpRequest) -> Result<Option<String>, ApiError> {
    let Some(value) = req.headers().get("idempotency-key") else {
        return Ok(None);
    };
    let key = value
        .to_str()
        .map_err(|_| ApiError::InvalidIdempotencyKey)?
        .trim();
    if key.is_empty() || key.len() > 255 || !key.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(ApiError::InvalidIdempotencyKey);
    }
    Ok(Some(key.to_owned()))
}

/// What "the same request" means for a replay: the parsed parameters, with
/// the model the server resolved.
fn request_hash(model: thumbforge_core::ModelId, request: &GenerateRequest) -> String {
    use sha2::{Digest, Sha256};
    hex::encode(Sha256::digest(format!("{model}|{request:?}").as_bytes()))
}

/// Claims the key for this new generation. `Some`: the key already stands
/// for a stored generation, whose original answer is replayed.
async fn claim_key(
    state: &AppState,
    org_id: &str,
    key: &str,
    hash: &str,
    generation_id: &str,
) -> Result<Option<GenerateResponse>, ApiError> {
    for _ in 0..2 {
        let Some(remembered) =
            idempotency::claim(&state.db, org_id, key, hash, generation_id).await?
        else {
            return Ok(None);
        };
        if remembered.request_hash != hash {
            return Err(ApiError::IdempotencyKeyReused);
        }
        if let Some(view) =
            generations::find_for_org(&state.db, org_id, &remembered.generation_id).await?
        {
            return Ok(Some(GenerateResponse {
                generation_id: view.generation.id,
                thumbnail_ids: view.thumbnails.into_iter().map(|t| t.id).collect(),
                status: "processing",
            }));
        }
        // Claimed but not stored: a request still in flight, or one whose
        // process died before storing. After a minute it is the latter.
        if now_ms() - remembered.created_at < 60_000 {
            return Err(ApiError::IdempotencyInProgress);
        }
        idempotency::release(&state.db, org_id, key, &remembered.generation_id).await?;
    }
    Err(ApiError::IdempotencyInProgress)
}
