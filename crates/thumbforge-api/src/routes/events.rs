//! `GET /api/v1/generations/{id}/events`: Server-Sent Events of a
//! generation's status changes, ending when it is terminal.
//!
//! The stream reads the database, the record every replica shares, so an
//! API replica that neither accepted the generation nor runs its jobs sees
//! the same events as the one that did. It polls with a short backoff
//! (0.1 s growing to 1 s while nothing changes, reset on every change).
//!
//! Events, each `data` a JSON object:
//! - `generation`: the whole generation as `GET /api/v1/generations/{id}`
//!   shows it, first on connect and again whenever its status changes;
//! - `thumbnail`: one thumbnail (with `generationId`) whenever its status
//!   changes;
//! - `done`: the terminal generation, after which the stream ends.
//!
//! A comment line every 15 s keeps idle proxies from closing the stream.

use std::{
    collections::HashMap,
    time::{Duration, Instant},
};

use actix_web::{HttpRequest, HttpResponse, web};
use futures::stream;
use serde::Serialize;
use thumbforge_core::GenerationId;
use thumbforge_db::keys::Caller;

use crate::{
    AppState,
    app::generations::{get, parse_id},
    auth::Authenticated,
    error::ApiError,
    wire::{GenerationBody, Progress, ThumbnailBody},
};

const FIRST_POLL: Duration = Duration::from_millis(100);
const MAX_POLL: Duration = Duration::from_secs(1);
const KEEP_ALIVE: Duration = Duration::from_secs(15);

struct Watch {
    state: web::Data<AppState>,
    caller: Caller,
    id: GenerationId,
    base: String,
    /// Last status and progress sent, per thumbnail; last status of the
    /// generation.
    seen: HashMap<String, (String, Option<Progress>)>,
    generation: Option<String>,
    poll: Duration,
    last_sent: Instant,
    done: bool,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ThumbnailEvent<'a> {
    generation_id: &'a str,
    #[serde(flatten)]
    thumbnail: &'a ThumbnailBody,
}

fn event(name: &str, data: &impl Serialize) -> String {
    let json = serde_json::to_string(data).unwrap_or_else(|_| "{}".to_owned());
    format!("event: {name}\ndata: {json}\n\n")
}

impl Watch {
    /// What changed since the last look, as SSE text; empty when nothing.
    async fn look(&mut self) -> Result<String, ApiError> {
        let view = get(&self.state, &self.caller, &self.id).await?;
        let standings = crate::app::generations::standings(&self.state, &view).await;
        let body = GenerationBody::placed(&self.state, &self.base, &view, &standings).await;
        let first = self.generation.is_none();
        let mut out = String::new();
        if self.generation.as_deref() != Some(body.status.as_str()) {
            out.push_str(&event("generation", &body));
            self.generation = Some(body.status.clone());
        }
        for t in &body.thumbnails {
            // A new status, or a new place in the queue.
            let seen = (t.status.clone(), t.progress.clone());
            if self.seen.get(&t.id) == Some(&seen) {
                continue;
            }
            // The first snapshot already carries every thumbnail.
            if !first {
                out.push_str(&event(
                    "thumbnail",
                    &ThumbnailEvent {
                        generation_id: &body.id,
                        thumbnail: t,
                    },
                ));
            }
            self.seen.insert(t.id.clone(), seen);
        }
        if view.generation.status.is_terminal() {
            out.push_str(&event("done", &body));
            self.done = true;
        }
        Ok(out)
    }
}

#[utoipa::path(
    get,
    operation_id = "streamGenerationEvents",
    path = "/api/v1/generations/{id}/events",
    tag = "generations",
    summary = "Server-Sent Events of a generation",
    params(("id" = String, Path)),
    responses((status = 200, description = "text/event-stream of generation, thumbnail and done events", content_type = "text/event-stream", body = serde_json::Value), (status = 404, description = "Not found in this organisation", body = crate::error::Problem, content_type = "application/problem+json"), (status = 401, description = "Missing or invalid API key", body = crate::error::Problem, content_type = "application/problem+json"), (status = 403, description = "The key lacks the thumbnail_generator scope", body = crate::error::Problem, content_type = "application/problem+json"), (status = 429, description = "Rate limit exceeded", body = crate::error::Problem, content_type = "application/problem+json")),
    security(("bearer" = []), ("api_key" = []))
)]
pub async fn stream_events(
    req: HttpRequest,
    Authenticated(caller): Authenticated,
    path: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let id = parse_id(&path.into_inner())?;
    // Answer 404 now rather than as an empty stream.
    get(&state, &caller, &id).await?;
    let watch = Watch {
        base: state.base_url(&req),
        state,
        caller,
        id,
        seen: HashMap::new(),
        generation: None,
        poll: FIRST_POLL,
        last_sent: Instant::now(),
        done: false,
    };
    let body = stream::unfold(watch, |mut watch| async move {
        if watch.done {
            return None;
        }
        loop {
            match watch.look().await {
                Ok(text) if !text.is_empty() => {
                    watch.poll = FIRST_POLL;
                    watch.last_sent = Instant::now();
                    return Some((Ok::<_, actix_web::Error>(web::Bytes::from(text)), watch));
                }
                Ok(_) => {}
                // A database hiccup: keep the stream, look again later.
                Err(ApiError::DatabaseUnavailable) => {}
                Err(e) => {
                    watch.done = true;
                    let text = event(
                        "error",
                        &serde_json::json!({ "code": e.code(), "detail": e.to_string() }),
                    );
                    return Some((Ok(web::Bytes::from(text)), watch));
                }
            }
            if watch.last_sent.elapsed() >= KEEP_ALIVE {
                watch.last_sent = Instant::now();
                return Some((Ok(web::Bytes::from_static(b": keep-alive\n\n")), watch));
            }
            tokio::time::sleep(watch.poll).await;
            watch.poll = (watch.poll * 2).min(MAX_POLL);
        }
    });
    Ok(HttpResponse::Ok()
        .content_type("text/event-stream")
        .insert_header(("Cache-Control", "no-cache"))
        .insert_header(("X-Accel-Buffering", "no"))
        .streaming(body))
}
