//! Submitting a generation: the one path that the native generate,
//! Flokan's and MCP's `generate_thumbnail` take. What the request alone
//! cannot tell is settled here (the plan, the route, the org's keys, assets
//! and style preset, the storage quota), an `Idempotency-Key` is claimed,
//! and the generation is committed through the batching
//! [`Submitter`](crate::submit::Submitter); its jobs are pushed after the
//! answer, and a job that never reaches the queue is pushed by the sweeper.

use thumbforge_core::{
    ErrorCode, GenerateRequest, GenerationId, ModelId, ProviderChoice, StyleSpec, ValidationError,
};
use thumbforge_db::{
    generations::{self, GenerationView},
    idempotency,
    keys::Caller,
    now_ms, provider_keys,
};
use tracing::{info, warn};

use crate::{
    AppState,
    error::ApiError,
    submit::{Dispatch, Submitted},
};

/// A new generation as a surface asks for it.
pub struct NewGeneration<'a> {
    pub request: GenerateRequest,
    /// One of the org's style presets, by id.
    pub style_id: Option<&'a str>,
    /// The client's `Idempotency-Key`, as sent: a retry with the same key
    /// and parameters is answered with the generation it first made.
    pub idempotency_key: Option<&'a [u8]>,
    /// The caller waits for the generation to end (Flokan's generate,
    /// `Prefer: wait`): its thumbnails go ahead of batch work.
    pub sync: bool,
}

/// A committed generation.
pub struct Accepted {
    pub generation_id: GenerationId,
    pub thumbnail_ids: Vec<String>,
    /// Stored by an earlier request with the same `Idempotency-Key`.
    pub replayed: bool,
}

impl Accepted {
    fn of(view: &GenerationView, replayed: bool) -> Result<Accepted, ApiError> {
        Ok(Accepted {
            generation_id: GenerationId::parse(&view.generation.id).ok_or_else(|| {
                ApiError::internal(anyhow::anyhow!("a generation id that does not parse"))
            })?,
            thumbnail_ids: view.thumbnails.iter().map(|t| t.id.clone()).collect(),
            replayed,
        })
    }
}

/// Commits `new` for `caller` (or, for a replayed `Idempotency-Key`,
/// answers the generation the key first made).
pub async fn submit(
    state: &AppState,
    caller: &Caller,
    new: NewGeneration<'_>,
) -> Result<Accepted, ApiError> {
    let NewGeneration {
        mut request,
        style_id,
        idempotency_key,
        sync,
    } = new;
    request.style = style(state, &caller.org_id, style_id).await?;
    let catalogue = state.providers.catalogue();
    let (model, entry) = match &request.model {
        Some(name) => catalogue
            .get(name.as_str())
            .ok_or_else(|| ValidationError::UnknownModel(name.as_str().to_owned()))?,
        None => catalogue
            .get(state.default_model.as_str())
            .ok_or_else(|| ValidationError::UnknownModel(state.default_model.to_string()))?,
    };
    let key = idempotency_key.map(parse_key).transpose()?;
    check_request(state, caller, model, &request).await?;

    let view = generations::build(&caller.org_id, caller.plan, model, entry.credits, &request);
    let accepted = Accepted::of(&view, false)?;
    let id = accepted.generation_id.as_str();
    if let Some(key) = &key {
        let hash = request_hash(model, &request);
        if let Some(original) = claim_key(state, &caller.org_id, key, &hash, id).await? {
            return Ok(original);
        }
    }
    if let Err(e) = accept(state, caller, view, sync).await {
        if let Some(key) = &key
            && let Err(e) = idempotency::release(&state.db, &caller.org_id, key, id).await
        {
            warn!(error = %e, "could not release an idempotency key");
        }
        return Err(e);
    }
    info!(generation.id = %id, model = %model, count = accepted.thumbnail_ids.len(), "generation accepted");
    Ok(accepted)
}

/// The org's style `id` as a snapshot for the generation; 404 when unknown.
async fn style(
    state: &AppState,
    org_id: &str,
    id: Option<&str>,
) -> Result<Option<StyleSpec>, ApiError> {
    let Some(id) = id else {
        return Ok(None);
    };
    let style = thumbforge_db::styles::find_for_org(&state.db, org_id, id)
        .await?
        .ok_or(ApiError::NotFound("style"))?;
    Ok(Some(style.spec()?))
}

/// Refuses new images (a generation's, an uploaded asset) once the org's
/// stored bytes reach its plan's quota.
pub async fn check_storage(state: &AppState, caller: &Caller) -> Result<(), ApiError> {
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

/// What the request alone cannot tell: the plan, the route, the org's keys
/// and assets, and whether plain-http references are allowed.
async fn check_request(
    state: &AppState,
    caller: &Caller,
    model: ModelId,
    request: &GenerateRequest,
) -> Result<(), ApiError> {
    let allowed = state
        .providers
        .catalogue()
        .entry(model)
        .is_some_and(|entry| entry.allowed_on(caller.plan));
    if !allowed {
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
        return Err(ApiError::invalid(
            ErrorCode::InvalidReferenceUrl,
            format!("reference URLs must be https: {url}"),
        ));
    }
    if !state.allow_http_references
        && let Some(webhook) = &request.webhook
        && !webhook.url.to_ascii_lowercase().starts_with("https://")
    {
        return Err(ApiError::invalid(
            ErrorCode::InvalidWebhookUrl,
            "webhookUrl must be https",
        ));
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

/// Debits and commits a built generation (batched with concurrent
/// submits); its jobs are pushed right after. Refuses up front while the
/// queue is known to be down, so the client retries rather than waiting
/// on the sweeper.
async fn accept(
    state: &AppState,
    caller: &Caller,
    view: GenerationView,
    sync: bool,
) -> Result<(), ApiError> {
    if state.submitter.queue_down() {
        return Err(ApiError::QueueUnavailable);
    }
    check_queue_room(state, caller, view.thumbnails.len() as u64).await?;
    let needed = view.generation.credits_consumed;
    let dispatch = Dispatch {
        plan: caller.plan,
        sync,
    };
    match state
        .submitter
        .submit(view, caller.metered, dispatch)
        .await?
    {
        Submitted::InsufficientCredits => Err(ApiError::InsufficientCredits { needed }),
        Submitted::Stored => Ok(()),
    }
}

/// Refuses a generation whose thumbnails would take the org past its
/// plan's `max_queued` waiting thumbnails (429 `queue_full`); nothing is
/// stored. Concurrent submits of one org may each pass, so the limit can
/// be overshot by what arrives at once: it bounds a backlog, not a count.
/// A queue that cannot answer lets the submit through: it is the push,
/// with its breaker and the sweeper, that deals with an outage.
async fn check_queue_room(state: &AppState, caller: &Caller, adding: u64) -> Result<(), ApiError> {
    let max = state.queue.fairness().of(caller.plan).max_queued;
    if max == 0 {
        return Ok(());
    }
    let waiting = match state.queue.waiting(&caller.org_id).await {
        Ok(n) => n,
        Err(e) => {
            warn!(error = %e, "could not read the organisation's queue length");
            return Ok(());
        }
    };
    if waiting + adding <= max {
        return Ok(());
    }
    Err(ApiError::QueueFull {
        waiting,
        max,
        retry_after_secs: QUEUE_FULL_RETRY_SECS,
    })
}

/// The `Retry-After` of a `queue_full`: about one model call, by when some
/// of the org's waiting thumbnails have started.
const QUEUE_FULL_RETRY_SECS: u64 = 30;

/// An `Idempotency-Key`: 1 to 255 visible ASCII characters, surrounding
/// blanks aside.
fn parse_key(raw: &[u8]) -> Result<String, ApiError> {
    let key = raw.trim_ascii();
    if key.is_empty() || key.len() > 255 || !key.iter().all(u8::is_ascii_graphic) {
        return Err(ApiError::InvalidIdempotencyKey);
    }
    Ok(String::from_utf8_lossy(key).into_owned())
}

/// What "the same request" means for a replay: the parsed parameters, with
/// the model the server resolved.
fn request_hash(model: ModelId, request: &GenerateRequest) -> String {
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
) -> Result<Option<Accepted>, ApiError> {
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
            return Accepted::of(&view, true).map(Some);
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
