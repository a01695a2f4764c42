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
        routes::admin::jobs,
        routes::admin::job,
        routes::admin::retry_many,
        routes::admin::discard_many,
        routes::admin::stats,
        routes::files::get,
        routes::health::healthz,
        routes::health::readyz,
        routes::health::metrics,
    ),
    components(schemas(
        webhook::GenerationCompleted,
        webhook::ThumbnailEnded,
        webhook::WebhookGeneration,
        webhook::WebhookThumbnail
    )),
    modifiers(&Security, &Enums, &Webhooks, &NulRefusal)
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

/// The string enums a generated client should type, each built from the
/// code that owns its values and referred to from every property that
/// holds one: (schema, description, values, `(schema, property)` uses).
type EnumTable = [(
    &'static str,
    &'static str,
    Vec<&'static str>,
    &'static [(&'static str, &'static str)],
); 6];

fn enum_table() -> EnumTable {
    use strum::IntoEnumIterator;
    use thumbforge_core::Webhook;
    use thumbforge_core::{AspectRatio, ErrorCode, GenerationStatus, ThumbnailStatus};
    use thumbforge_db::webhooks::DELIVERY_STATUSES;
    [
        (
            "ErrorCode",
            "A stable, machine-readable error code (docs/api.md, \"Error codes\").",
            ErrorCode::iter().map(|c| c.as_str()).collect(),
            &[("Problem", "code"), ("FlokanErrorBody", "code")],
        ),
        (
            "GenerationStatus",
            "`processing` until every thumbnail has ended; then `succeeded`, `partial`, `failed` or `canceled` (docs/architecture.md, \"Status rules\").",
            GenerationStatus::iter()
                .map(GenerationStatus::as_str)
                .collect(),
            &[
                ("GenerationBody", "status"),
                ("GenerateResponse", "status"),
                ("WebhookGeneration", "status"),
            ],
        ),
        (
            "ThumbnailStatus",
            "`processing`, then `succeeded`, `failed` or `canceled`, never back.",
            ThumbnailStatus::iter()
                .map(ThumbnailStatus::as_str)
                .collect(),
            &[("ThumbnailBody", "status"), ("WebhookThumbnail", "status")],
        ),
        (
            "AspectRatio",
            "The output shape: 16:9 is 1280x720, 4:3 is 960x720, 1:1 is 720x720.",
            AspectRatio::ALL.map(AspectRatio::as_str).to_vec(),
            &[
                ("GenerateBody", "aspectRatio"),
                ("GenerationBody", "aspectRatio"),
            ],
        ),
        (
            "WebhookEvents",
            "`completed`: the generation's end only; `all`: each thumbnail's end too.",
            Webhook::EVENTS.to_vec(),
            &[("GenerateBody", "webhookEvents")],
        ),
        (
            "DeliveryStatus",
            "A webhook delivery: `pending` (to be tried, or tried again), `delivered`, or `failed` after its last attempt.",
            DELIVERY_STATUSES.to_vec(),
            &[("DeliveryBody", "status")],
        ),
    ]
}

struct Enums;

impl Modify for Enums {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::{
            ObjectBuilder, OneOfBuilder, Ref, RefOr, Schema, Type, schema::SchemaType,
        };
        let components = openapi.components.get_or_insert_with(Default::default);
        for (name, description, values, uses) in enum_table() {
            let schema = ObjectBuilder::new()
                .schema_type(Type::String)
                .description(Some(description))
                .enum_values(Some(values))
                .build();
            components
                .schemas
                .insert(name.to_owned(), RefOr::T(Schema::Object(schema)));
            for (body, property) in uses {
                let Some(RefOr::T(Schema::Object(object))) = components.schemas.get_mut(*body)
                else {
                    panic!("the spec has no object schema {body}");
                };
                let Some(RefOr::T(Schema::Object(old))) = object.properties.get(*property) else {
                    panic!("{body} has no property {property}");
                };
                let nullable = matches!(&old.schema_type, SchemaType::Array(types) if types.contains(&Type::Null));
                let reference = RefOr::Ref(Ref::from_schema_name(name));
                let new = if nullable {
                    RefOr::T(Schema::OneOf(
                        OneOfBuilder::new()
                            .item(reference)
                            .item(ObjectBuilder::new().schema_type(Type::Null))
                            .build(),
                    ))
                } else {
                    reference
                };
                object.properties.insert((*property).to_owned(), new);
            }
        }
    }
}

/// The messages a generation's `webhookUrl` receives (OpenAPI 3.1
/// `webhooks`), one per event type.
struct Webhooks;

impl Modify for Webhooks {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::{
            ContentBuilder, HttpMethod, PathItem, PathsBuilder, Ref, ResponseBuilder,
            path::OperationBuilder, request_body::RequestBodyBuilder,
        };
        let mut paths = PathsBuilder::new();
        for (event, schema, summary) in webhook::EVENTS {
            let operation = OperationBuilder::new()
                .operation_id(Some(format!("webhook_{}", event.replace('.', "_"))))
                .summary(Some(summary))
                .description(Some(
                    "A Standard Webhooks message, signed with the organisation's secret \
                     (`webhook-id`, `webhook-timestamp` and `webhook-signature` headers; \
                     docs/api.md, \"Webhooks\"). Any 2xx answer is success.",
                ))
                .request_body(Some(
                    RequestBodyBuilder::new()
                        .content(
                            "application/json",
                            ContentBuilder::new()
                                .schema(Some(Ref::from_schema_name(schema)))
                                .build(),
                        )
                        .required(Some(utoipa::openapi::Required::True))
                        .build(),
                ))
                .response(
                    "2XX",
                    ResponseBuilder::new().description("Received; not retried"),
                )
                .response(
                    "default",
                    ResponseBuilder::new().description("A failed attempt, retried with backoff"),
                )
                .build();
            paths = paths.path(event, PathItem::new(HttpMethod::Post, operation));
        }
        openapi.webhooks = Some(paths.build());
    }
}

/// Documentation types for the webhook messages. The worker writes them
/// (thumbforge-worker `webhooks`); the suite checks that a delivered
/// message has exactly these fields.
pub mod webhook {
    #![allow(dead_code)]

    /// (event type, message schema, summary).
    pub const EVENTS: [(&str, &str, &str); 4] = [
        (
            "generation.completed",
            "GenerationCompleted",
            "The generation has ended (any terminal status)",
        ),
        (
            "thumbnail.succeeded",
            "ThumbnailEnded",
            "A thumbnail has an image (`webhookEvents: all`)",
        ),
        (
            "thumbnail.failed",
            "ThumbnailEnded",
            "A thumbnail failed (`webhookEvents: all`)",
        ),
        (
            "thumbnail.canceled",
            "ThumbnailEnded",
            "A thumbnail was canceled (`webhookEvents: all`)",
        ),
    ];

    /// `generation.completed`.
    #[derive(utoipa::ToSchema)]
    pub struct GenerationCompleted {
        /// `generation.completed`.
        #[schema(rename = "type", pattern = "^generation\\.completed$")]
        pub kind: String,
        /// When the event was queued, RFC 3339 with milliseconds.
        pub timestamp: String,
        pub data: WebhookGeneration,
    }

    /// `thumbnail.succeeded`, `thumbnail.failed` or `thumbnail.canceled`.
    #[derive(utoipa::ToSchema)]
    pub struct ThumbnailEnded {
        #[schema(rename = "type", pattern = "^thumbnail\\.(succeeded|failed|canceled)$")]
        pub kind: String,
        /// When the event was queued, RFC 3339 with milliseconds.
        pub timestamp: String,
        pub data: WebhookThumbnail,
    }

    /// The generation, without image URLs (they are signed per request:
    /// fetch `GET /api/v1/generations/{id}` for them).
    #[derive(utoipa::ToSchema)]
    #[schema(rename_all = "camelCase")]
    pub struct WebhookGeneration {
        pub id: String,
        pub status: String,
        pub model: String,
        pub count: i32,
        /// Unix milliseconds.
        pub created_at: i64,
        /// Unix milliseconds.
        pub completed_at: Option<i64>,
        pub thumbnails: Vec<WebhookThumbnail>,
    }

    /// One thumbnail, without its image URL.
    #[derive(utoipa::ToSchema)]
    #[schema(rename_all = "camelCase")]
    pub struct WebhookThumbnail {
        pub generation_id: String,
        pub id: String,
        pub status: String,
        pub is_watermarked: bool,
        pub is_hidden: bool,
        pub error: Option<String>,
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

    fn spec() -> serde_json::Value {
        serde_json::from_str(&super::spec_json()).expect("the spec is JSON")
    }

    #[test]
    fn the_spec_enumerates_every_error_code_for_both_error_bodies() {
        let spec = spec();
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
    fn every_enum_is_a_schema_that_its_properties_refer_to() {
        let spec = spec();
        let schemas = &spec["components"]["schemas"];
        for (name, _, values, uses) in super::enum_table() {
            assert_eq!(schemas[name]["enum"], serde_json::json!(values), "{name}");
            let target = format!("#/components/schemas/{name}");
            for (body, property) in uses {
                let p = &schemas[body]["properties"][property];
                let reference = p["$ref"].as_str().or(p["oneOf"][0]["$ref"].as_str());
                assert_eq!(reference, Some(target.as_str()), "{body}.{property}: {p}");
            }
        }
        // The record's `stage`s are enums too.
        assert_eq!(
            schemas["Stage"]["enum"],
            serde_json::json!(["queued", "rendering"])
        );
    }

    /// Generators name a method after its operation id, so each must be
    /// there and unique (openapi-spec-validator refuses duplicates).
    #[test]
    fn every_operation_and_webhook_has_an_id_of_its_own() {
        let spec = spec();
        let mut seen = BTreeSet::new();
        for section in ["paths", "webhooks"] {
            for (path, item) in spec[section].as_object().expect(section) {
                for (method, operation) in item.as_object().expect("a path item") {
                    let id = operation["operationId"]
                        .as_str()
                        .unwrap_or_else(|| panic!("{method} {path} has no operationId"));
                    assert!(seen.insert(id.to_owned()), "{id} is used twice");
                }
            }
        }
        let webhooks: BTreeSet<&str> = spec["webhooks"]
            .as_object()
            .expect("webhooks")
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(
            webhooks,
            BTreeSet::from([
                "generation.completed",
                "thumbnail.succeeded",
                "thumbnail.failed",
                "thumbnail.canceled"
            ])
        );
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
