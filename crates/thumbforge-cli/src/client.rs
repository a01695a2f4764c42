//! The client commands (`generate`, `generations …`): thumbforge's public
//! HTTP API from the terminal, against any server.
//!
//! Exit codes: 0 done (a generation `succeeded`), 1 an error (the server's
//! problem shown as one line), 3 `failed`, 4 `partial`, 5 `canceled`, 130
//! interrupted while waiting (the generation keeps running).

use std::{
    io::IsTerminal,
    path::{Path, PathBuf},
    time::Duration,
};

use anyhow::Context;
use clap::{Args, Subcommand};
use indicatif::{MultiProgress, ProgressBar, ProgressStyle};
use serde::Deserialize;
use serde_json::{Value, json};

/// Where the server is and who is asking.
#[derive(Debug, Clone, Args)]
pub struct Connection {
    /// Base URL of a thumbforge server.
    #[arg(
        long,
        env = "THUMBFORGE_URL",
        default_value = "http://127.0.0.1:8080",
        global = true
    )]
    pub server: String,
    /// API key (`tfk_…`).
    #[arg(
        long,
        env = "THUMBFORGE_API_KEY",
        hide_env_values = true,
        global = true
    )]
    pub api_key: Option<String>,
}

#[derive(Debug, Args)]
pub struct GenerateArgs {
    /// What the thumbnail should show.
    #[arg(long)]
    pub prompt: String,
    /// The video's title (drawn by the local renderer).
    #[arg(long)]
    pub title: Option<String>,
    /// Model name (the server's default when left out).
    #[arg(long)]
    pub model: Option<String>,
    /// Thumbnails to make, 1–4.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u8).range(1..=4))]
    pub count: u8,
    /// 16:9, 4:3 or 1:1.
    #[arg(long)]
    pub aspect_ratio: Option<String>,
    /// png (the default), jpeg or webp; every file is within YouTube's 2 MB.
    #[arg(long)]
    pub format: Option<String>,
    /// A reference image: an https URL, or a local file (uploaded as an
    /// asset first). Repeatable; the first URL is the primary reference.
    #[arg(long = "reference", value_name = "URL|FILE")]
    pub references: Vec<String>,
    #[command(flatten)]
    pub wait: WaitArgs,
}

#[derive(Debug, Args)]
pub struct WaitArgs {
    /// Wait until the generation ends, showing progress, then download.
    #[arg(long)]
    pub wait: bool,
    /// Where to save the images (with --wait).
    #[arg(long, default_value = ".")]
    pub out: PathBuf,
    /// Seconds between polls while waiting.
    #[arg(long, default_value_t = 1.0)]
    pub interval: f64,
    /// Print JSON (the server's own) instead of text.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Subcommand)]
pub enum GenerationsCommand {
    /// The newest generations, as a table (or --json).
    List {
        /// At most this many (1–100).
        #[arg(long, default_value_t = 20)]
        limit: u32,
        /// processing, succeeded, failed, partial or canceled.
        #[arg(long)]
        status: Option<String>,
        /// Only this model.
        #[arg(long)]
        model: Option<String>,
        /// A `nextCursor` from an earlier page.
        #[arg(long)]
        cursor: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// One generation; with --wait, wait for it and download its images.
    Get {
        id: String,
        #[command(flatten)]
        wait: WaitArgs,
    },
    /// Cancel what has not finished yet.
    Cancel {
        id: String,
        #[arg(long)]
        json: bool,
    },
    /// Delete a generation and its images.
    Delete { id: String },
}

/// How a client command ended, as the process exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Done,
    Failed,
    Partial,
    Canceled,
    Interrupted,
}

impl Outcome {
    pub fn exit_code(self) -> u8 {
        match self {
            Outcome::Done => 0,
            Outcome::Failed => 3,
            Outcome::Partial => 4,
            Outcome::Canceled => 5,
            Outcome::Interrupted => 130,
        }
    }
}

/// A generation as `GET /api/v1/generations/{id}` answers it.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Generation {
    id: String,
    status: String,
    model: String,
    count: u32,
    created_at: i64,
    thumbnails: Vec<Thumbnail>,
}

#[derive(Debug, Clone, Deserialize)]
struct Thumbnail {
    id: String,
    status: String,
    url: Option<String>,
    error: Option<String>,
    #[serde(default)]
    progress: Option<Progress>,
    /// png, jpeg or webp (absent from servers before formats).
    #[serde(default)]
    format: Option<String>,
}

/// Where a processing thumbnail stands.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Progress {
    stage: String,
    queue_position: Option<u64>,
    #[serde(default)]
    provider: Option<ProviderProgress>,
}

/// What the model's provider says of the call.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ProviderProgress {
    stage: String,
    queue_position: Option<u64>,
}

impl Thumbnail {
    /// `queued (3rd in line)`, `rendering`, or the status.
    fn stage(&self) -> String {
        match &self.progress {
            Some(Progress {
                stage,
                queue_position: Some(n),
                ..
            }) if stage == "queued" => format!("queued, {} in line", ordinal(*n)),
            Some(Progress {
                provider: Some(provider),
                ..
            }) => match provider.queue_position {
                Some(n) if provider.stage == "queued" => {
                    format!("rendering (in the provider's queue, {n} ahead)")
                }
                _ if provider.stage == "queued" => "rendering (in the provider's queue)".to_owned(),
                _ => "rendering (the provider is making it)".to_owned(),
            },
            Some(p) => p.stage.clone(),
            None => self.status.clone(),
        }
    }
}

fn ordinal(n: u64) -> String {
    let suffix = match (n % 10, n % 100) {
        (_, 11..=13) => "th",
        (1, _) => "st",
        (2, _) => "nd",
        (3, _) => "rd",
        _ => "th",
    };
    format!("{n}{suffix}")
}

/// The server's RFC 9457 problem, shown as one line.
#[derive(Debug, Deserialize)]
struct Problem {
    status: Option<u16>,
    detail: Option<String>,
    title: Option<String>,
    code: Option<String>,
}

struct Api {
    http: reqwest::Client,
    base: String,
    key: String,
}

impl Api {
    fn new(connection: &Connection) -> anyhow::Result<Api> {
        let key = connection.api_key.clone().context(
            "no API key: pass --api-key or set THUMBFORGE_API_KEY (`thumbforge keys create` makes one)",
        )?;
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .timeout(Duration::from_secs(120))
            .user_agent(concat!("thumbforge-cli/", env!("CARGO_PKG_VERSION")))
            .build()?;
        Ok(Api {
            http,
            base: base_url(&connection.server),
            key,
        })
    }

    fn url(&self, path: &str) -> String {
        if path.starts_with("http://") || path.starts_with("https://") {
            path.to_owned()
        } else {
            format!("{}{path}", self.base)
        }
    }

    async fn send(&self, request: reqwest::RequestBuilder) -> anyhow::Result<reqwest::Response> {
        let response = request
            .bearer_auth(&self.key)
            .send()
            .await
            .map_err(|e| Transient {
                message: format!("could not reach {}: {}", self.base, root_cause(&e)),
                retry_after: None,
            })?;
        if response.status().is_success() {
            return Ok(response);
        }
        let status = response.status();
        let retry_after = response
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok()?.trim().parse().ok())
            .map(Duration::from_secs);
        let text = response.text().await.unwrap_or_default();
        let message = problem_line(status, &text);
        let busy = matches!(status.as_u16(), 429 | 502 | 503 | 504)
            || (status == reqwest::StatusCode::CONFLICT
                && text.contains("idempotency_key_in_progress"));
        if busy {
            return Err(Transient {
                message,
                retry_after,
            }
            .into());
        }
        Err(anyhow::anyhow!(message))
    }

    /// `json`, tried again while it fails for a passing reason (see
    /// [`Transient`]), saying so through `say`.
    async fn json_retrying(
        &self,
        request: impl Fn() -> reqwest::RequestBuilder,
        say: impl Fn(String),
    ) -> anyhow::Result<Value> {
        let mut attempt = 1;
        loop {
            let error = match self.json(request()).await {
                Ok(value) => return Ok(value),
                Err(e) => e,
            };
            match Transient::pause(&error, attempt) {
                Some(pause) => {
                    say(retry_line(&error, pause, attempt));
                    tokio::time::sleep(pause).await;
                    attempt += 1;
                }
                None => return Err(error),
            }
        }
    }

    async fn json(&self, request: reqwest::RequestBuilder) -> anyhow::Result<Value> {
        let response = self.send(request).await?;
        response
            .json()
            .await
            .map_err(|e| anyhow::anyhow!("the server sent something that is not JSON: {e}"))
    }

    async fn generation(&self, id: &str) -> anyhow::Result<(Generation, Value)> {
        let raw = self
            .json(
                self.http
                    .get(self.url(&format!("/api/v1/generations/{}", encode(id)))),
            )
            .await?;
        let parsed = serde_json::from_value(raw.clone())
            .context("the server's generation has an unexpected shape")?;
        Ok((parsed, raw))
    }
}

/// The server's base URL: `127.0.0.1:8080` means `http://127.0.0.1:8080`,
/// as curl reads it.
fn base_url(server: &str) -> String {
    let server = server.trim().trim_end_matches('/');
    if server.contains("://") {
        server.to_owned()
    } else {
        format!("http://{server}")
    }
}

/// Tries of one request that keeps failing for a passing reason.
const ATTEMPTS: u32 = 5;

/// A failure worth trying again: the server unreachable or busy (429, 502,
/// 503, 504, or an `Idempotency-Key` still being processed).
#[derive(Debug)]
struct Transient {
    message: String,
    retry_after: Option<Duration>,
}

impl std::fmt::Display for Transient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Transient {}

impl Transient {
    /// How long to wait before try `attempt + 1`: the server's
    /// `Retry-After`, else 1, 2, 4, 8 s; `None` if the error is not
    /// transient or the tries are used up.
    fn pause(error: &anyhow::Error, attempt: u32) -> Option<Duration> {
        let transient = error.downcast_ref::<Transient>()?;
        (attempt < ATTEMPTS).then(|| {
            transient
                .retry_after
                .unwrap_or(Duration::from_secs(1 << (attempt - 1)))
                .clamp(Duration::from_secs(1), Duration::from_secs(60))
        })
    }
}

fn retry_line(error: &anyhow::Error, pause: Duration, attempt: u32) -> String {
    format!(
        "{error}; trying again in {} s ({attempt}/{})",
        pause.as_secs(),
        ATTEMPTS - 1
    )
}

/// The deepest error's message: "connection refused", not a chain of
/// wrapper types.
fn root_cause(error: &(dyn std::error::Error + 'static)) -> String {
    let mut last = error;
    while let Some(next) = last.source() {
        last = next;
    }
    last.to_string()
}

/// One line for an error answer: the problem's detail and code when the
/// server sent a problem, else the status and a short body.
fn problem_line(status: reqwest::StatusCode, body: &str) -> String {
    match serde_json::from_str::<Problem>(body) {
        Ok(p) if p.detail.is_some() || p.title.is_some() => {
            let text = p.detail.or(p.title).unwrap_or_default();
            let code = p.code.map(|c| format!("{c}, ")).unwrap_or_default();
            format!(
                "{text} ({code}HTTP {})",
                p.status.unwrap_or(status.as_u16())
            )
        }
        _ => {
            let snippet: String = body.trim().chars().take(200).collect();
            if snippet.is_empty() {
                format!("the server answered {status}")
            } else {
                format!("the server answered {status}: {snippet}")
            }
        }
    }
}

/// A path segment, percent-encoded (ids are URL-safe; this guards typos).
fn encode(segment: &str) -> String {
    const SEGMENT: &percent_encoding::AsciiSet =
        &percent_encoding::NON_ALPHANUMERIC.remove(b'_').remove(b'-');
    percent_encoding::utf8_percent_encode(segment, SEGMENT).to_string()
}

pub async fn generate(connection: &Connection, args: GenerateArgs) -> anyhow::Result<Outcome> {
    let api = Api::new(connection)?;
    let mut body = json!({ "prompt": args.prompt, "count": args.count });
    if let Some(title) = &args.title {
        body["title"] = json!(title);
    }
    if let Some(model) = &args.model {
        body["model"] = json!(model);
    }
    if let Some(ratio) = &args.aspect_ratio {
        body["aspectRatio"] = json!(ratio);
    }
    if let Some(format) = &args.format {
        body["format"] = json!(format);
    }
    let (urls, files): (Vec<&String>, Vec<&String>) = args
        .references
        .iter()
        .partition(|r| r.starts_with("https://") || r.starts_with("http://"));
    if let Some((primary, rest)) = urls.split_first() {
        body["referenceImageUrl"] = json!(primary);
        if !rest.is_empty() {
            body["youtubeReferences"] = json!(rest);
        }
    }
    let mut asset_ids = Vec::new();
    for file in files {
        asset_ids.push(upload(&api, Path::new(file)).await?);
    }
    if !asset_ids.is_empty() {
        body["inspirationIds"] = json!(asset_ids);
    }
    // One key for every try, so a retry never makes a second generation.
    let idempotency_key = format!("cli-{}", nanoid::nanoid!());
    let accepted = api
        .json_retrying(
            || {
                api.http
                    .post(api.url("/api/v1/generate"))
                    .header("Idempotency-Key", &idempotency_key)
                    .json(&body)
            },
            |line| eprintln!("{line}"),
        )
        .await?;
    let id = accepted["generationId"]
        .as_str()
        .or_else(|| accepted["id"].as_str())
        .context("the server's answer has no generationId")?
        .to_owned();
    if !args.wait.wait {
        if args.wait.json {
            println!("{accepted}");
        } else {
            println!("{id}");
            eprintln!(
                "accepted; follow it with: thumbforge generations get {id} --wait --out {}",
                shell_path(&args.wait.out)
            );
        }
        return Ok(Outcome::Done);
    }
    if !args.wait.json {
        eprintln!("generation {id} accepted");
    }
    wait_and_download(&api, &id, &args.wait).await
}

async fn upload(api: &Api, path: &Path) -> anyhow::Result<String> {
    let bytes = tokio::fs::read(path)
        .await
        .with_context(|| format!("reading the reference {}", path.display()))?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "reference".to_owned());
    let form = reqwest::multipart::Form::new()
        .text("kind", "inspiration")
        .part(
            "file",
            reqwest::multipart::Part::bytes(bytes).file_name(name),
        );
    let asset = api
        .json(api.http.post(api.url("/api/v1/assets")).multipart(form))
        .await
        .with_context(|| format!("uploading {}", path.display()))?;
    asset["id"]
        .as_str()
        .map(str::to_owned)
        .context("the server's asset has no id")
}

pub async fn generations(
    connection: &Connection,
    command: GenerationsCommand,
) -> anyhow::Result<Outcome> {
    let api = Api::new(connection)?;
    match command {
        GenerationsCommand::List {
            limit,
            status,
            model,
            cursor,
            json,
        } => {
            let mut query = vec![("limit", limit.to_string())];
            query.extend(status.map(|s| ("status", s)));
            query.extend(model.map(|m| ("model", m)));
            query.extend(cursor.map(|c| ("cursor", c)));
            let page = api
                .json(api.http.get(api.url("/api/v1/generations")).query(&query))
                .await?;
            if json {
                println!("{page}");
            } else {
                let items: Vec<Generation> =
                    serde_json::from_value(page["data"].clone()).unwrap_or_default();
                println!("{}", table(&items));
                if let Some(next) = page["nextCursor"].as_str() {
                    eprintln!("more: thumbforge generations list --cursor {next}");
                }
            }
            Ok(Outcome::Done)
        }
        GenerationsCommand::Get { id, wait } => {
            if wait.wait {
                return wait_and_download(&api, &id, &wait).await;
            }
            let (generation, raw) = api.generation(&id).await?;
            if wait.json {
                println!("{raw}");
            } else {
                describe(&generation);
            }
            Ok(Outcome::Done)
        }
        GenerationsCommand::Cancel { id, json } => {
            let raw = api
                .json(
                    api.http
                        .post(api.url(&format!("/api/v1/generations/{}/cancel", encode(&id)))),
                )
                .await?;
            if json {
                println!("{raw}");
            } else {
                let generation: Generation = serde_json::from_value(raw)
                    .context("the server's generation has an unexpected shape")?;
                describe(&generation);
            }
            Ok(Outcome::Done)
        }
        GenerationsCommand::Delete { id } => {
            api.send(
                api.http
                    .delete(api.url(&format!("/api/v1/generations/{}", encode(&id)))),
            )
            .await?;
            eprintln!("deleted {id}");
            Ok(Outcome::Done)
        }
    }
}

fn table(items: &[Generation]) -> comfy_table::Table {
    let mut table = comfy_table::Table::new();
    table
        .load_style(comfy_table::presets::UTF8_BORDERS_ONLY)
        .set_header(["id", "status", "model", "done", "created (UTC)"]);
    for g in items {
        let done = g
            .thumbnails
            .iter()
            .filter(|t| t.status != "processing")
            .count();
        table.add_row([
            g.id.clone(),
            g.status.clone(),
            g.model.clone(),
            format!("{done}/{}", g.count),
            format_ms(g.created_at),
        ]);
    }
    table
}

fn describe(g: &Generation) {
    println!(
        "{}  {}  {}  {}",
        g.id,
        g.status,
        g.model,
        format_ms(g.created_at)
    );
    for t in &g.thumbnails {
        let detail = match (&t.error, &t.url) {
            (Some(e), _) => e.clone(),
            (None, Some(url)) => url.clone(),
            (None, None) if t.progress.is_some() => t.stage(),
            (None, None) => String::new(),
        };
        println!("  {}  {:<10}  {detail}", t.id, t.status);
    }
}

/// Unix milliseconds as `YYYY-MM-DD HH:MM:SS` (UTC).
pub(crate) fn format_ms(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| t.format("%Y-%m-%d %H:%M:%S").to_string())
        .unwrap_or_else(|| ms.to_string())
}

fn shell_path(path: &Path) -> String {
    let text = path.display().to_string();
    if text
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"/._-".contains(&b))
    {
        text
    } else {
        format!("'{}'", text.replace('\'', r"'\''"))
    }
}

/// Polls until the generation ends (one bar per thumbnail), downloads what
/// succeeded into `args.out`, prints the paths (or the JSON), and says why
/// anything failed. Ctrl-C stops waiting, not the generation.
async fn wait_and_download(api: &Api, id: &str, args: &WaitArgs) -> anyhow::Result<Outcome> {
    let interval = Duration::from_secs_f64(args.interval.clamp(0.2, 60.0));
    // Bars on a terminal; plain lines when stderr goes to a file or a pipe
    // (indicatif would draw nothing there); nothing but the JSON with --json.
    let plain = !args.json && !std::io::stderr().is_terminal();
    let bars = MultiProgress::new();
    if args.json || plain {
        bars.set_draw_target(indicatif::ProgressDrawTarget::hidden());
    }
    let say = |line: String| {
        if plain {
            eprintln!("{line}");
        } else if !args.json {
            bars.suspend(|| eprintln!("{line}"));
        }
    };
    let style = ProgressStyle::with_template("{spinner} {prefix}  {wide_msg} {elapsed:>4}")
        .expect("static template")
        .tick_chars("⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏✓");
    let mut slots: Vec<(ProgressBar, String)> = Vec::new();
    let resume = format!(
        "thumbforge generations get {id} --wait --out {}",
        shell_path(&args.out)
    );
    let stop_bars = |slots: &[(ProgressBar, String)]| {
        // Not finished: no tick.
        let stopped =
            ProgressStyle::with_template("· {prefix}  {wide_msg}").expect("static template");
        for (bar, _) in slots {
            if !bar.is_finished() {
                bar.set_style(stopped.clone());
                bar.abandon_with_message("not waiting any more");
            }
        }
    };
    // Listening from the start (a spawned task registers the handler at
    // once), so even an early Ctrl-C stops only the waiting.
    let mut interrupted = tokio::spawn(tokio::signal::ctrl_c());
    let mut attempt = 1;
    let (generation, raw) = loop {
        let pause = match api.generation(id).await {
            Ok((generation, raw)) => {
                attempt = 1;
                for (i, t) in generation.thumbnails.iter().enumerate() {
                    if slots.len() <= i {
                        let bar = bars.add(ProgressBar::new_spinner());
                        bar.set_style(style.clone());
                        bar.set_prefix(format!("{}/{} {}", i + 1, generation.count, t.id));
                        bar.enable_steady_tick(Duration::from_millis(120));
                        slots.push((bar, String::new()));
                    }
                    let (bar, last) = &mut slots[i];
                    if bar.is_finished() {
                        continue;
                    }
                    let message = match t.status.as_str() {
                        "processing" => t.stage(),
                        "succeeded" => "succeeded".to_owned(),
                        other => match &t.error {
                            Some(e) => format!("{other}: {e}"),
                            None => other.to_owned(),
                        },
                    };
                    if plain && *last != message {
                        eprintln!("{}  {message}", bar.prefix());
                    }
                    if t.status == "processing" {
                        bar.set_message(message.clone());
                    } else {
                        bar.finish_with_message(message.clone());
                    }
                    *last = message;
                }
                if generation.status != "processing" {
                    break (generation, raw);
                }
                interval
            }
            Err(error) => match Transient::pause(&error, attempt) {
                Some(pause) => {
                    say(retry_line(&error, pause, attempt));
                    attempt += 1;
                    pause
                }
                None => {
                    stop_bars(&slots);
                    return Err(error.context(format!(
                        "stopped waiting; generation {id} keeps running on the server \
                         (resume with: {resume})"
                    )));
                }
            },
        };
        tokio::select! {
            () = tokio::time::sleep(pause) => {}
            _ = &mut interrupted => {
                stop_bars(&slots);
                eprintln!(
                    "\nstopped waiting; generation {id} keeps running on the server.\n\
                     Resume with: {resume}"
                );
                return Ok(Outcome::Interrupted);
            }
        }
    };
    interrupted.abort();
    drop(slots);
    let mut files = Vec::new();
    let succeeded: Vec<&Thumbnail> = generation
        .thumbnails
        .iter()
        .filter(|t| t.status == "succeeded")
        .collect();
    if !succeeded.is_empty() {
        tokio::fs::create_dir_all(&args.out)
            .await
            .with_context(|| format!("creating {}", args.out.display()))?;
    }
    for t in succeeded {
        let url = t
            .url
            .as_deref()
            .with_context(|| format!("thumbnail {} succeeded without a url", t.id))?;
        let bytes = api
            .http
            .get(api.url(url))
            .send()
            .await
            .and_then(reqwest::Response::error_for_status)
            .map_err(|e| anyhow::anyhow!("downloading {}: {}", t.id, root_cause(&e)))?
            .bytes()
            .await
            .map_err(|e| anyhow::anyhow!("downloading {}: {}", t.id, root_cause(&e)))?;
        let extension = match t.format.as_deref() {
            Some("jpeg") => "jpg",
            Some("webp") => "webp",
            _ => "png",
        };
        let path = args.out.join(format!("{}.{extension}", t.id));
        tokio::fs::write(&path, &bytes)
            .await
            .with_context(|| format!("writing {}", path.display()))?;
        files.push(path);
    }
    if args.json {
        let mut raw = raw;
        raw["files"] = json!(files);
        println!("{raw}");
    } else {
        for path in &files {
            println!("{}", path.display());
        }
    }
    let outcome = match generation.status.as_str() {
        "succeeded" => Outcome::Done,
        "partial" => Outcome::Partial,
        "canceled" => Outcome::Canceled,
        _ => Outcome::Failed,
    };
    if outcome != Outcome::Done {
        let reasons: Vec<String> = generation
            .thumbnails
            .iter()
            .filter(|t| t.status != "succeeded")
            .map(|t| {
                format!(
                    "{} {}: {}",
                    t.id,
                    t.status,
                    t.error.as_deref().unwrap_or("-")
                )
            })
            .collect();
        eprintln!(
            "generation {id} ended {}: {}",
            generation.status,
            reasons.join("; ")
        );
    }
    Ok(outcome)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn problems_become_one_line() {
        let body = r#"{"type":"about:blank","title":"Unprocessable Entity","status":422,"detail":"count must be an integer from 1 to 4 (got 9)","code":"invalid_count"}"#;
        assert_eq!(
            problem_line(reqwest::StatusCode::UNPROCESSABLE_ENTITY, body),
            "count must be an integer from 1 to 4 (got 9) (invalid_count, HTTP 422)"
        );
        assert_eq!(
            problem_line(reqwest::StatusCode::BAD_GATEWAY, "<html>oops</html>"),
            "the server answered 502 Bad Gateway: <html>oops</html>"
        );
        assert_eq!(
            problem_line(reqwest::StatusCode::BAD_GATEWAY, ""),
            "the server answered 502 Bad Gateway"
        );
    }

    #[test]
    fn times_are_utc_calendar_dates() {
        assert_eq!(format_ms(0), "1970-01-01 00:00:00");
        assert_eq!(format_ms(1_709_251_199_000), "2024-02-29 23:59:59");
        assert_eq!(format_ms(1_795_996_800_000), "2026-11-30 00:00:00");
    }

    #[test]
    fn ids_are_escaped_in_paths() {
        assert_eq!(encode("gen_a-1"), "gen_a-1");
        assert_eq!(encode("a/../b"), "a%2F%2E%2E%2Fb");
    }
}
