//! `/healthz`: the process is alive. `/readyz`: its database and queue
//! answer. `/metrics`: Prometheus.

use actix_web::{HttpResponse, web};
use serde_json::json;

use crate::{AppState, error::ApiError};

#[utoipa::path(
    get,
    operation_id = "healthz",
    path = "/healthz",
    tag = "operations",
    summary = "Alive",
    responses((status = 200, description = "Alive"))
)]
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(json!({"status": "ok"}))
}

#[utoipa::path(
    get,
    operation_id = "readyz",
    path = "/readyz",
    tag = "operations",
    summary = "Database and queue reachable",
    responses((status = 200, description = "Ready"), (status = 503, description = "Not ready", body = crate::error::Problem, content_type = "application/problem+json"))
)]
pub async fn readyz(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let db = state.db.ping().await.is_ok();
    let queue = state.queue.ping().await.is_ok();
    if db && queue {
        Ok(HttpResponse::Ok().json(json!({"status": "ready", "database": true, "queue": true})))
    } else {
        tracing::warn!(database = db, queue, "not ready");
        let down: Vec<&str> = [("database", db), ("queue", queue)]
            .into_iter()
            .filter(|(_, up)| !up)
            .map(|(name, _)| name)
            .collect();
        Err(ApiError::NotReady(format!(
            "{} unreachable",
            down.join(" and ")
        )))
    }
}

#[utoipa::path(
    get,
    operation_id = "getMetrics",
    path = "/metrics",
    tag = "operations",
    summary = "Prometheus metrics",
    responses((status = 200, description = "Prometheus text", content_type = "application/openmetrics-text", body = String))
)]
pub async fn metrics(state: web::Data<AppState>) -> HttpResponse {
    thumbforge_runtime::sample_queue(&state.queue, &state.db, &state.metrics).await;
    HttpResponse::Ok()
        .content_type(thumbforge_telemetry::metrics::CONTENT_TYPE)
        .body(state.metrics.render())
}
