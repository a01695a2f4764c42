//! The OpenAPI 3.1 description, generated from the handlers' annotations
//! (utoipa) and served at `/api/v1/openapi.json`, with a Swagger UI at
//! `/docs` bundled into the binary (no CDN). `docs/openapi.json` is the
//! checked-in copy; the suite fails when it is stale
//! (`UPDATE_OPENAPI=1 cargo test -p thumbforge-api openapi` rewrites it).

use utoipa::{
    Modify, OpenApi,
    openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme},
};

use crate::routes;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "thumbforge",
        description = "Self-hostable YouTube thumbnail generation: FatThumb- and Flokan-compatible. See docs/api.md.",
        license(name = "MIT OR Apache-2.0")
    ),
    paths(
        routes::generate::generate,
        routes::generations::list,
        routes::generations::get,
        routes::generations::cancel,
        routes::generations::delete,
        routes::events::stream_events,
        routes::assets::upload,
        routes::assets::list,
        routes::assets::get,
        routes::assets::delete,
        routes::provider_keys::set,
        routes::provider_keys::list,
        routes::provider_keys::delete,
        routes::styles::create,
        routes::styles::list,
        routes::styles::get,
        routes::styles::delete,
        routes::webhooks::secret,
        routes::webhooks::rotate,
        routes::webhooks::deliveries,
        routes::flokan::generate,
        routes::flokan::list,
        routes::flokan::get,
        routes::flokan::delete,
        routes::youtube::search,
        routes::models::list,
        routes::admin::queue,
        routes::admin::retry,
        routes::admin::discard,
        routes::files::get,
        routes::health::healthz,
        routes::health::readyz,
        routes::health::metrics,
    ),
    modifiers(&Security)
)]
pub struct ApiDoc;

struct Security;

impl Modify for Security {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
        components.add_security_scheme(
            "api_key",
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::new("x-api-key"))),
        );
    }
}

/// The spec as served and checked in.
pub fn spec_json() -> String {
    ApiDoc::openapi()
        .to_pretty_json()
        .expect("the OpenAPI document serializes")
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_checked_in_openapi_is_current() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/openapi.json");
        let current = super::spec_json() + "\n";
        if std::env::var_os("UPDATE_OPENAPI").is_some() {
            std::fs::write(path, &current).expect("write docs/openapi.json");
        }
        let checked_in = std::fs::read_to_string(path).unwrap_or_default();
        assert!(
            checked_in == current,
            "docs/openapi.json is stale: run `UPDATE_OPENAPI=1 cargo test -p thumbforge-api openapi`"
        );
    }
}
