//! One module per resource; `configure` mounts them all.

pub(crate) mod admin;
pub(crate) mod assets;
pub(crate) mod events;
pub(crate) mod files;
pub(crate) mod flokan;
pub(crate) mod generate;
pub(crate) mod generations;
pub(crate) mod health;
pub(crate) mod models;
pub(crate) mod provider_keys;
pub(crate) mod styles;
pub(crate) mod ui;
pub(crate) mod webhooks;
pub(crate) mod youtube;

use actix_web::{HttpResponse, web};

use crate::error::ApiError;

pub fn configure(cfg: &mut web::ServiceConfig) {
    // actix tries resources in the order they are registered: the poll,
    // the hottest route by far, goes first.
    cfg.service(
        web::resource("/api/v1/generations/{id}")
            .route(web::get().to(generations::get))
            .route(web::delete().to(generations::delete))
            .default_service(allow("GET, DELETE")),
    )
    .service(
        web::resource("/api/v1/generate")
            .route(web::post().to(generate::generate))
            .default_service(allow("POST")),
    )
    .service(
        web::resource("/api/v1/generations")
            .route(web::get().to(generations::list))
            .default_service(allow("GET")),
    )
    .service(
        web::resource("/api/v1/models")
            .route(web::get().to(models::list))
            .default_service(allow("GET")),
    )
    .service(
        web::resource("/api/v1/admin/queue")
            .route(web::get().to(admin::queue))
            .default_service(allow("GET")),
    )
    .service(
        web::resource("/api/v1/admin/jobs")
            .route(web::get().to(admin::jobs))
            .default_service(allow("GET")),
    )
    .service(
        web::resource("/api/v1/admin/stats")
            .route(web::get().to(admin::stats))
            .default_service(allow("GET")),
    )
    .service(
        web::resource("/api/v1/admin/jobs/retry")
            .route(web::post().to(admin::retry_many))
            .default_service(allow("POST")),
    )
    .service(
        web::resource("/api/v1/admin/jobs/discard")
            .route(web::post().to(admin::discard_many))
            .default_service(allow("POST")),
    )
    .service(
        web::resource("/api/v1/admin/jobs/{thumbnail_id}")
            .route(web::get().to(admin::job))
            .default_service(allow("GET")),
    )
    .service(
        web::resource("/api/v1/admin/jobs/{thumbnail_id}/retry")
            .route(web::post().to(admin::retry))
            .default_service(allow("POST")),
    )
    .service(
        web::resource("/api/v1/admin/jobs/{thumbnail_id}/discard")
            .route(web::post().to(admin::discard))
            .default_service(allow("POST")),
    )
    .configure(ui::configure)
    .service(
        web::resource("/api/v1/generations/{id}/events")
            .route(web::get().to(events::stream_events))
            .default_service(allow("GET")),
    )
    .service(
        web::resource("/api/v1/generations/{id}/cancel")
            .route(web::post().to(generations::cancel))
            .default_service(allow("POST")),
    )
    .service(
        web::resource("/api/v1/assets")
            .route(web::post().to(assets::upload))
            .route(web::get().to(assets::list))
            .default_service(allow("POST, GET")),
    )
    .service(
        web::resource("/api/v1/assets/{id}")
            .route(web::get().to(assets::get))
            .route(web::delete().to(assets::delete))
            .default_service(allow("GET, DELETE")),
    )
    .service(
        web::resource("/api/v1/styles")
            .route(web::post().to(styles::create))
            .route(web::get().to(styles::list))
            .default_service(allow("POST, GET")),
    )
    .service(
        web::resource("/api/v1/styles/{id}")
            .route(web::get().to(styles::get))
            .route(web::delete().to(styles::delete))
            .default_service(allow("GET, DELETE")),
    )
    .service(
        web::resource("/api/v1/webhooks/secret")
            .route(web::get().to(webhooks::secret))
            .default_service(allow("GET")),
    )
    .service(
        web::resource("/api/v1/webhooks/secret/rotate")
            .route(web::post().to(webhooks::rotate))
            .default_service(allow("POST")),
    )
    .service(
        web::resource("/api/v1/webhooks/deliveries")
            .route(web::get().to(webhooks::deliveries))
            .default_service(allow("GET")),
    )
    .service(
        web::resource("/api/v1/provider-keys")
            .route(web::get().to(provider_keys::list))
            .default_service(allow("GET")),
    )
    .service(
        web::resource("/api/v1/provider-keys/{provider}")
            .route(web::put().to(provider_keys::set))
            .route(web::delete().to(provider_keys::delete))
            .default_service(allow("PUT, DELETE")),
    )
    .service(
        web::scope(flokan::PREFIX)
            .service(
                web::resource("/generate")
                    .route(web::post().to(flokan::generate))
                    .default_service(allow("POST")),
            )
            .service(
                web::resource("/youtube-search")
                    .route(web::post().to(youtube::search))
                    .default_service(allow("POST")),
            )
            .service(
                web::resource("/generations")
                    .route(web::get().to(flokan::list))
                    .default_service(allow("GET")),
            )
            .service(
                web::resource("/generations/{id}")
                    .route(web::get().to(flokan::get))
                    .route(web::delete().to(flokan::delete))
                    .default_service(allow("GET, DELETE")),
            ),
    )
    .service(
        web::resource("/files/{name}")
            .route(web::get().to(files::get))
            .default_service(allow("GET")),
    )
    .service(
        web::resource("/healthz")
            .route(web::get().to(health::healthz))
            .default_service(allow("GET")),
    )
    .service(
        web::resource("/readyz")
            .route(web::get().to(health::readyz))
            .default_service(allow("GET")),
    );
}

/// `/metrics`: on the public address, or alone on `api.metrics_bind`.
pub fn configure_metrics(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/metrics")
            .route(web::get().to(health::metrics))
            .default_service(allow("GET")),
    );
}

/// 405 with the resource's `Allow` header (RFC 9110).
fn allow(methods: &'static str) -> actix_web::Route {
    web::to(move || async move { Err::<HttpResponse, _>(ApiError::MethodNotAllowed(methods)) })
}

pub async fn not_found() -> Result<HttpResponse, ApiError> {
    Err(ApiError::NotFound("route"))
}
