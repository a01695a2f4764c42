//! Self-hosted model backends an operator runs (`[backends.NAME]`): a
//! ComfyUI server with a workflow, an AUTOMATIC1111-compatible server, or
//! any OpenAI-compatible images endpoint. A catalogue entry's route
//! `backend:NAME` sends its thumbnails there.

use std::path::PathBuf;

use secrecy::SecretString;
use serde::Deserialize;
use serde_json::Value;

/// One backend, by its `kind`.
#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum BackendSettings {
    Comfyui(ComfyUiSettings),
    Sdapi(SdApiSettings),
    OpenaiCompatible(OpenAiCompatibleSettings),
}

/// What an operator sets for one ComfyUI server and workflow.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ComfyUiSettings {
    /// The server's address (`http://comfy-host:8188`).
    pub base_url: String,
    /// The workflow in ComfyUI's API format ("Export (API)"): a JSON
    /// object, or a string holding one. Or give `workflow_file`.
    #[serde(default)]
    pub workflow: Value,
    /// A file holding the workflow, read at start-up.
    #[serde(default)]
    pub workflow_file: Option<PathBuf>,
    /// The node whose images are the result, when the workflow has more
    /// than one image output. Otherwise the first `output` image is taken.
    #[serde(default)]
    pub output_node: Option<String>,
    #[serde(default)]
    pub negative_prompt: String,
    /// Listen on `/ws` for progress (on by default); off polls only.
    #[serde(default = "default_true")]
    pub websocket: bool,
    /// Overrides the provider timeout for this server: how long one
    /// prompt may take from submission to its image.
    #[serde(default)]
    pub timeout_secs: Option<u64>,
}

fn default_true() -> bool {
    true
}

/// What an operator sets for one AUTOMATIC1111-compatible server.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SdApiSettings {
    /// The web UI's address (`http://sd-host:7860`), without `/sdapi`.
    pub base_url: String,
    #[serde(default = "default_steps")]
    pub steps: u32,
    #[serde(default = "default_cfg_scale")]
    pub cfg_scale: f64,
    /// The sampler (`Euler a`, `DPM++ 2M`); the server's default if unset.
    #[serde(default)]
    pub sampler_name: Option<String>,
    #[serde(default)]
    pub negative_prompt: String,
    /// How far img2img may move from the reference: 0 keeps it, 1
    /// ignores it.
    #[serde(default = "default_denoising_strength")]
    pub denoising_strength: f64,
    /// The `--api-auth` credentials, if the server was started with them.
    #[serde(default)]
    pub auth: Option<SdApiAuth>,
    /// Overrides the provider timeout for this server: the call lasts as
    /// long as the image takes to make.
    #[serde(default)]
    pub timeout_secs: Option<u64>,
}

/// HTTP basic credentials (`--api-auth user:pass`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SdApiAuth {
    pub username: String,
    pub password: SecretString,
}

fn default_steps() -> u32 {
    25
}

fn default_cfg_scale() -> f64 {
    7.0
}

fn default_denoising_strength() -> f64 {
    0.6
}

/// What an operator sets for one OpenAI-compatible endpoint.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OpenAiCompatibleSettings {
    /// Where `/v1/images/generations` lives, without `/v1`
    /// (`http://localai:8080`).
    pub base_url: String,
    /// The server's model name.
    pub model: String,
    /// Sent as a bearer token when set.
    #[serde(default)]
    pub api_key: Option<SecretString>,
    /// `b64_json` (the default) inlines the image; empty leaves the field
    /// out for servers that refuse it.
    #[serde(default = "default_response_format")]
    pub response_format: String,
    /// Overrides the provider timeout for this endpoint (one call).
    #[serde(default)]
    pub timeout_secs: Option<u64>,
}

fn default_response_format() -> String {
    "b64_json".to_owned()
}
