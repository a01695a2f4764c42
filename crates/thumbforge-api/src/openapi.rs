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
    modifiers(&Security, &ErrorCodes, &NulRefusal)
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

/// One `ErrorCode` schema, an enum of every code, which both error bodies
/// (`Problem` and Flokan's envelope) refer to, so a generated client gets
/// a type for it.
struct ErrorCodes;

impl Modify for ErrorCodes {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::{ObjectBuilder, Ref, RefOr, Schema, Type};
        let components = openapi.components.get_or_insert_with(Default::default);
        let codes = ObjectBuilder::new()
            .schema_type(Type::String)
            .description(Some(
                "A stable, machine-readable error code (docs/api.md, \"Error codes\").",
            ))
            .enum_values(Some(thumbforge_core::ErrorCode::iter().map(|c| c.as_str())))
            .build();
        components
            .schemas
            .insert("ErrorCode".to_owned(), RefOr::T(Schema::Object(codes)));
        for body in ["Problem", "FlokanErrorBody"] {
            if let Some(RefOr::T(Schema::Object(object))) = components.schemas.get_mut(body) {
                object.properties.insert(
                    "code".to_owned(),
                    RefOr::Ref(Ref::from_schema_name("ErrorCode")),
                );
            }
        }
    }
}

/// Every operation may answer a URL holding U+0000 with `invalid_character`
/// before its handler runs (the middleware in `access`): 422 with a
/// problem, or on Flokan's surface 400 with its envelope.
struct NulRefusal;

impl Modify for NulRefusal {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::{ContentBuilder, Ref, RefOr, Response, ResponseBuilder};
        let refusal = |status: &str, content_type: &str, body: &str| -> (String, RefOr<Response>) {
            let response = ResponseBuilder::new()
                .description(
                    "The path or the query holds U+0000 (`invalid_character`), or another refusal",
                )
                .content(
                    content_type,
                    ContentBuilder::new()
                        .schema(Some(Ref::from_schema_name(body)))
                        .build(),
                )
                .build();
            (status.to_owned(), RefOr::T(response))
        };
        for (path, item) in openapi.paths.paths.iter_mut() {
            let (status, response) = if path.starts_with(crate::routes::flokan::PREFIX) {
                refusal("400", "application/json", "FlokanErrorBody")
            } else {
                refusal("422", "application/problem+json", "Problem")
            };
            for operation in [
                &mut item.get,
                &mut item.put,
                &mut item.post,
                &mut item.delete,
                &mut item.patch,
            ]
            .into_iter()
            .flatten()
            {
                operation
                    .responses
                    .responses
                    .entry(status.clone())
                    .or_insert_with(|| response.clone());
            }
        }
    }
}

/// The Swagger UI at `/docs` (bundled, no CDN) and the spec it reads.
pub fn configure(cfg: &mut actix_web::web::ServiceConfig) {
    use actix_web::{HttpResponse, web};
    cfg.service(
        utoipa_swagger_ui::SwaggerUi::new("/docs/{_:.*}")
            .url("/api/v1/openapi.json", ApiDoc::openapi()),
    )
    .route(
        "/docs",
        web::get().to(|| async {
            HttpResponse::Found()
                .insert_header(("Location", "/docs/"))
                .finish()
        }),
    );
}

/// The spec as served and checked in.
pub fn spec_json() -> String {
    ApiDoc::openapi()
        .to_pretty_json()
        .expect("the OpenAPI document serializes")
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use thumbforge_core::ErrorCode;

    fn all_codes() -> BTreeSet<String> {
        ErrorCode::iter().map(|c| c.as_str().to_owned()).collect()
    }

    #[test]
    fn docs_api_lists_every_error_code_and_no_other() {
        let api_md = include_str!("../../../docs/api.md");
        let table = api_md
            .split("## Error codes")
            .nth(1)
            .and_then(|rest| rest.split("\n## ").next())
            .expect("docs/api.md has an `## Error codes` section");
        let documented: BTreeSet<String> = table
            .lines()
            .filter_map(|line| line.strip_prefix('|'))
            .filter_map(|line| line.split('|').nth(1))
            .filter_map(|cell| cell.trim().strip_prefix('`')?.strip_suffix('`'))
            .map(str::to_owned)
            .collect();
        let code = all_codes();
        assert_eq!(
            documented.difference(&code).collect::<Vec<_>>(),
            Vec::<&String>::new(),
            "documented in docs/api.md but not in ErrorCode"
        );
        assert_eq!(
            code.difference(&documented).collect::<Vec<_>>(),
            Vec::<&String>::new(),
            "in ErrorCode but not in docs/api.md's table"
        );
    }

    #[test]
    fn the_spec_enumerates_every_error_code_for_both_error_bodies() {
        let spec: serde_json::Value =
            serde_json::from_str(&super::spec_json()).expect("the spec is JSON");
        let schemas = &spec["components"]["schemas"];
        let listed: BTreeSet<String> = schemas["ErrorCode"]["enum"]
            .as_array()
            .expect("an enum")
            .iter()
            .filter_map(|v| v.as_str().map(str::to_owned))
            .collect();
        assert_eq!(listed, all_codes());
        for body in ["Problem", "FlokanErrorBody"] {
            assert_eq!(
                schemas[body]["properties"]["code"]["$ref"], "#/components/schemas/ErrorCode",
                "{body}"
            );
        }
    }

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
