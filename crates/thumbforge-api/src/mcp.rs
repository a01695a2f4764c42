//! MCP at `POST /api/mcp` (FatThumb's "MCP Server"): Streamable HTTP in
//! stateless mode, JSON-RPC 2.0, on the official Rust SDK (`rmcp`, mounted
//! in actix-web by `rmcp-actix-web`). Tools:
//!
//! - `generate_thumbnail`: FatThumb's generate arguments; returns the
//!   `generationId` at once, to poll with `get_generation`;
//! - `get_generation`: what `GET /api/v1/generations/{id}` answers;
//! - `search_youtube`: Flokan's YouTube search.
//!
//! `initialize` and `tools/list` need no key; `tools/call` needs the same
//! key as REST (`Authorization: Bearer` or `x-api-key`), with its scope and
//! rate limits.

use std::sync::Arc;

use actix_web::web;
use rmcp::{
    ErrorData as McpError, ServerHandler,
    handler::server::{common::Extension, router::tool::ToolRouter, wrapper::Parameters},
    model::{CallToolResult, ErrorCode, Implementation, ServerCapabilities, ServerConfig},
    schemars, tool, tool_handler, tool_router,
};
use rmcp_actix_web::transport::StreamableHttpService;
use serde::Deserialize;
use thumbforge_core::GenerateRequest;
use thumbforge_db::keys::Caller;

use crate::{
    AppState,
    app::{
        generations::{get, parse_id},
        submit::{NewGeneration, submit},
        youtube,
    },
    error::ApiError,
    wire::{GenerateBody, GenerateResponse, GenerationBody},
};

/// The key the client presented, carried from the HTTP request.
#[derive(Debug, Clone)]
struct PresentedKey(Option<String>);

#[derive(Clone)]
pub struct ThumbforgeMcp {
    state: web::Data<AppState>,
    tool_router: ToolRouter<Self>,
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct GenerateArgs {
    /// What the thumbnail should show.
    pub prompt: String,
    /// `gemini-3-pro`, `gpt-image-2`, `local`, … (default: the server's).
    pub model: Option<String>,
    /// Variations, 1 to 4 (default 1).
    pub count: Option<i64>,
    /// Person asset ids for face consistency.
    pub person_ids: Option<Vec<String>>,
    /// Inspiration asset ids for style.
    pub inspiration_ids: Option<Vec<String>>,
    /// `16:9` (default), `4:3` or `1:1`.
    pub aspect_ratio: Option<String>,
    /// The video's title, drawn on the thumbnail by the local renderer.
    pub title: Option<String>,
    /// `png` (default), `jpeg` or `webp`; every file is at most 2 MB.
    pub format: Option<String>,
}

impl From<GenerateArgs> for GenerateBody {
    fn from(args: GenerateArgs) -> GenerateBody {
        GenerateBody {
            prompt: args.prompt,
            model: args.model,
            count: args.count,
            person_ids: args.person_ids,
            inspiration_ids: args.inspiration_ids,
            aspect_ratio: args.aspect_ratio,
            reference_image_url: None,
            youtube_references: None,
            provider: None,
            webhook_url: None,
            webhook_events: None,
            style_id: None,
            title: args.title,
            format: args.format,
        }
    }
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct GetArgs {
    /// The id `generate_thumbnail` returned.
    pub generation_id: String,
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SearchArgs {
    /// What to search YouTube for (1 to 200 characters).
    pub query: String,
    /// `next_page_token` of a previous search.
    pub page_token: Option<String>,
}

/// An API error as a JSON-RPC error, with our code in `data`.
fn rpc_error(e: ApiError) -> McpError {
    let code = match &e {
        ApiError::MissingApiKey | ApiError::InvalidApiKey => ErrorCode(-32001),
        ApiError::InsufficientScope(_) | ApiError::PlanRequired(_) => ErrorCode(-32003),
        ApiError::RateLimited(_) => ErrorCode(-32029),
        ApiError::Internal(_) | ApiError::DatabaseUnavailable | ApiError::QueueUnavailable => {
            ErrorCode::INTERNAL_ERROR
        }
        _ => ErrorCode::INVALID_PARAMS,
    };
    let message = match &e {
        ApiError::Internal(_) => "internal error".to_owned(),
        other => other.to_string(),
    };
    McpError::new(code, message, Some(serde_json::json!({ "code": e.code() })))
}

/// A tool's answer as structured JSON, or its error.
fn answer(result: Result<impl serde::Serialize, ApiError>) -> Result<CallToolResult, McpError> {
    let value = result.and_then(|a| serde_json::to_value(a).map_err(ApiError::internal));
    Ok(CallToolResult::structured(value.map_err(rpc_error)?))
}

fn key_of(parts: &http::request::Parts) -> Option<String> {
    parts
        .extensions
        .get::<rmcp::model::Extensions>()
        .and_then(|e| e.get::<PresentedKey>())
        .and_then(|k| k.0.clone())
}

fn base_url(state: &AppState, parts: &http::request::Parts) -> String {
    if let Some(url) = &state.public_url {
        return url.trim_end_matches('/').to_owned();
    }
    let host = parts
        .headers
        .get(http::header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("localhost");
    format!("http://{host}")
}

#[tool_router]
impl ThumbforgeMcp {
    pub fn new(state: web::Data<AppState>) -> ThumbforgeMcp {
        ThumbforgeMcp {
            state,
            tool_router: Self::tool_router(),
        }
    }

    async fn caller(
        &self,
        parts: &http::request::Parts,
        generate: bool,
    ) -> Result<Caller, McpError> {
        crate::auth::caller_for_key(&self.state, key_of(parts), generate)
            .await
            .map_err(rpc_error)
    }

    #[tool(
        description = "Start generating YouTube thumbnails (1280x720 PNGs). Returns a generationId at once; poll get_generation until its status is succeeded, failed or partial."
    )]
    async fn generate_thumbnail(
        &self,
        Parameters(args): Parameters<GenerateArgs>,
        Extension(parts): Extension<http::request::Parts>,
    ) -> Result<CallToolResult, McpError> {
        let caller = self.caller(&parts, true).await?;
        answer(
            async {
                let new = NewGeneration {
                    request: GenerateRequest::try_from(GenerateBody::from(args))?,
                    style_id: None,
                    idempotency_key: None,
                    sync: false,
                };
                Ok(GenerateResponse::from(
                    submit(&self.state, &caller, new).await?,
                ))
            }
            .await,
        )
    }

    #[tool(
        description = "A generation's status and thumbnails, with signed image URLs once they succeed."
    )]
    async fn get_generation(
        &self,
        Parameters(args): Parameters<GetArgs>,
        Extension(parts): Extension<http::request::Parts>,
    ) -> Result<CallToolResult, McpError> {
        let caller = self.caller(&parts, false).await?;
        let base = base_url(&self.state, &parts);
        answer(
            async {
                let view = get(&self.state, &caller, &parse_id(&args.generation_id)?).await?;
                let standings = crate::app::generations::standings(&self.state, &view).await;
                Ok(GenerationBody::placed(&self.state, &base, &view, &standings).await)
            }
            .await,
        )
    }

    #[tool(
        description = "Search YouTube; the thumbnail_url values can be given to a generation as references."
    )]
    async fn search_youtube(
        &self,
        Parameters(args): Parameters<SearchArgs>,
        Extension(parts): Extension<http::request::Parts>,
    ) -> Result<CallToolResult, McpError> {
        self.caller(&parts, false).await?;
        answer(youtube::search(&self.state, &args.query, args.page_token.as_deref()).await)
    }
}

#[tool_handler(router = self.tool_router)]
impl ServerHandler for ThumbforgeMcp {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
            .with_server_info(Implementation::new("thumbforge", env!("CARGO_PKG_VERSION")))
            .with_instructions(
                "Generate YouTube thumbnails: call generate_thumbnail, then poll get_generation every few seconds until the status is succeeded, failed or partial.",
            )
    }
}

/// The MCP endpoint, stateless: every POST is one self-contained JSON-RPC
/// exchange, answered as `application/json`.
pub fn service(state: web::Data<AppState>) -> StreamableHttpService<ThumbforgeMcp> {
    StreamableHttpService::builder()
        .service_factory(Arc::new(move || Ok(ThumbforgeMcp::new(state.clone()))))
        .session_manager(Arc::new(
            rmcp::transport::streamable_http_server::session::local::LocalSessionManager::default(),
        ))
        .stateful_mode(false)
        .json_response(true)
        // The Host check guards unauthenticated local servers against DNS
        // rebinding; every tool call here needs an API key, and the API is
        // served under whatever host name the operator gives it.
        .allowed_hosts(Vec::new())
        .on_request_fn(|req, extensions| {
            extensions.insert(PresentedKey(crate::auth::presented_key(req)));
        })
        .build()
}
