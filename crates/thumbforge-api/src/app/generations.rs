//! The caller's generations: get one (or wait for it to end), list them,
//! cancel and delete one. Another org's generation, a missing one and a
//! malformed id are the same 404.

use std::time::{Duration, Instant};

use thumbforge_core::{GenerationId, GenerationStatus, ThumbnailStatus};
use thumbforge_db::{
    generations::{self, FlokanStatus, GenerationView, ListFilter},
    keys::Caller,
};

use thumbforge_core::progress::ProviderStage;
use thumbforge_queue::Standing;

use crate::{AppState, error::ApiError};

/// What the queue says of a processing thumbnail.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Whereabouts {
    pub standing: Option<Standing>,
    pub provider: Option<ProviderStage>,
}

/// A generation id from a path or an argument.
pub fn parse_id(raw: &str) -> Result<GenerationId, ApiError> {
    GenerationId::parse(raw).ok_or(ApiError::NotFound("generation"))
}

pub async fn get(
    state: &AppState,
    caller: &Caller,
    id: &GenerationId,
) -> Result<GenerationView, ApiError> {
    generations::find_for_org(&state.db, &caller.org_id, id.as_str())
        .await?
        .ok_or(ApiError::NotFound("generation"))
}

/// Where the queue says each processing thumbnail of `view` stands, and
/// what the provider says of those a worker has started; empty when none
/// is processing. What the queue cannot say is left out (the record is
/// still answered).
pub async fn standings(state: &AppState, view: &GenerationView) -> Vec<(String, Whereabouts)> {
    let processing: Vec<&thumbforge_db::entities::thumbnails::Model> = view
        .thumbnails
        .iter()
        .filter(|t| t.status == ThumbnailStatus::Processing)
        .collect();
    if processing.is_empty() {
        return Vec::new();
    }
    let ids: Vec<String> = processing.iter().map(|t| t.id.clone()).collect();
    // The providers' word matters once a worker has started a thumbnail.
    let any_started = processing.iter().any(|t| t.started_at.is_some());
    let stages = async {
        if any_started {
            state.queue.provider_stages(&ids).await
        } else {
            Ok(Vec::new())
        }
    };
    let (standings, stages) = tokio::join!(state.queue.standings(&ids), stages);
    let standings = standings.unwrap_or_else(|e| {
        tracing::warn!(error = %e, "could not read queue positions");
        Vec::new()
    });
    let stages = stages.unwrap_or_default();
    ids.into_iter()
        .enumerate()
        .map(|(i, id)| {
            let known = Whereabouts {
                standing: standings.get(i).copied(),
                provider: stages.get(i).copied().flatten(),
            };
            (id, known)
        })
        .collect()
}

/// The generation once it has ended, polled until `wait` passes; `None`
/// while it still runs.
pub async fn wait_terminal(
    state: &AppState,
    caller: &Caller,
    id: &GenerationId,
    wait: Duration,
) -> Result<Option<GenerationView>, ApiError> {
    let deadline = Instant::now() + wait;
    let mut step = Duration::from_millis(50);
    loop {
        let status = generations::status_of(&state.db, id.as_str()).await?;
        if status.is_some_and(GenerationStatus::is_terminal) {
            return Ok(generations::find_for_org(&state.db, &caller.org_id, id.as_str()).await?);
        }
        let now = Instant::now();
        if now >= deadline {
            return Ok(None);
        }
        tokio::time::sleep(step.min(deadline - now)).await;
        step = (step * 2).min(Duration::from_millis(500));
    }
}

/// Up to `limit` of the caller's generations, newest first, and whether
/// more follow.
pub async fn list(
    state: &AppState,
    caller: &Caller,
    filter: &ListFilter,
    limit: u64,
) -> Result<(Vec<GenerationView>, bool), ApiError> {
    // One more than asked tells whether another page exists.
    let mut views = generations::list_for_org(&state.db, &caller.org_id, filter, limit + 1).await?;
    let has_more = views.len() as u64 > limit;
    views.truncate(limit as usize);
    Ok((views, has_more))
}

/// Page `page` (from 1) of the caller's generations, newest first, with
/// the total that match.
pub async fn page(
    state: &AppState,
    caller: &Caller,
    status: Option<FlokanStatus>,
    card_id: Option<&str>,
    page: u64,
    per_page: u64,
) -> Result<(Vec<GenerationView>, u64), ApiError> {
    Ok(
        generations::page_for_org(&state.db, &caller.org_id, status, card_id, page, per_page)
            .await?,
    )
}

/// What has not finished never will, and costs nothing. Answers the
/// generation as it now stands; one that already ended is unchanged.
pub async fn cancel(
    state: &AppState,
    caller: &Caller,
    id: &GenerationId,
) -> Result<GenerationView, ApiError> {
    thumbforge_db::lifecycle::cancel(&state.db, &caller.org_id, id.as_str())
        .await?
        .ok_or(ApiError::NotFound("generation"))?;
    get(state, caller, id).await
}

/// Deletes the generation (canceling what still runs), its cached answer
/// on this replica, and its image files.
pub async fn delete(state: &AppState, caller: &Caller, id: &GenerationId) -> Result<(), ApiError> {
    let view = generations::delete_for_org(&state.db, &caller.org_id, id.as_str())
        .await?
        .ok_or(ApiError::NotFound("generation"))?;
    // This replica's cached answer goes now; see docs/api.md for others.
    state.forget_cached(id.as_str());
    for t in &view.thumbnails {
        for key in thumbforge_storage::thumbnail_keys(id.as_str(), &t.id, t.format) {
            if let Err(e) = state.storage.delete(&key).await {
                tracing::debug!(error = %e, key, "no file to delete");
            }
        }
    }
    Ok(())
}
