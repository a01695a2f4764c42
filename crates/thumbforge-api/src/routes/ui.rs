//! The browser pages, compiled into the binary (nothing from a CDN): the
//! playground at `/` and the operator's queue dashboard at `/admin`. Plain
//! HTML, CSS and ES modules in `crates/thumbforge-api/ui/`; they call the
//! public API with a key kept in the browser's local storage.

use actix_web::{HttpResponse, http::header, web};

use crate::error::ApiError;

/// (path under `/ui/`, content type, contents)
const ASSETS: &[(&str, &str, &str)] = &[
    (
        "app.css",
        "text/css; charset=utf-8",
        include_str!("../../ui/app.css"),
    ),
    (
        "app.js",
        "text/javascript; charset=utf-8",
        include_str!("../../ui/app.js"),
    ),
    (
        "admin.js",
        "text/javascript; charset=utf-8",
        include_str!("../../ui/admin.js"),
    ),
    (
        "api.js",
        "text/javascript; charset=utf-8",
        include_str!("../../ui/api.js"),
    ),
];

const PLAYGROUND: &str = include_str!("../../ui/index.html");
const DASHBOARD: &str = include_str!("../../ui/admin.html");

/// Scripts and styles from this origin only; images from wherever the
/// server's signed URLs point (`api.public_url` may name another host).
const CSP: &str = "default-src 'self'; img-src 'self' data: http: https:; script-src 'self'; \
    style-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; \
    frame-ancestors 'none'; form-action 'self'";

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/", web::get().to(playground))
        .route("/admin", web::get().to(dashboard))
        .route("/ui/{file}", web::get().to(asset));
}

fn page(html: &'static str) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .insert_header((header::CONTENT_SECURITY_POLICY, CSP))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .insert_header((header::REFERRER_POLICY, "no-referrer"))
        .insert_header((header::CACHE_CONTROL, "no-cache"))
        .body(html)
}

async fn playground() -> HttpResponse {
    page(PLAYGROUND)
}

async fn dashboard() -> HttpResponse {
    page(DASHBOARD)
}

async fn asset(file: web::Path<String>) -> Result<HttpResponse, ApiError> {
    let (_, content_type, body) = ASSETS
        .iter()
        .find(|(name, _, _)| *name == file.as_str())
        .ok_or(ApiError::NotFound("file"))?;
    // A few kilobytes each: revalidated every time, so an upgrade shows at once.
    Ok(HttpResponse::Ok()
        .content_type(*content_type)
        .insert_header((header::CACHE_CONTROL, "no-cache"))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .body(*body))
}
