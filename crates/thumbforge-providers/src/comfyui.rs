//! ComfyUI, with a workflow the operator supplies in its API format
//! (`{"3": {"class_type": "KSampler", "inputs": {...}}, ...}`). String
//! placeholders in it are filled per call: `{{prompt}}`,
//! `{{negative_prompt}}`, `{{width}}`, `{{height}}`, `{{seed}}` and
//! `{{image}}` (the primary reference, uploaded with `POST /upload/image`).
//! A string that is a placeholder and nothing else becomes the value's own
//! JSON type, so `"{{width}}"` is the number 1280; inside longer text the
//! value is spelled out.
//!
//! `POST /prompt` with `{prompt, client_id}` answers a `prompt_id`; the
//! prompt is finished once `GET /history/{prompt_id}` holds it, with
//! `outputs` (node id → `images: [{filename, subfolder, type}]`) and a
//! `status`. The image is read with `GET /view`. While it waits, the
//! adapter listens on `GET /ws?clientId=…` (plain `ws://` only) for the
//! messages about its prompt: `execution_start`, `executing` and
//! `progress` mean it runs, `executing` with no node (or `execution_*`)
//! that it ended, which is looked up at once. Without a socket (an
//! `https` server, or one that refuses it) the history is polled each
//! poll interval. Until it runs, `GET /queue` gives its place: the
//! prompts running plus those queued with a lower number.
//!
//! A call dropped or timed out before its prompt ended removes it from
//! the queue (`POST /queue {delete}`) and interrupts it (`POST /interrupt
//! {prompt_id}`), best-effort. Older servers ignore the `prompt_id` and
//! interrupt whatever runs.

use std::{collections::BTreeMap, time::Duration};

use futures::StreamExt;
use reqwest::StatusCode;
use serde::Deserialize;
use serde_json::{Value, json};
use thumbforge_core::{
    cpu::CpuSlots,
    progress::{self, ProviderStage},
};
use tokio::net::TcpStream;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream, tungstenite::Message};
use tracing::{debug, warn};
use url::Url;

use crate::{
    HttpPolicy, ImageModel, ImageRequest, Picture, ProviderError,
    http::{
        Upstream, download_image, error_code, read_capped, send_json, status_error,
        transport_error, with_retries_in_place,
    },
};
use thumbforge_config::ComfyUiSettings;

const NAME: &str = "comfyui";

/// A ComfyUI server running one workflow.
#[derive(Debug, Clone)]
pub struct ComfyUi {
    up: Upstream,
    workflow: Value,
    needs_image: bool,
    output_node: Option<String>,
    negative_prompt: String,
    /// `ws://…` for the base URL, when progress is listened to.
    pub(crate) socket_base: Option<String>,
}

type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

#[derive(Deserialize)]
struct Uploaded {
    name: String,
    #[serde(default)]
    subfolder: String,
}

#[derive(Deserialize)]
struct Queued {
    prompt_id: String,
}

#[derive(Deserialize)]
struct HistoryEntry {
    #[serde(default)]
    outputs: BTreeMap<String, NodeOutput>,
    #[serde(default)]
    status: Option<HistoryStatus>,
}

#[derive(Deserialize)]
struct NodeOutput {
    #[serde(default)]
    images: Vec<OutputImage>,
}

#[derive(Deserialize)]
struct OutputImage {
    filename: String,
    #[serde(default)]
    subfolder: String,
    #[serde(default, rename = "type")]
    kind: String,
}

#[derive(Deserialize)]
struct HistoryStatus {
    #[serde(default)]
    status_str: String,
    /// `[event, data]` pairs: `execution_error`, `execution_interrupted`…
    #[serde(default)]
    messages: Vec<(String, Value)>,
}

/// `GET /queue`: each item is `[number, prompt_id, prompt, extra, outputs]`.
#[derive(Deserialize)]
struct QueueState {
    #[serde(default)]
    queue_running: Vec<Vec<Value>>,
    #[serde(default)]
    queue_pending: Vec<Vec<Value>>,
}

#[derive(Deserialize)]
struct SocketMessage {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    data: Value,
}

/// Largest socket message or frame accepted (binary previews included).
const SOCKET_MESSAGE_LIMIT: usize = 4 << 20;

/// What the wait loop does next.
enum Wake {
    /// Look at the history (and the queue).
    Look,
    /// Running, and how far when a `progress` message says.
    Running(Option<f64>),
    /// The queue moved: look at the prompt's place only.
    Queue,
    Nothing,
    /// The socket closed: poll from now on.
    Lost,
}

/// The per-call values the placeholders stand for.
struct Fill<'a> {
    prompt: &'a str,
    negative_prompt: &'a str,
    width: u32,
    height: u32,
    seed: u32,
    image: Option<&'a str>,
}

impl Fill<'_> {
    fn value(&self, name: &str) -> Option<Value> {
        Some(match name {
            "prompt" => json!(self.prompt),
            "negative_prompt" => json!(self.negative_prompt),
            "width" => json!(self.width),
            "height" => json!(self.height),
            "seed" => json!(self.seed),
            "image" => json!(self.image?),
            _ => return None,
        })
    }

    /// Fills every string in `value`, in place.
    fn apply(&self, value: &mut Value) {
        match value {
            Value::String(text) => {
                if let Some(name) = whole_placeholder(text)
                    && let Some(filled) = self.value(name)
                {
                    *value = filled;
                    return;
                }
                *text = self.spell(text);
            }
            Value::Array(items) => items.iter_mut().for_each(|v| self.apply(v)),
            Value::Object(map) => map.values_mut().for_each(|v| self.apply(v)),
            _ => {}
        }
    }

    /// `text` with each placeholder spelled out, in one pass: a value
    /// that itself holds `{{…}}` (a prompt) is not filled again.
    fn spell(&self, text: &str) -> String {
        let mut out = String::with_capacity(text.len());
        let mut rest = text;
        while let Some(start) = rest.find("{{") {
            out.push_str(&rest[..start]);
            let after = &rest[start + 2..];
            let filled = after
                .find("}}")
                .and_then(|end| Some((end, self.value(&after[..end])?)));
            match filled {
                Some((end, Value::String(value))) => {
                    out.push_str(&value);
                    rest = &after[end + 2..];
                }
                Some((end, value)) => {
                    out.push_str(&value.to_string());
                    rest = &after[end + 2..];
                }
                None => {
                    out.push_str("{{");
                    rest = after;
                }
            }
        }
        out.push_str(rest);
        out
    }
}

fn whole_placeholder(text: &str) -> Option<&str> {
    text.strip_prefix("{{")?.strip_suffix("}}")
}

/// Whether any string in `value` holds `token`.
fn mentions(value: &Value, token: &str) -> bool {
    match value {
        Value::String(text) => text.contains(token),
        Value::Array(items) => items.iter().any(|v| mentions(v, token)),
        Value::Object(map) => map.values().any(|v| mentions(v, token)),
        _ => false,
    }
}

/// The socket's URL base for `base_url`: `ws://` for `http://`; `None`
/// for `https://`, as no TLS stack is built in for the socket.
fn socket_base(base_url: &str) -> Option<String> {
    base_url
        .strip_prefix("http://")
        .map(|rest| format!("ws://{rest}"))
}

/// Where the prompt is: queued behind how many, running, or neither.
fn queue_stage(queue: &QueueState, prompt_id: &str) -> Option<ProviderStage> {
    let id = |item: &Vec<Value>| item.get(1).and_then(Value::as_str) == Some(prompt_id);
    let number = |item: &Vec<Value>| item.first().and_then(Value::as_f64);
    if queue.queue_running.iter().any(id) {
        return Some(ProviderStage::RUNNING);
    }
    let ours = queue.queue_pending.iter().find(|item| id(item))?;
    let ours = number(ours).unwrap_or(f64::MAX);
    let ahead = queue
        .queue_pending
        .iter()
        .filter(|item| number(item).is_some_and(|n| n < ours))
        .count()
        + queue.queue_running.len();
    Some(ProviderStage::Queued {
        position: u32::try_from(ahead).ok(),
    })
}

/// Reads a socket message about this client's prompt.
fn wake_for(text: &str, prompt_id: &str) -> Wake {
    let Ok(message) = serde_json::from_str::<SocketMessage>(text) else {
        return Wake::Nothing;
    };
    // Execution messages go only to the client that queued the prompt;
    // older servers leave the id out of some.
    if let Some(id) = message.data.get("prompt_id").and_then(Value::as_str)
        && id != prompt_id
    {
        return Wake::Nothing;
    }
    match message.kind.as_str() {
        "progress" => {
            let of = |key| message.data.get(key).and_then(Value::as_f64);
            Wake::Running(
                of("value")
                    .zip(of("max"))
                    .filter(|(_, max)| *max > 0.0)
                    .map(|(value, max)| value / max),
            )
        }
        "execution_start" => Wake::Running(None),
        "executing" if message.data.get("node").is_some_and(|n| !n.is_null()) => {
            Wake::Running(None)
        }
        // Done (`executing` with no node), or ended.
        "executing" | "execution_success" | "execution_error" | "execution_interrupted" => {
            Wake::Look
        }
        "status" => Wake::Queue,
        _ => Wake::Nothing,
    }
}

/// Each change of stage once, and never back to queued after running; a
/// node without a figure keeps the last figure.
#[derive(Default)]
struct Stages(Option<ProviderStage>);

impl Stages {
    fn report(&mut self, stage: ProviderStage) {
        let keeps = match (self.0, stage) {
            (Some(now), _) if now == stage => true,
            (Some(ProviderStage::Running { .. }), ProviderStage::Queued { .. }) => true,
            (
                Some(ProviderStage::Running { percent: Some(_) }),
                ProviderStage::Running { percent: None },
            ) => true,
            _ => false,
        };
        if keeps {
            return;
        }
        self.0 = Some(stage);
        progress::report(stage);
    }

    fn running(&self) -> bool {
        self.0.is_some_and(ProviderStage::is_running)
    }
}

/// Cancels a queued prompt on the server if the call ends before it does
/// (dropped, timed out, or failed while waiting). Drop cannot wait, so
/// the requests run on a task of their own.
struct Cancel {
    client: reqwest::Client,
    base_url: String,
    prompt_id: Option<String>,
}

impl Drop for Cancel {
    fn drop(&mut self) {
        let Some(prompt_id) = self.prompt_id.take() else {
            return;
        };
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let (client, base_url) = (self.client.clone(), self.base_url.clone());
        debug!(prompt_id, "cancelling the ComfyUI prompt");
        runtime.spawn(async move {
            let delete = client
                .post(format!("{base_url}/queue"))
                .json(&json!({ "delete": [prompt_id] }))
                .send()
                .await;
            if let Err(e) = delete {
                warn!(prompt_id, error = %e, "could not cancel the ComfyUI prompt");
                return;
            }
            // Interrupt only a prompt that is running: older servers ignore
            // `prompt_id` and would stop whatever runs, another call's image.
            let queue = client.get(format!("{base_url}/queue"));
            let running = match send_json::<QueueState>(NAME, queue).await {
                Ok((queue, _)) => {
                    queue_stage(&queue, &prompt_id).is_some_and(ProviderStage::is_running)
                }
                Err(_) => false,
            };
            if !running {
                return;
            }
            let interrupt = client
                .post(format!("{base_url}/interrupt"))
                .json(&json!({ "prompt_id": prompt_id }))
                .send()
                .await;
            if let Err(e) = interrupt {
                warn!(prompt_id, error = %e, "could not interrupt the ComfyUI prompt");
            }
        });
    }
}

impl ComfyUi {
    /// The adapter `settings` describe, calling with `policy` (its timeout
    /// replaced by the server's own, if set). Fails on a workflow that is
    /// not an API-format object or never uses `{{prompt}}`.
    pub fn new(
        settings: &ComfyUiSettings,
        mut policy: HttpPolicy,
        cpu: CpuSlots,
    ) -> Result<ComfyUi, String> {
        let base_url = settings.base_url.trim_end_matches('/').to_owned();
        Url::parse(&base_url).map_err(|e| format!("comfyui base_url `{base_url}`: {e}"))?;
        let workflow = match &settings.workflow {
            Value::String(text) => serde_json::from_str(text)
                .map_err(|e| format!("comfyui workflow is not JSON: {e}"))?,
            other => other.clone(),
        };
        let nodes = workflow
            .as_object()
            .filter(|nodes| !nodes.is_empty())
            .ok_or("comfyui workflow must be an object of nodes (the API format)")?;
        if let Some((id, _)) = nodes
            .iter()
            .find(|(_, node)| node.get("class_type").and_then(Value::as_str).is_none())
        {
            return Err(format!(
                "comfyui workflow node `{id}` has no class_type; export it with \"Export (API)\""
            ));
        }
        if !mentions(&workflow, "{{prompt}}") {
            return Err("comfyui workflow never uses {{prompt}}".to_owned());
        }
        if let Some(node) = &settings.output_node
            && !nodes.contains_key(node)
        {
            return Err(format!(
                "comfyui output_node `{node}` is not in the workflow"
            ));
        }
        if let Some(secs) = settings.timeout_secs {
            policy.timeout = Duration::from_secs(secs);
        }
        Ok(ComfyUi {
            needs_image: mentions(&workflow, "{{image}}"),
            workflow,
            output_node: settings.output_node.clone(),
            negative_prompt: settings.negative_prompt.clone(),
            socket_base: settings.websocket.then(|| socket_base(&base_url)).flatten(),
            up: Upstream {
                client: policy.backend_client(),
                policy,
                cpu,
                base_url,
                key: secrecy::SecretString::from(""),
                model: String::new(),
            },
        })
    }

    /// Uploads the reference as an input image: the name nodes load it by.
    async fn upload(&self, png: &[u8], client_id: &str) -> Result<String, ProviderError> {
        let part = reqwest::multipart::Part::bytes(png.to_vec())
            .file_name(format!("thumbforge-{client_id}.png"))
            .mime_str("image/png")
            .map_err(|_| ProviderError::Permanent("bad reference part".to_owned()))?;
        let form = reqwest::multipart::Form::new()
            .part("image", part)
            .text("type", "input");
        let request = self
            .up
            .client
            .post(format!("{}/upload/image", self.up.base_url))
            .multipart(form);
        let (uploaded, _): (Uploaded, _) = send_json(NAME, request).await?;
        Ok(if uploaded.subfolder.is_empty() {
            uploaded.name
        } else {
            format!("{}/{}", uploaded.subfolder, uploaded.name)
        })
    }

    /// Queues the filled workflow. A workflow the server refuses (HTTP 400
    /// with `node_errors`) is permanent; the nodes and error types are
    /// logged, not shown.
    async fn submit(&self, workflow: &Value, client_id: &str) -> Result<String, ProviderError> {
        let response = self
            .up
            .client
            .post(format!("{}/prompt", self.up.base_url))
            .json(&json!({ "prompt": workflow, "client_id": client_id }))
            .send()
            .await
            .map_err(|e| transport_error(NAME, &e))?;
        let status = response.status();
        if status == StatusCode::BAD_REQUEST {
            let body = read_capped(NAME, response, 1 << 20)
                .await
                .unwrap_or_default();
            let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
            let error_type = body["error"]["type"].as_str().unwrap_or("unknown");
            let nodes: Vec<String> = body["node_errors"]
                .as_object()
                .map(|errors| {
                    errors
                        .iter()
                        .map(|(id, e)| {
                            let class = e["class_type"].as_str().unwrap_or("?");
                            let kinds: Vec<&str> = e["errors"]
                                .as_array()
                                .map(|l| l.iter().filter_map(|x| x["type"].as_str()).collect())
                                .unwrap_or_default();
                            format!("{id} ({class}): {}", kinds.join(", "))
                        })
                        .collect()
                })
                .unwrap_or_default();
            warn!(error_type, node_errors = ?nodes, "comfyui refused the workflow");
            return Err(ProviderError::Permanent(
                "the ComfyUI server refused the workflow".to_owned(),
            ));
        }
        if !status.is_success() {
            let (status, headers, code) = error_code(response).await;
            return Err(status_error(NAME, status, &headers, code.as_deref()));
        }
        let queued: Queued = crate::http::json_body(NAME, response, 1 << 20).await?;
        Ok(queued.prompt_id)
    }

    async fn history(&self, prompt_id: &str) -> Result<Option<HistoryEntry>, ProviderError> {
        let request = self
            .up
            .client
            .get(format!("{}/history/{prompt_id}", self.up.base_url));
        let (mut history, _): (BTreeMap<String, HistoryEntry>, _) =
            send_json(NAME, request).await?;
        Ok(history.remove(prompt_id))
    }

    /// The prompt's place in the queue; `None` if unknown (a failed poll
    /// is skipped: the stage is a hint).
    async fn queue_stage(&self, prompt_id: &str) -> Option<ProviderStage> {
        let request = self.up.client.get(format!("{}/queue", self.up.base_url));
        match send_json::<QueueState>(NAME, request).await {
            Ok((queue, _)) => queue_stage(&queue, prompt_id),
            Err(e) => {
                debug!(error = %e, "comfyui queue poll failed");
                None
            }
        }
    }

    async fn connect(&self, client_id: &str) -> Option<Socket> {
        let base = self.socket_base.as_ref()?;
        let url = format!("{base}/ws?clientId={client_id}");
        let wait = Duration::from_secs(10).min(self.up.policy.timeout);
        // The socket also carries binary previews; a frame this size is
        // far beyond any JSON message the adapter reads.
        let limits = tokio_tungstenite::tungstenite::protocol::WebSocketConfig::default()
            .max_message_size(Some(SOCKET_MESSAGE_LIMIT))
            .max_frame_size(Some(SOCKET_MESSAGE_LIMIT));
        let connecting = tokio_tungstenite::connect_async_with_config(url, Some(limits), false);
        match tokio::time::timeout(wait, connecting).await {
            Ok(Ok((socket, _))) => Some(socket),
            Ok(Err(e)) => {
                debug!(error = %e, "comfyui socket refused; polling instead");
                None
            }
            Err(_) => {
                debug!("comfyui socket did not open in time; polling instead");
                None
            }
        }
    }

    /// Waits for the prompt to leave the queue and be in the history.
    async fn wait(
        &self,
        prompt_id: &str,
        mut socket: Option<Socket>,
    ) -> Result<HistoryEntry, ProviderError> {
        let now = tokio::time::Instant::now();
        let deadline = now + self.up.policy.timeout;
        let every = self.up.policy.poll_interval;
        // The first look after one interval: a prompt just queued is not done.
        let mut ticker = tokio::time::interval_at(now + every, every);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut stages = Stages::default();
        loop {
            let wake = match socket.as_mut() {
                Some(socket) => tokio::select! {
                    message = socket.next() => match message {
                        Some(Ok(Message::Text(text))) => wake_for(&text, prompt_id),
                        // Previews (binary) and pings.
                        Some(Ok(_)) => Wake::Nothing,
                        Some(Err(_)) | None => Wake::Lost,
                    },
                    _ = ticker.tick() => Wake::Look,
                    () = tokio::time::sleep_until(deadline) => return Err(ProviderError::Timeout),
                },
                None => tokio::select! {
                    _ = ticker.tick() => Wake::Look,
                    () = tokio::time::sleep_until(deadline) => return Err(ProviderError::Timeout),
                },
            };
            match wake {
                Wake::Nothing => continue,
                Wake::Running(done) => {
                    stages.report(done.map_or(ProviderStage::RUNNING, ProviderStage::running_at));
                    continue;
                }
                Wake::Queue => {
                    if !stages.running()
                        && let Some(stage) = self.queue_stage(prompt_id).await
                    {
                        stages.report(stage);
                    }
                    continue;
                }
                Wake::Lost => {
                    debug!("comfyui socket closed; polling instead");
                    socket = None;
                }
                Wake::Look => {}
            }
            let entry =
                with_retries_in_place(&self.up.policy, NAME, || self.history(prompt_id)).await?;
            if let Some(entry) = entry {
                return Ok(entry);
            }
            if !stages.running()
                && let Some(stage) = self.queue_stage(prompt_id).await
            {
                stages.report(stage);
            }
        }
    }

    /// The result image of a finished prompt.
    fn output<'a>(&self, entry: &'a HistoryEntry) -> Result<&'a OutputImage, ProviderError> {
        if let Some(status) = &entry.status
            && status.status_str == "error"
        {
            let (event, detail) = status
                .messages
                .iter()
                .find(|(event, _)| event == "execution_error" || event == "execution_interrupted")
                .map(|(event, data)| (event.as_str(), data))
                .unwrap_or(("error", &Value::Null));
            warn!(
                event,
                node_type = detail["node_type"].as_str(),
                exception_type = detail["exception_type"].as_str(),
                "comfyui prompt failed"
            );
            return Err(ProviderError::Permanent(
                "the workflow failed on the ComfyUI server".to_owned(),
            ));
        }
        let images: Vec<&OutputImage> = match &self.output_node {
            Some(node) => entry
                .outputs
                .get(node)
                .map(|o| o.images.iter().collect())
                .unwrap_or_default(),
            None => entry.outputs.values().flat_map(|o| &o.images).collect(),
        };
        // Saved images before previews (`temp`).
        images
            .iter()
            .find(|i| i.kind == "output")
            .or_else(|| images.first())
            .copied()
            .ok_or_else(|| ProviderError::Permanent("comfyui returned no image".to_owned()))
    }

    async fn view(&self, image: &OutputImage) -> Result<Picture, ProviderError> {
        let url = Url::parse_with_params(
            &format!("{}/view", self.up.base_url),
            [
                ("filename", image.filename.as_str()),
                ("subfolder", image.subfolder.as_str()),
                ("type", image.kind.as_str()),
            ],
        )
        .map_err(|_| ProviderError::Permanent("comfyui base URL is not valid".to_owned()))?;
        with_retries_in_place(&self.up.policy, NAME, || {
            download_image(&self.up, NAME, url.as_str())
        })
        .await
    }
}

#[async_trait::async_trait]
impl ImageModel for ComfyUi {
    async fn generate(&self, request: &ImageRequest) -> Result<Picture, ProviderError> {
        let client_id = hex::encode(rand::random::<[u8; 16]>());
        let policy = &self.up.policy;
        let image = match (self.needs_image, request.references.first()) {
            (true, Some(reference)) => Some(
                with_retries_in_place(policy, NAME, || self.upload(&reference.png, &client_id))
                    .await?,
            ),
            (true, None) => {
                return Err(ProviderError::Permanent(
                    "this ComfyUI workflow needs a reference image".to_owned(),
                ));
            }
            (false, _) => None,
        };
        let mut workflow = self.workflow.clone();
        Fill {
            prompt: &request.prompt,
            negative_prompt: &self.negative_prompt,
            width: request.width,
            height: request.height,
            seed: rand::random(),
            image: image.as_deref(),
        }
        .apply(&mut workflow);
        // Listening before queueing, so no message about the prompt is missed.
        let socket = self.connect(&client_id).await;
        let prompt_id =
            with_retries_in_place(policy, NAME, || self.submit(&workflow, &client_id)).await?;
        debug!(prompt_id, "comfyui prompt queued");
        let mut cancel = Cancel {
            client: self.up.client.clone(),
            base_url: self.up.base_url.clone(),
            prompt_id: Some(prompt_id.clone()),
        };
        let entry = self.wait(&prompt_id, socket).await?;
        // Finished on the server: nothing left to cancel.
        cancel.prompt_id = None;
        let image = self.output(&entry)?;
        self.view(image).await
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use futures::SinkExt;
    use thumbforge_core::progress::ProviderStage;
    use tokio_tungstenite::tungstenite::handshake::server::{Request, Response};
    use wiremock::{
        Mock, MockServer, ResponseTemplate,
        matchers::{method, path, query_param},
    };

    use super::*;
    use crate::{
        Reference,
        tests::{Sequence, png, policy, received, recording, request},
    };

    /// A text-to-image workflow as "Export (API)" writes it, with the
    /// placeholders in its inputs; `with_image` adds a LoadImage node.
    fn workflow(with_image: bool) -> Value {
        let mut workflow = json!({
            "3": { "class_type": "KSampler", "inputs": {
                "seed": "{{seed}}", "steps": 20, "cfg": 7, "sampler_name": "euler",
                "scheduler": "normal", "denoise": 1,
                "model": ["4", 0], "positive": ["6", 0], "negative": ["7", 0],
                "latent_image": ["5", 0] } },
            "4": { "class_type": "CheckpointLoaderSimple",
                   "inputs": { "ckpt_name": "sd_xl_base_1.0.safetensors" } },
            "5": { "class_type": "EmptyLatentImage",
                   "inputs": { "width": "{{width}}", "height": "{{height}}", "batch_size": 1 } },
            "6": { "class_type": "CLIPTextEncode",
                   "inputs": { "text": "youtube thumbnail, {{prompt}}, {{width}}px", "clip": ["4", 1] } },
            "7": { "class_type": "CLIPTextEncode",
                   "inputs": { "text": "{{negative_prompt}}", "clip": ["4", 1] } },
            "8": { "class_type": "VAEDecode", "inputs": { "samples": ["3", 0], "vae": ["4", 2] } },
            "9": { "class_type": "SaveImage",
                   "inputs": { "filename_prefix": "thumbforge", "images": ["8", 0] } }
        });
        if with_image {
            workflow["10"] =
                json!({ "class_type": "LoadImage", "inputs": { "image": "{{image}}" } });
        }
        workflow
    }

    fn settings(server: &MockServer, workflow: Value) -> ComfyUiSettings {
        ComfyUiSettings {
            base_url: server.uri(),
            workflow,
            workflow_file: None,
            output_node: None,
            negative_prompt: String::new(),
            websocket: false,
            timeout_secs: None,
        }
    }

    fn comfy(server: &MockServer, workflow: Value) -> ComfyUi {
        ComfyUi::new(&settings(server, workflow), policy(), CpuSlots::new(1)).expect("valid")
    }

    /// `GET /history/p-1` once the prompt ended: a preview (temp) image
    /// sorts before the saved one, which is the result.
    fn history_done() -> ResponseTemplate {
        ResponseTemplate::new(200).set_body_json(json!({ "p-1": {
            "prompt": [7, "p-1", {}, { "client_id": "x" }, ["9"]],
            "outputs": {
                "11": { "images": [{ "filename": "ComfyUI_temp_0001.png", "subfolder": "", "type": "temp" }] },
                "9": { "images": [{ "filename": "thumbforge_00001_.png", "subfolder": "", "type": "output" }] }
            },
            "status": { "status_str": "success", "completed": true, "messages": [
                ["execution_start", { "prompt_id": "p-1", "timestamp": 1 }],
                ["execution_success", { "prompt_id": "p-1", "timestamp": 2 }]
            ] },
            "meta": {}
        } }))
    }

    fn empty() -> ResponseTemplate {
        ResponseTemplate::new(200).set_body_json(json!({}))
    }

    fn queue(running: &[(u32, &str)], pending: &[(u32, &str)]) -> ResponseTemplate {
        let items = |list: &[(u32, &str)]| {
            list.iter()
                .map(|(n, id)| json!([n, id, {}, {}, ["9"]]))
                .collect::<Vec<_>>()
        };
        ResponseTemplate::new(200).set_body_json(
            json!({ "queue_running": items(running), "queue_pending": items(pending) }),
        )
    }

    /// ComfyUI's endpoints: `/prompt` queues `p-1` as number 7, and
    /// history and queue answer in turn.
    async fn mount(
        server: &MockServer,
        history: Vec<ResponseTemplate>,
        queue: Vec<ResponseTemplate>,
    ) {
        Mock::given(method("POST"))
            .and(path("/prompt"))
            .respond_with(
                ResponseTemplate::new(200)
                    .set_body_json(json!({ "prompt_id": "p-1", "number": 7, "node_errors": {} })),
            )
            .mount(server)
            .await;
        Mock::given(method("GET"))
            .and(path("/history/p-1"))
            .respond_with(Sequence::new(history))
            .mount(server)
            .await;
        Mock::given(method("GET"))
            .and(path("/queue"))
            .respond_with(Sequence::new(queue))
            .mount(server)
            .await;
        Mock::given(method("GET"))
            .and(path("/view"))
            .and(query_param("filename", "thumbforge_00001_.png"))
            .and(query_param("type", "output"))
            .respond_with(
                ResponseTemplate::new(200)
                    .insert_header("content-type", "image/png")
                    .set_body_bytes(png(1280, 720)),
            )
            .mount(server)
            .await;
        Mock::given(method("POST"))
            .and(path("/upload/image"))
            .respond_with(ResponseTemplate::new(200).set_body_json(
                json!({ "name": "thumbforge-ref.png", "subfolder": "refs", "type": "input" }),
            ))
            .mount(server)
            .await;
        for at in ["/interrupt", "/queue"] {
            Mock::given(method("POST"))
                .and(path(at))
                .respond_with(ResponseTemplate::new(200))
                .mount(server)
                .await;
        }
    }

    async fn sent_prompt(server: &MockServer) -> Value {
        let posts = received(server, "POST", "/prompt").await;
        serde_json::from_slice(&posts.last().expect("a prompt was queued").body).expect("json")
    }

    #[tokio::test]
    async fn placeholders_fill_the_workflow_and_the_saved_image_comes_back() {
        let server = MockServer::start().await;
        mount(
            &server,
            vec![empty(), empty(), history_done()],
            vec![
                queue(&[(6, "other")], &[(9, "later"), (7, "p-1")]),
                queue(&[(7, "p-1")], &[]),
            ],
        )
        .await;
        let (picture, stages) =
            recording(comfy(&server, workflow(false)).generate(&request("a red square"))).await;
        let picture = picture.expect("generates");
        assert_eq!((picture.image.width(), picture.image.height()), (1280, 720));
        // One prompt ahead (running); the one queued later does not count.
        assert_eq!(
            stages,
            [
                ProviderStage::Queued { position: Some(1) },
                ProviderStage::RUNNING
            ]
        );

        let sent = sent_prompt(&server).await;
        let nodes = &sent["prompt"];
        assert_eq!(nodes["5"]["inputs"]["width"], json!(1280));
        assert_eq!(nodes["5"]["inputs"]["height"], json!(720));
        assert!(nodes["3"]["inputs"]["seed"].is_u64(), "{}", nodes["3"]);
        assert_eq!(
            nodes["6"]["inputs"]["text"],
            "youtube thumbnail, a red square, 1280px"
        );
        assert_eq!(nodes["7"]["inputs"]["text"], "");
        // Everything else is as the operator wrote it.
        assert_eq!(nodes["4"], workflow(false)["4"]);
        assert_eq!(nodes["6"]["inputs"]["clip"], json!(["4", 1]));
        assert!(sent["client_id"].as_str().is_some_and(|id| id.len() == 32));
        // Nothing to cancel after a finished prompt.
        assert!(received(&server, "POST", "/interrupt").await.is_empty());
    }

    #[tokio::test]
    async fn the_reference_is_uploaded_and_named_in_the_workflow() {
        let server = MockServer::start().await;
        mount(&server, vec![history_done()], vec![queue(&[], &[])]).await;
        let mut req = request("with a face");
        req.references.push(Reference {
            image: image::DynamicImage::ImageRgb8(image::RgbImage::new(8, 8)),
            png: png(8, 8),
            url: None,
            role: crate::ReferenceRole::Image,
        });
        comfy(&server, workflow(true))
            .generate(&req)
            .await
            .expect("generates");
        let uploads = received(&server, "POST", "/upload/image").await;
        assert_eq!(uploads.len(), 1);
        let body = String::from_utf8_lossy(&uploads[0].body);
        assert!(
            body.contains("name=\"image\"; filename=\"thumbforge-"),
            "{body}"
        );
        assert!(body.contains("image/png"));
        let sent = sent_prompt(&server).await;
        assert_eq!(
            sent["prompt"]["10"]["inputs"]["image"],
            "refs/thumbforge-ref.png"
        );

        // The same workflow without a reference is refused before queueing.
        let server = MockServer::start().await;
        mount(&server, vec![history_done()], vec![queue(&[], &[])]).await;
        let err = comfy(&server, workflow(true))
            .generate(&request("no face"))
            .await
            .expect_err("needs a reference");
        assert!(matches!(err, ProviderError::Permanent(_)), "{err}");
        assert!(received(&server, "POST", "/prompt").await.is_empty());
    }

    #[tokio::test]
    async fn refused_workflows_and_failed_prompts_are_permanent_and_outages_retryable() {
        // 400 with node_errors: once, permanent.
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .and(path("/prompt"))
            .respond_with(ResponseTemplate::new(400).set_body_json(json!({
                "error": { "type": "prompt_outputs_failed_validation",
                           "message": "Prompt outputs failed validation", "details": "", "extra_info": {} },
                "node_errors": { "4": { "class_type": "CheckpointLoaderSimple", "dependent_outputs": ["9"],
                    "errors": [{ "type": "value_not_in_list", "message": "Value not in list",
                                 "details": "ckpt_name: 'sd_xl_base_1.0.safetensors' not in []", "extra_info": {} }] } }
            })))
            .mount(&server)
            .await;
        let err = comfy(&server, workflow(false))
            .generate(&request("x"))
            .await
            .expect_err("refused");
        assert!(matches!(err, ProviderError::Permanent(_)), "{err}");
        assert!(!err.public_message().contains("ckpt_name"));
        assert_eq!(received(&server, "POST", "/prompt").await.len(), 1);

        // 503 on every attempt: retryable, after the attempts.
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .and(path("/prompt"))
            .respond_with(ResponseTemplate::new(503))
            .mount(&server)
            .await;
        let err = comfy(&server, workflow(false))
            .generate(&request("x"))
            .await
            .expect_err("down");
        assert!(err.is_retryable(), "{err}");
        assert_eq!(received(&server, "POST", "/prompt").await.len(), 3);

        // A prompt that failed while running: permanent, and no download.
        let server = MockServer::start().await;
        let failed = ResponseTemplate::new(200).set_body_json(json!({ "p-1": {
            "prompt": [7, "p-1", {}, {}, ["9"]], "outputs": {},
            "status": { "status_str": "error", "completed": false, "messages": [
                ["execution_start", { "prompt_id": "p-1", "timestamp": 1 }],
                ["execution_error", { "prompt_id": "p-1", "node_id": "3", "node_type": "KSampler",
                    "executed": [], "exception_message": "CUDA out of memory",
                    "exception_type": "torch.OutOfMemoryError", "traceback": [],
                    "current_inputs": {}, "current_outputs": {} }]
            ] }, "meta": {}
        } }));
        mount(&server, vec![failed], vec![queue(&[], &[])]).await;
        let err = comfy(&server, workflow(false))
            .generate(&request("x"))
            .await
            .expect_err("failed");
        assert!(matches!(err, ProviderError::Permanent(_)), "{err}");
        assert!(received(&server, "GET", "/view").await.is_empty());

        // Nothing listening: retryable.
        let closed = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = closed.local_addr().expect("addr").port();
        drop(closed);
        let mut s = settings(&server, workflow(false));
        s.base_url = format!("http://127.0.0.1:{port}");
        let err = ComfyUi::new(&s, policy(), CpuSlots::new(1))
            .expect("valid")
            .generate(&request("x"))
            .await
            .expect_err("unreachable");
        assert!(err.is_retryable(), "{err}");
    }

    #[tokio::test]
    async fn a_dropped_call_deletes_and_interrupts_its_prompt() {
        let server = MockServer::start().await;
        mount(&server, vec![empty()], vec![queue(&[(7, "p-1")], &[])]).await;
        let model = comfy(&server, workflow(false));
        let req = request("never finishes");
        let (_, stages) = recording(async {
            tokio::select! {
                answer = model.generate(&req) => panic!("the prompt never ends: {answer:?}"),
                () = until(|| async { !received(&server, "GET", "/queue").await.is_empty() }) => {}
            }
        })
        .await;
        assert_eq!(stages, [ProviderStage::RUNNING]);
        // The call is dropped: the cancel runs on a task of its own.
        until(|| async { !received(&server, "POST", "/interrupt").await.is_empty() }).await;
        let interrupt = &received(&server, "POST", "/interrupt").await[0];
        let body: Value = serde_json::from_slice(&interrupt.body).expect("json");
        assert_eq!(body, json!({ "prompt_id": "p-1" }));
        let delete = &received(&server, "POST", "/queue").await[0];
        let body: Value = serde_json::from_slice(&delete.body).expect("json");
        assert_eq!(body, json!({ "delete": ["p-1"] }));
    }

    #[tokio::test]
    async fn a_dropped_queued_prompt_is_deleted_but_nothing_is_interrupted() {
        let server = MockServer::start().await;
        // Another call's prompt runs; ours waits behind it.
        mount(
            &server,
            vec![empty()],
            vec![queue(&[(6, "other")], &[(7, "p-1")])],
        )
        .await;
        let model = comfy(&server, workflow(false));
        let req = request("never starts");
        tokio::select! {
            answer = model.generate(&req) => panic!("the prompt never ends: {answer:?}"),
            () = until(|| async { !received(&server, "GET", "/queue").await.is_empty() }) => {}
        }
        // The cancel deletes, then looks at the queue before interrupting.
        let looked_after_delete = || async {
            let all = server.received_requests().await.expect("recorded");
            let delete = all
                .iter()
                .position(|r| r.method.as_str() == "POST" && r.url.path() == "/queue");
            delete.is_some_and(|d| {
                all[d..]
                    .iter()
                    .any(|r| r.method.as_str() == "GET" && r.url.path() == "/queue")
            })
        };
        until(looked_after_delete).await;
        assert!(received(&server, "POST", "/interrupt").await.is_empty());
    }

    /// Waits until `check` holds, looking a few thousand times before
    /// giving up (a bound against hanging, not a measure of speed).
    async fn until<F, Fut>(check: F)
    where
        F: Fn() -> Fut,
        Fut: Future<Output = bool>,
    {
        for _ in 0..4000 {
            if check().await {
                return;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        panic!("the awaited request never came");
    }

    #[tokio::test]
    async fn the_socket_reports_progress_and_the_end_of_this_prompt_only() {
        let server = MockServer::start().await;
        mount(
            &server,
            vec![history_done()],
            vec![queue(&[], &[(7, "p-1")])],
        )
        .await;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let asked = Arc::new(Mutex::new(String::new()));
        let seen = asked.clone();
        #[expect(
            clippy::result_large_err,
            reason = "the handshake callback's type is tungstenite's"
        )]
        let record = move |request: &Request, response: Response| {
            *seen.lock().expect("lock") = request.uri().to_string();
            Ok(response)
        };
        tokio::spawn(async move {
            let (stream, _) = listener.accept().await.expect("accept");
            let mut socket = tokio_tungstenite::accept_hdr_async(stream, record)
                .await
                .expect("handshake");
            // What ComfyUI sends its client, in order: the queue on
            // connect, another prompt's end (which must not end this
            // call), then this prompt's execution and end.
            for message in [
                json!({ "type": "status", "data": { "status": { "exec_info": { "queue_remaining": 1 } }, "sid": "x" } }),
                json!({ "type": "executing", "data": { "node": null, "prompt_id": "other" } }),
                json!({ "type": "execution_start", "data": { "prompt_id": "p-1", "timestamp": 1 } }),
                json!({ "type": "execution_cached", "data": { "nodes": [], "prompt_id": "p-1", "timestamp": 1 } }),
                json!({ "type": "executing", "data": { "node": "3", "display_node": "3", "prompt_id": "p-1" } }),
                json!({ "type": "progress", "data": { "value": 5, "max": 20, "prompt_id": "p-1", "node": "3" } }),
                json!({ "type": "executing", "data": { "node": null, "prompt_id": "p-1" } }),
            ] {
                socket
                    .send(Message::text(message.to_string()))
                    .await
                    .expect("send");
            }
            while let Some(Ok(_)) = socket.next().await {}
        });

        let mut s = settings(&server, workflow(false));
        s.websocket = true;
        // Polls too slow to matter: only the socket can end this call
        // (without it, the call times out and the test fails).
        let mut slow = policy();
        slow.poll_interval = Duration::from_secs(600);
        slow.timeout = Duration::from_secs(30);
        let mut model = ComfyUi::new(&s, slow, CpuSlots::new(1)).expect("valid");
        assert_eq!(model.socket_base, socket_base(&server.uri()));
        model.socket_base = Some(format!("ws://{addr}"));

        let (picture, stages) = recording(model.generate(&request("x"))).await;
        let picture = picture.expect("generates");
        assert_eq!((picture.image.width(), picture.image.height()), (1280, 720));
        // The sampler's step 5 of 20 is 25% done.
        assert_eq!(
            stages,
            [
                ProviderStage::Queued { position: Some(0) },
                ProviderStage::RUNNING,
                ProviderStage::Running { percent: Some(25) },
            ]
        );
        assert_eq!(received(&server, "GET", "/history/p-1").await.len(), 1);
        let client_id = sent_prompt(&server).await["client_id"]
            .as_str()
            .expect("client_id")
            .to_owned();
        assert_eq!(
            *asked.lock().expect("lock"),
            format!("/ws?clientId={client_id}")
        );
    }

    #[test]
    fn a_prompt_that_holds_a_placeholder_is_not_filled_again() {
        let fill = Fill {
            prompt: "say {{negative_prompt}} and {{seed}}",
            negative_prompt: "NEG",
            width: 1280,
            height: 720,
            seed: 42,
            image: None,
        };
        let mut value = json!({
            "text": "{{prompt}} at {{width}}x{{height}}, {{unknown}} {{image}} {{",
            "whole": "{{prompt}}",
            "seed": "{{seed}}",
            "list": ["{{negative_prompt}}", 3]
        });
        fill.apply(&mut value);
        assert_eq!(
            value,
            json!({
                "text": "say {{negative_prompt}} and {{seed}} at 1280x720, {{unknown}} {{image}} {{",
                "whole": "say {{negative_prompt}} and {{seed}}",
                "seed": 42,
                "list": ["NEG", 3]
            })
        );
    }

    #[test]
    fn settings_read_from_config_and_bad_workflows_are_refused() {
        let s: ComfyUiSettings = serde_json::from_value(json!({
            "base_url": "http://comfy:8188/",
            "workflow": workflow(false).to_string(),
        }))
        .expect("deserializes");
        let model = ComfyUi::new(&s, policy(), CpuSlots::new(1)).expect("a workflow as text");
        assert_eq!(model.socket_base.as_deref(), Some("ws://comfy:8188"));
        assert!(!model.needs_image);
        assert_eq!(socket_base("https://comfy.example"), None);

        let refuse = |workflow: Value| {
            let s = ComfyUiSettings {
                workflow,
                ..s.clone()
            };
            ComfyUi::new(&s, policy(), CpuSlots::new(1)).expect_err("refused")
        };
        refuse(json!([]));
        // The UI's own format has no class_type per node.
        refuse(json!({ "last_node_id": 9, "nodes": [] }));
        refuse(json!({ "6": { "class_type": "CLIPTextEncode", "inputs": { "text": "fixed" } } }));
        let mut bad_output = s.clone();
        bad_output.output_node = Some("99".to_owned());
        ComfyUi::new(&bad_output, policy(), CpuSlots::new(1)).expect_err("no node 99");
    }
}
