//! `/healthz`: the process is alive. `/readyz`: its database and queue answer.

use actix_web::{HttpResponse, web};
use serde_json::json;

use crate::{AppState, error::ApiError};

pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(json!({"status": "ok"}))
}

pub async fn readyz(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let db = state.db.ping().await.is_ok();
    let queue = state.queue.ping().await.is_ok();
    if db && queue {
        Ok(HttpResponse::Ok().json(json!({"status": "ready", "database": true, "queue": true})))
    } else {
        tracing::warn!(database = db, queue, "not ready");
        Err(ApiError::Unavailable)
    }
}
