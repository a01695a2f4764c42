//! `POST /api/v1/generate` (FatThumb's "Generate Thumbnail API"): a
//! presenter over `app::submit`.
//!
//! Answers `202 Accepted` as soon as the generation and its thumbnails are
//! committed; with `Prefer: wait=N`, `200` with the whole generation when
//! it ends within N seconds.

use std::time::Duration;

use actix_web::{HttpRequest, HttpResponse, web};
use thumbforge_core::GenerateRequest;

use crate::{
    AppState,
    app::{
        generations::wait_terminal,
        submit::{NewGeneration, submit},
    },
    auth::Authenticated,
    body::read_json,
    error::ApiError,
    wire::{GenerateBody, GenerateResponse, GenerationBody},
};

#[utoipa::path(
    post,
    operation_id = "createGeneration",
    path = "/api/v1/generate",
    tag = "generations",
    summary = "Generate thumbnails (FatThumb)",
    params(("Idempotency-Key" = Option<String>, Header, description = "Replays the original answer for a retry"), ("Prefer" = Option<String>, Header, description = "wait=N: answer the finished generation if it ends within N seconds")),
    request_body = GenerateBody,
    responses((status = 202, description = "Accepted", body = GenerateResponse), (status = 200, description = "Finished within Prefer: wait", body = crate::wire::GenerationBody), (status = 400, description = "The body is not JSON", body = crate::error::Problem, content_type = "application/problem+json"), (status = 413, description = "The body is too large", body = crate::error::Problem, content_type = "application/problem+json"), (status = 415, description = "The body is not JSON", body = crate::error::Problem, content_type = "application/problem+json"), (status = 422, description = "A field is invalid", body = crate::error::Problem, content_type = "application/problem+json"), (status = 402, description = "Insufficient credits", body = crate::error::Problem, content_type = "application/problem+json"), (status = 404, description = "styleId is not one of the organisation's styles", body = crate::error::Problem, content_type = "application/problem+json"), (status = 409, description = "The Idempotency-Key is in use", body = crate::error::Problem, content_type = "application/problem+json"), (status = 503, description = "The database or queue is unavailable", body = crate::error::Problem, content_type = "application/problem+json"), (status = 401, description = "Missing or invalid API key", body = crate::error::Problem, content_type = "application/problem+json"), (status = 403, description = "The key lacks the thumbnail_generator scope", body = crate::error::Problem, content_type = "application/problem+json"), (status = 429, description = "Rate limit exceeded (rate_limited), or the organisation already has its plan's most thumbnails waiting (queue_full)", body = crate::error::Problem, content_type = "application/problem+json")),
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
    let wait = prefer_wait(&req);
    let new = NewGeneration {
        request: GenerateRequest::try_from(body)?,
        style_id: style_id.as_deref(),
        idempotency_key: req.headers().get("idempotency-key").map(|v| v.as_bytes()),
        sync: wait.is_some(),
    };
    let accepted = submit(&state, &caller, new).await?;
    let ended = match wait {
        Some(wait) => wait_terminal(&state, &caller, &accepted.generation_id, wait)
            .await?
            .map(|view| (wait, view)),
        None => None,
    };
    let mut answer = match &ended {
        Some((wait, _)) => {
            let mut ok = HttpResponse::Ok();
            ok.insert_header(("Preference-Applied", format!("wait={}", wait.as_secs())));
            ok
        }
        None => HttpResponse::Accepted(),
    };
    let location = format!("/api/v1/generations/{}", accepted.generation_id);
    answer.insert_header(("Location", location));
    if accepted.replayed {
        answer.insert_header(("Idempotent-Replayed", "true"));
    }
    Ok(match ended {
        Some((_, view)) => {
            answer.json(GenerationBody::new(&state, &state.base_url(&req), &view).await)
        }
        None => answer.json(GenerateResponse::from(accepted)),
    })
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
const MAX_WAIT_SECS: u64 = 60;
