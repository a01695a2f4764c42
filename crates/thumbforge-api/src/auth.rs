//! API-key authentication: `Authorization: Bearer KEY` or `x-api-key: KEY`.

use std::{future::Future, pin::Pin};

use actix_web::{FromRequest, HttpMessage, HttpRequest, dev::Payload, http::header, web};
use thumbforge_db::keys::{self, Caller};

use crate::{AppState, error::ApiError};

/// The authenticated caller, as a handler argument. Every endpoint that
/// takes one needs the key to carry [`SCOPE`].
pub struct Authenticated(pub Caller);

/// The scope thumbnail endpoints require (Flokan's name for it).
pub const SCOPE: &str = "thumbnail_generator";

fn scoped(caller: Caller) -> Result<Authenticated, ApiError> {
    if caller.scopes.iter().any(|s| s == SCOPE) {
        Ok(Authenticated(caller))
    } else {
        Err(ApiError::InsufficientScope(SCOPE))
    }
}

pub(crate) fn presented_key(req: &HttpRequest) -> Option<String> {
    if let Some(value) = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
    {
        let mut parts = value.trim().splitn(2, ' ');
        if let (Some(scheme), Some(token)) = (parts.next(), parts.next())
            && scheme.eq_ignore_ascii_case("bearer")
            && !token.trim().is_empty()
        {
            return Some(token.trim().to_owned());
        }
    }
    req.headers()
        .get("x-api-key")
        .and_then(|v| v.to_str().ok())
        .map(|v| v.trim().to_owned())
        .filter(|v| !v.is_empty())
}

impl FromRequest for Authenticated {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let key = presented_key(req);
        let state = req.app_data::<web::Data<AppState>>().cloned();
        let req = req.clone();
        Box::pin(async move {
            let Authenticated(caller) = authenticate(state.clone(), key).await?;
            req.extensions_mut()
                .insert(crate::access::LoggedOrg(caller.org_id.clone()));
            let state =
                state.ok_or_else(|| ApiError::internal(anyhow::anyhow!("app state missing")))?;
            let generate = req.method() == actix_web::http::Method::POST
                && GENERATE_PATHS.contains(&req.path());
            if let Some(info) = state
                .limiter
                .hit(&caller.key_id, caller.plan, generate)
                .await
            {
                if !info.allowed {
                    return Err(ApiError::RateLimited(info));
                }
                req.extensions_mut().insert(info);
            }
            Ok(Authenticated(caller))
        })
    }
}

/// An operator: a key with the [`ADMIN_SCOPE`] scope, of any organisation.
/// Admin requests are not rate limited.
pub struct Admin(pub Caller);

/// The scope the operator's endpoints (`/api/v1/admin/…`) require.
pub const ADMIN_SCOPE: &str = "admin";

impl FromRequest for Admin {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let key = presented_key(req);
        let state = req.app_data::<web::Data<AppState>>().cloned();
        Box::pin(async move {
            let caller = find_caller(state, key).await?;
            if caller.scopes.iter().any(|s| s == ADMIN_SCOPE) {
                Ok(Admin(caller))
            } else {
                Err(ApiError::InsufficientScope(ADMIN_SCOPE))
            }
        })
    }
}

/// The caller behind `key`, its scope checked and one request counted
/// against its rate limits (for callers outside actix's extractors: MCP).
pub(crate) async fn caller_for_key(
    state: &web::Data<AppState>,
    key: Option<String>,
    generate: bool,
) -> Result<Caller, ApiError> {
    let Authenticated(caller) = authenticate(Some(state.clone()), key).await?;
    if let Some(info) = state
        .limiter
        .hit(&caller.key_id, caller.plan, generate)
        .await
        && !info.allowed
    {
        return Err(ApiError::RateLimited(info));
    }
    Ok(caller)
}

/// Requests that also count against the per-minute generate limit.
const GENERATE_PATHS: [&str; 2] = ["/api/v1/generate", "/api/v1/thumbnail-generator/generate"];

async fn authenticate(
    state: Option<web::Data<AppState>>,
    key: Option<String>,
) -> Result<Authenticated, ApiError> {
    scoped(find_caller(state, key).await?)
}

/// The key's caller, whatever its scopes (cached).
async fn find_caller(
    state: Option<web::Data<AppState>>,
    key: Option<String>,
) -> Result<Caller, ApiError> {
    let state = state.ok_or_else(|| ApiError::internal(anyhow::anyhow!("app state missing")))?;
    let key = key.ok_or(ApiError::MissingApiKey)?;
    // Keys are ASCII of a known shape; anything else cannot match.
    if key.len() > 128 {
        return Err(ApiError::InvalidApiKey);
    }
    let hash = keys::key_digest(&key);
    if let Some(caller) = state.caches.callers.get(&hash) {
        return Ok(caller);
    }
    match keys::authenticate(&state.db, &key).await? {
        Some(caller) => {
            state.caches.callers.insert(hash, caller.clone());
            Ok(caller)
        }
        None => Err(ApiError::InvalidApiKey),
    }
}
