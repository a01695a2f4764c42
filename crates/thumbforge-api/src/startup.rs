//! Building the app: bind first (so tests can ask for port 0 and read the
//! real port), then run until stopped.

use std::net::TcpListener;
use thumbforge_core::ErrorCode;

use actix_web::HttpMessage;
use actix_web::dev::Service;
use actix_web::{App, dev::Server, dev::ServerHandle, error::QueryPayloadError, web};
use anyhow::Context;
use thumbforge_config::Settings;

use thumbforge_runtime::Deps;

use futures::{TryFutureExt, future::Either};
use thumbforge_core::ValidationError;

use crate::{
    access,
    error::{ApiError, FlokanError},
    routes,
    signing::UrlSigner,
    state::{AppState, Caches},
};

pub struct Application {
    port: u16,
    server: Server,
    /// `/metrics` on an address of its own (`api.metrics_bind`), and its
    /// port.
    metrics_server: Option<(u16, Server)>,
    /// Ends when the submitter's pushes are done (`Submitter::new`).
    submits_drained: tokio::task::JoinHandle<()>,
}

/// Longest wait at shutdown for the pushes of answered submits.
pub const DRAIN_SECS: u64 = 5;

impl Application {
    pub async fn build(settings: &Settings, deps: &Deps) -> anyhow::Result<Application> {
        let (default_model, _) = deps
            .providers
            .catalogue()
            .get(&settings.models.default)
            .with_context(|| {
                format!(
                    "models.default = {:?} is not in the catalogue",
                    settings.models.default
                )
            })?;
        let store_db = deps
            .db
            .dedicated(crate::submit::STORE_CONNECTIONS)
            .await
            .context("connecting the submit runner to the database")?;
        let (submitter, submits_drained) =
            crate::submit::Submitter::new(store_db, deps.db.clone(), deps.queue.clone());
        let limiter = crate::ratelimit::Limiter::new(
            &settings.limits,
            settings
                .limits
                .redis_url
                .as_deref()
                .or(settings.queue.redis_url.as_deref()),
            settings
                .limits
                .prefix
                .as_deref()
                .unwrap_or(&settings.queue.prefix),
        )
        .await
        .context("setting up rate limits")?;
        let state = web::Data::new(AppState {
            limiter,
            test_model_enabled: settings.models.enable_test_model,
            sync_wait: std::time::Duration::from_secs(settings.api.sync_wait_secs),
            job_deadline: std::time::Duration::from_secs(settings.worker.deadline_secs),
            youtube: settings.youtube.clone(),
            http: reqwest::Client::builder()
                .no_proxy()
                .build()
                .context("building the HTTP client")?,
            submitter,
            db: deps.db.clone(),
            queue: deps.queue.clone(),
            storage: deps.storage.clone(),
            providers: deps.providers.clone(),
            sealer: deps.sealer.clone(),
            allow_http_references: settings.references.allow_http,
            max_upload_bytes: settings.references.max_upload_bytes,
            upload_limits: thumbforge_providers::decode::DecodeLimits {
                max_dimension: settings.references.max_dimension,
                max_alloc: settings.references.max_decode_bytes,
            },
            signer: UrlSigner::new(deps.secret.clone())
                .with_previous(settings.previous_secret.clone()),
            default_model,
            public_url: settings.public_url.clone(),
            max_body_bytes: settings.api.max_body_bytes,
            url_ttl_secs: settings.api.url_ttl_secs as i64,
            presigned_urls: settings.storage.urls == thumbforge_config::FileUrls::Presigned,
            metrics: deps.metrics.clone(),
            caches: Caches::new(std::time::Duration::from_secs(settings.api.auth_cache_secs)),
        });
        let mcp = crate::mcp::service(state.clone());
        let metrics = deps.metrics.clone();
        let metrics_apart = settings.api.metrics_bind.is_some();
        let metrics_server = match &settings.api.metrics_bind {
            Some(bind) => {
                let listener =
                    TcpListener::bind(bind).with_context(|| format!("binding {bind}"))?;
                let port = listener.local_addr()?.port();
                let state = state.clone();
                let server = actix_web::HttpServer::new(move || {
                    App::new()
                        .app_data(state.clone())
                        .configure(routes::configure_metrics)
                        .default_service(web::to(routes::not_found))
                })
                .workers(1)
                .disable_signals()
                .shutdown_timeout(1)
                .listen(listener)?
                .run();
                Some((port, server))
            }
            None => None,
        };
        let listener = TcpListener::bind(&settings.bind)
            .with_context(|| format!("binding {}", settings.bind))?;
        let port = listener.local_addr()?.port();
        // The filter is fixed for the life of the process: when it drops
        // the access log's target, skip rendering each line for nothing.
        let access_logged = tracing::enabled!(target: access::TARGET, tracing::Level::INFO);
        let mut server = actix_web::HttpServer::new(move || {
            App::new()
                .app_data(state.clone())
                .app_data(
                    web::QueryConfig::default().error_handler(|e: QueryPayloadError, _| {
                        ApiError::invalid(ErrorCode::InvalidQuery, e.to_string()).into()
                    }),
                )
                .wrap_fn({
                    let metrics = metrics.clone();
                    move |req, srv| {
                        let metrics = metrics.clone();
                        let start = std::time::Instant::now();
                        let method = req.method().clone();
                        let call = if access::uri_has_nul(req.uri()) {
                            let refusal = ApiError::Validation(ValidationError::NulCharacter {
                                field: "url",
                            });
                            // Each surface refuses in its own error shape.
                            let response = if req.path().starts_with(routes::flokan::PREFIX) {
                                req.error_response(FlokanError(refusal))
                            } else {
                                req.error_response(refusal)
                            };
                            Either::Left(std::future::ready(Ok(response)))
                        } else {
                            Either::Right(
                                srv.call(req)
                                    .map_ok(actix_web::dev::ServiceResponse::map_into_boxed_body),
                            )
                        };
                        async move {
                            let mut response = call.await?;
                            let info = response
                                .request()
                                .extensions()
                                .get::<crate::ratelimit::RateInfo>()
                                .copied();
                            if let Some(info) = info {
                                info.apply(response.headers_mut());
                            }
                            let request = response.request();
                            let route = request
                                .match_pattern()
                                .unwrap_or_else(|| "unmatched".to_owned());
                            let status = response.status().as_u16();
                            let elapsed = start.elapsed();
                            if access_logged {
                                let org = request.extensions().get::<access::LoggedOrg>().cloned();
                                access::Line {
                                    method: &method,
                                    route: &route,
                                    uri: request.uri(),
                                    status,
                                    duration_ms: elapsed.as_secs_f64() * 1000.0,
                                    org: org.as_ref().map(|o| o.0.as_str()),
                                    resource: request.match_info().get("id"),
                                }
                                .emit();
                            }
                            metrics.observe_http(
                                method_label(&method),
                                route,
                                status,
                                elapsed.as_secs_f64(),
                            );
                            Ok(response)
                        }
                    }
                })
                .configure(routes::configure)
                .configure(|cfg| {
                    if !metrics_apart {
                        routes::configure_metrics(cfg);
                    }
                })
                .configure(crate::openapi::configure)
                .service(mcp.clone().scope_with_path("/api/mcp"))
                .default_service(web::to(routes::not_found))
        })
        .disable_signals()
        .shutdown_timeout(10)
        .listen(listener)?;
        if settings.api.http_workers > 0 {
            server = server.workers(settings.api.http_workers);
        }
        Ok(Application {
            port,
            server: server.run(),
            metrics_server,
            submits_drained,
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The port `/metrics` is served on when `api.metrics_bind` is set.
    pub fn metrics_port(&self) -> Option<u16> {
        self.metrics_server.as_ref().map(|(port, _)| *port)
    }

    pub fn handle(&self) -> ServerHandle {
        self.server.handle()
    }

    /// Serves until the server is stopped, then waits (at most
    /// [`DRAIN_SECS`]) for the jobs of answered submits that are still on
    /// their way to the queue, so a restart does not leave them to the
    /// sweeper's lost-job check.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let metrics = self.metrics_server.map(|(_, server)| {
            let handle = server.handle();
            (handle, tokio::spawn(server))
        });
        let served = self.server.await;
        if let Some((handle, task)) = metrics {
            handle.stop(false).await;
            let _ = task.await;
        }
        let drain = std::time::Duration::from_secs(DRAIN_SECS);
        if tokio::time::timeout(drain, self.submits_drained)
            .await
            .is_err()
        {
            tracing::warn!("submit pushes still pending at shutdown; the sweeper will push them");
        }
        served
    }
}

/// A request method as a metric label, without allocating for the
/// standard methods.
fn method_label(method: &actix_web::http::Method) -> std::borrow::Cow<'static, str> {
    use actix_web::http::Method;
    const STANDARD: [(Method, &str); 9] = [
        (Method::GET, "GET"),
        (Method::POST, "POST"),
        (Method::PUT, "PUT"),
        (Method::DELETE, "DELETE"),
        (Method::PATCH, "PATCH"),
        (Method::HEAD, "HEAD"),
        (Method::OPTIONS, "OPTIONS"),
        (Method::CONNECT, "CONNECT"),
        (Method::TRACE, "TRACE"),
    ];
    match STANDARD.iter().find(|(m, _)| m == method) {
        Some((_, name)) => std::borrow::Cow::Borrowed(name),
        None => std::borrow::Cow::Owned(method.as_str().to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::method_label;
    use actix_web::http::Method;
    use std::borrow::Cow;

    #[test]
    fn standard_methods_are_borrowed_labels_and_others_are_copied() {
        assert!(matches!(method_label(&Method::GET), Cow::Borrowed("GET")));
        assert!(matches!(
            method_label(&Method::DELETE),
            Cow::Borrowed("DELETE")
        ));
        let purge = Method::from_bytes(b"PURGE").expect("a valid method token");
        assert!(matches!(method_label(&purge), Cow::Owned(ref s) if s == "PURGE"));
    }
}
