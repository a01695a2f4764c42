#![doc = include_str!("../README.md")]

mod backends;

use std::{
    collections::BTreeMap,
    path::{Path, PathBuf},
};

use secrecy::SecretString;
use serde::Deserialize;

pub use backends::{
    BackendSettings, ComfyUiSettings, OpenAiCompatibleSettings, SdApiAuth, SdApiSettings,
};

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("configuration: {0}")]
    Load(#[from] config::ConfigError),
    #[error("configuration: {0}")]
    Invalid(String),
}

/// What a binary's `--help` says of its configuration.
pub const CONFIG_HELP: &str = "Configured by THUMBFORGE_* environment variables (`__` between nested keys), \
DATABASE_URL, REDIS_URL and the file THUMBFORGE_CONFIG names (default ./thumbforge.toml); \
deploy/thumbforge.sample.toml lists every key.";

/// The settings that are lists. From the environment each is one variable
/// of comma-separated items (`THUMBFORGE_REFERENCES__ALLOW_CIDRS=10.0.0.0/8,fd00::/8`).
pub const LIST_KEYS: &[&str] = &["references.allow_cidrs"];

/// The shortest server secret accepted: 32 characters, as `openssl rand
/// -hex 16` prints, so a guessable one cannot sign image URLs.
pub const MIN_SECRET_CHARS: usize = 32;

/// Words of the placeholders that deploy files and docs show, which must
/// never reach production as they are.
const PLACEHOLDER_WORDS: &[&str] = &[
    "change-me",
    "changeme",
    "change_me",
    "replace-me",
    "replace_me",
    "placeholder",
    "your-secret",
    "your_secret",
    "example",
];

#[derive(Debug, Clone, Deserialize)]
pub struct Settings {
    /// Address the HTTP API listens on.
    pub bind: String,
    /// Embedded mode's home: SQLite files, images and the generated secret.
    pub data_dir: PathBuf,
    /// Base URL clients reach the API at, used for image URLs. Defaults to
    /// the scheme and host of each request.
    pub public_url: Option<String>,
    /// Signs image URLs. Generated and kept in `data_dir/secret` when unset.
    pub secret: Option<SecretString>,
    /// The secret before a rotation (THUMBFORGE_PREVIOUS_SECRET): image URLs
    /// it signed still verify, and values it sealed still open, until
    /// `thumbforge reseal` has re-sealed them (docs/operations.md).
    pub previous_secret: Option<SecretString>,
    pub database: DatabaseSettings,
    pub queue: QueueSettings,
    pub worker: WorkerSettings,
    pub api: ApiSettings,
    pub models: ModelSettings,
    pub providers: ProviderSettings,
    /// Self-hosted model backends, by name (`[backends.gpu-box]`).
    #[serde(default)]
    pub backends: BTreeMap<String, BackendSettings>,
    pub references: ReferenceSettings,
    pub limits: LimitSettings,
    pub youtube: YoutubeSettings,
    pub webhooks: WebhookSettings,
    pub storage: StorageSettings,
    /// Defaulted here as well as in the built-in defaults, so a file read
    /// on its own (the sample config, in a test) need not list it.
    #[serde(default)]
    pub retention: RetentionSettings,
    pub log: LogSettings,
}

#[derive(Debug, Clone, Deserialize)]
pub struct DatabaseSettings {
    /// `sqlite://…` or `postgres://…`; defaults to `data_dir/thumbforge.db`.
    pub url: Option<String>,
    pub max_connections: u32,
    /// Longest a request waits for a pooled connection before answering
    /// 503 `database_unavailable`.
    pub acquire_timeout_ms: u64,
}

#[derive(Debug, Clone, Deserialize)]
pub struct QueueSettings {
    /// `redis://…`: the queue is Redis Streams. Unset: the embedded SQLite
    /// queue. `REDIS_URL` sets it too.
    pub redis_url: Option<String>,
    /// Names this deployment's Redis keys (`{prefix}:render`, …).
    pub prefix: String,
    /// Redis: a held job untouched for this long belongs to a dead worker and
    /// is taken over by another.
    pub claim_idle_secs: u64,
    /// Redis: jobs moved ahead into a lane's stream, past what the workers
    /// are reading, so an idle worker wakes at once. Those few are taken in
    /// arrival order, so fair dispatch starts behind them.
    pub lookahead: usize,
    /// Redis: most jobs one read takes (capped at the lane's slots).
    pub batch: usize,
    /// SQLite file of the embedded queue; defaults to `data_dir/queue.db`.
    pub sqlite_path: Option<PathBuf>,
    /// How often a worker proves it is alive. SQLite: a worker silent for
    /// `heartbeat_secs * missed_heartbeats` has its jobs handed to others.
    pub heartbeat_secs: u64,
    pub missed_heartbeats: usize,
    /// SQLite: fallback poll interval for jobs pushed by another process.
    pub poll_interval_ms: u64,
    /// Attempts per job for infrastructure errors (database, storage).
    pub max_attempts: usize,
}

#[derive(Debug, Clone, Deserialize)]
pub struct WorkerSettings {
    /// CPU slots: thumbnails the `local` model draws at once, and fit and
    /// encode steps at once, in one worker process. Unset: one per core.
    /// 0: the process runs no worker at all.
    pub concurrency: Option<usize>,
    /// Thumbnails one worker process has waiting on a remote model at
    /// once. Waiting costs memory, not CPU (docs/operations.md).
    pub max_in_flight: usize,
    /// Longest a single model call may take.
    pub job_timeout_secs: u64,
    /// A thumbnail still processing this long after it was accepted ends as
    /// failed with "timed out".
    pub deadline_secs: u64,
    /// How often the sweeper repairs lost, expired and overdue work.
    pub sweep_interval_secs: u64,
    /// A thumbnail accepted this long ago whose job never reached the queue
    /// is enqueued again.
    pub enqueue_grace_secs: u64,
    /// `thumbforge-worker` on PostgreSQL: status writes commit without
    /// waiting for the WAL flush (`synchronous_commit = off`). A database
    /// crash may undo the last moments of them; the sweeper redoes that
    /// work (lost-job check, lease expiry). The API always commits durably.
    pub async_commit: bool,
    /// SIGTERM: how long running jobs may finish before they are handed back.
    pub shutdown_grace_secs: u64,
    /// A queued thumbnail whose job has not started this long after it was
    /// enqueued is checked against the queue and re-enqueued if missing.
    pub lost_check_secs: u64,
    /// Port of the worker binary's health endpoints (0 = none).
    pub health_port: u16,
}

#[derive(Debug, Clone, Deserialize)]
pub struct ApiSettings {
    /// Largest request body accepted, in bytes.
    pub max_body_bytes: usize,
    /// Lifetime of signed image URLs.
    pub url_ttl_secs: u64,
    /// How long Flokan's synchronous `POST /generate` waits for the
    /// generation to end before answering its current record.
    pub sync_wait_secs: u64,
    /// HTTP worker threads (0 = one per core).
    pub http_workers: usize,
    /// How long an authenticated key is remembered in memory: key and plan
    /// changes take effect within this many seconds (0 = no cache).
    pub auth_cache_secs: u64,
    /// Where `/metrics` is served instead of the public address (for
    /// example `0.0.0.0:9090`); unset, it stays on the public address.
    #[serde(default)]
    pub metrics_bind: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct ModelSettings {
    /// The model used when a request names none.
    pub default: String,
    /// Accept the scripted `test` model (tests and drills only).
    pub enable_test_model: bool,
    /// Models the operator adds to the built-in catalogue, or built-in
    /// ones replaced, by public name (`[models.catalogue.my-sdxl]`).
    #[serde(default)]
    pub catalogue: BTreeMap<String, CatalogueEntrySettings>,
}

/// One public model in the operator's catalogue.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CatalogueEntrySettings {
    /// What serves it, in the order the platform tries: `PROVIDER:MODEL`
    /// (`openai`, `google`, `fal`, `kie` and the provider's model name) or
    /// `backend:NAME` (a `[backends.NAME]`).
    pub routes: Vec<String>,
    /// Credits per thumbnail on the server's keys.
    #[serde(default = "one")]
    pub credits: u32,
    /// The lowest plan that may use it (`free`, `pro`, `unlimited`).
    #[serde(default = "free_plan")]
    pub plan: String,
}

fn one() -> u32 {
    1
}

fn free_plan() -> String {
    "free".to_owned()
}

/// Upstream image APIs. Keys come from `OPENAI_API_KEY`, `GEMINI_API_KEY`,
/// `FAL_KEY` and `KIE_API_KEY` (or these keys); base URLs are overridable so
/// tests point them at local mocks.
#[derive(Debug, Clone, Deserialize)]
pub struct ProviderSettings {
    /// Longest one provider call may take (gpt-image-2 at high quality is
    /// reported at about 2 minutes).
    pub timeout_secs: u64,
    /// Calls per thumbnail for retryable failures (429, 5xx, connection).
    pub max_attempts: u32,
    /// Exponential backoff with full jitter: base and ceiling.
    pub backoff_base_ms: u64,
    pub backoff_max_ms: u64,
    /// How often fal and kie task status is polled.
    pub poll_interval_ms: u64,
    /// Largest image a provider may return, in bytes.
    pub max_image_bytes: usize,
    pub openai_base_url: String,
    pub openai_api_key: Option<SecretString>,
    /// `low`, `medium`, `high` or `auto`.
    pub openai_quality: String,
    /// `auto` or `low`.
    pub openai_moderation: String,
    pub gemini_base_url: String,
    pub gemini_api_key: Option<SecretString>,
    pub fal_queue_url: String,
    pub fal_key: Option<SecretString>,
    pub kie_base_url: String,
    pub kie_api_key: Option<SecretString>,
    /// What the platform's key of each provider may do, shared by every
    /// worker (through Redis in production).
    pub limits: ProviderLimitTable,
    /// The same, for each organisation's own key.
    pub byok_limits: ProviderLimitTable,
}

/// One limit per provider.
#[derive(Debug, Clone, Deserialize)]
pub struct ProviderLimitTable {
    pub openai: ProviderLimit,
    pub google: ProviderLimit,
    pub fal: ProviderLimit,
    pub kie: ProviderLimit,
}

impl ProviderLimitTable {
    /// No caps at all (tests against local mocks).
    pub fn unlimited() -> ProviderLimitTable {
        let none = ProviderLimit {
            rpm: 0,
            max_concurrent: 0,
        };
        ProviderLimitTable {
            openai: none,
            google: none,
            fal: none,
            kie: none,
        }
    }
}

/// A provider key's caps; 0 is no cap of that kind.
#[derive(Debug, Clone, Copy, Deserialize)]
pub struct ProviderLimit {
    /// Calls started per minute (evenly spaced).
    pub rpm: u32,
    /// Calls open at once (for fal and kie, a task from submission until
    /// its result is read).
    pub max_concurrent: u32,
}

/// Server-side fetches of user-given reference URLs (SSRF-safe).
#[derive(Debug, Clone, Deserialize)]
pub struct ReferenceSettings {
    /// Allow `http://` as well as `https://` (tests).
    pub allow_http: bool,
    /// Addresses exempt from the private-address refusal, as CIDRs (an
    /// internal image host; tests use a loopback address).
    #[serde(deserialize_with = "list_items")]
    pub allow_cidrs: Vec<String>,
    pub max_bytes: usize,
    pub timeout_secs: u64,
    pub max_redirects: usize,
    /// Largest width or height a reference may decode to.
    pub max_dimension: u32,
    /// Most memory one decode may allocate (stops decompression bombs).
    pub max_decode_bytes: u64,
    /// Largest asset upload, in bytes.
    pub max_upload_bytes: usize,
}

/// Where images live: local files under `data_dir/images` (the default),
/// or an S3-compatible bucket.
#[derive(Debug, Clone, Deserialize)]
pub struct StorageSettings {
    /// `s3://BUCKET` or `s3://BUCKET/PREFIX`; empty for local files.
    /// Credentials come from the usual `AWS_*` environment, web identity,
    /// ECS or instance metadata.
    pub url: String,
    /// A custom S3 endpoint (MinIO, Ceph, R2), e.g. `http://minio:9000`.
    pub endpoint: Option<String>,
    /// The bucket's region (else `AWS_REGION`, else `us-east-1`).
    pub region: Option<String>,
    /// Static credentials (MinIO and the like); unset, the usual chain.
    pub access_key_id: Option<String>,
    pub secret_access_key: Option<SecretString>,
    /// Allow an `http://` endpoint.
    pub allow_http: bool,
    /// `BUCKET.host` rather than `host/BUCKET` (some providers need it).
    pub virtual_hosted_style: bool,
    /// How a generation's image URLs reach the bytes: `api` (the API's
    /// signed `/files` route serves them) or `presigned` (presigned URLs
    /// of the bucket, valid for `api.url_ttl_secs`; S3 only).
    pub urls: FileUrls,
    /// Longest an object-store request may take, in seconds.
    pub timeout_secs: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FileUrls {
    Api,
    Presigned,
}

impl StorageSettings {
    pub fn is_s3(&self) -> bool {
        !self.url.trim().is_empty()
    }
}

/// Webhook deliveries (sent by workers).
#[derive(Debug, Clone, Deserialize)]
pub struct WebhookSettings {
    /// How often each worker queues new events and sends due deliveries.
    pub interval_ms: u64,
    /// Attempts per delivery before it is given up.
    pub max_attempts: u32,
    /// The first retry's wait; each next one doubles, up to the max.
    pub backoff_base_ms: u64,
    pub backoff_max_ms: u64,
    /// Longest one POST may take.
    pub timeout_secs: u64,
}

/// Deleting generations that ended long ago, with their images: a pass of
/// every worker's sweeper (docs/operations.md, "Retention").
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct RetentionSettings {
    /// Generations that ended (succeeded, failed, partial or canceled)
    /// more than this many days ago are deleted, images first, then rows.
    /// 0 keeps everything forever.
    pub generations_days: u32,
    /// Most generations one pass deletes; a pass runs every
    /// `worker.sweep_interval_secs` in each worker process.
    pub batch: u64,
}

impl Default for RetentionSettings {
    fn default() -> Self {
        RetentionSettings {
            generations_days: 0,
            batch: 500,
        }
    }
}

/// The YouTube Data API v3, behind Flokan's `POST /youtube-search`.
#[derive(Debug, Clone, Deserialize)]
pub struct YoutubeSettings {
    /// `YOUTUBE_API_KEY`. Without it the search answers 503.
    pub api_key: Option<SecretString>,
    pub base_url: String,
    /// Results per page (YouTube allows 0–50).
    pub max_results: u32,
    pub timeout_secs: u64,
}

/// Rate limits per API key, by plan (FatThumb's defaults). 0 turns a
/// limit off.
#[derive(Debug, Clone, Deserialize)]
pub struct LimitSettings {
    pub free: PlanLimits,
    pub pro: PlanLimits,
    pub unlimited: PlanLimits,
    /// Where replicas share their counts: this Redis, else `queue.redis_url`;
    /// with neither, each process counts alone.
    pub redis_url: Option<String>,
    /// Names the counters' Redis keys; defaults to `queue.prefix`.
    pub prefix: Option<String>,
}

impl LimitSettings {
    /// The limits of `plan`.
    pub fn of(&self, plan: thumbforge_core::Plan) -> &PlanLimits {
        match plan {
            thumbforge_core::Plan::Free => &self.free,
            thumbforge_core::Plan::Pro => &self.pro,
            thumbforge_core::Plan::Unlimited => &self.unlimited,
        }
    }
}

#[derive(Debug, Clone, Copy, Deserialize)]
pub struct PlanLimits {
    /// All authenticated requests, per hour.
    pub requests_per_hour: u64,
    /// Generate calls, per minute.
    pub generates_per_minute: u64,
    /// Bytes of stored images (thumbnails and assets) an organisation may
    /// keep; past it, generate and upload answer 402. 0: no quota.
    pub storage_quota_bytes: u64,
    /// The plan may use its own provider keys (Flokan: "the workspace's
    /// plan includes BYOK").
    pub byok: bool,
    /// Share of the workers while organisations compete (fair dispatch):
    /// weight 4 starts four thumbnails for each one of weight 1.
    pub queue_weight: u32,
    /// Thumbnails of one organisation in flight at once, over every
    /// worker; the rest wait their turn. 0: no cap.
    pub thumbnails_in_flight: u32,
    /// Thumbnails of one organisation waiting in the queue; past it,
    /// generate answers 429 `queue_full` with `Retry-After`. 0: no limit.
    pub max_queued: u64,
}

#[derive(Debug, Clone, Deserialize)]
pub struct LogSettings {
    /// `RUST_LOG`-style filter; `RUST_LOG` itself wins when set.
    pub filter: String,
    /// One JSON object per line instead of human-readable text.
    pub json: bool,
}

impl WorkerSettings {
    /// Whether this process runs a worker (`concurrency` is not 0).
    pub fn enabled(&self) -> bool {
        self.concurrency != Some(0)
    }

    /// The CPU slots: `concurrency`, or one per core when unset.
    pub fn cpu_slots(&self) -> usize {
        self.concurrency.unwrap_or_else(|| {
            std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get)
        })
    }
}

/// Overrides from the command line, applied last.
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    pub bind: Option<String>,
    pub data_dir: Option<PathBuf>,
    pub concurrency: Option<usize>,
}

const DEFAULTS: &str = r#"
bind = "127.0.0.1:8080"
data_dir = "./data"

[database]
max_connections = 16
acquire_timeout_ms = 3000

[queue]
prefix = "thumbforge"
claim_idle_secs = 15
lookahead = 4
batch = 16
heartbeat_secs = 5
missed_heartbeats = 3
poll_interval_ms = 200
max_attempts = 10

[worker]
max_in_flight = 1000
job_timeout_secs = 1000
deadline_secs = 1800
sweep_interval_secs = 5
enqueue_grace_secs = 10
shutdown_grace_secs = 30
lost_check_secs = 30
async_commit = true
health_port = 0

[api]
max_body_bytes = 65536
url_ttl_secs = 3600
sync_wait_secs = 120
http_workers = 0
auth_cache_secs = 30

[models]
default = "local"
enable_test_model = false

[providers]
timeout_secs = 300
max_attempts = 3
backoff_base_ms = 1000
backoff_max_ms = 30000
poll_interval_ms = 1000
max_image_bytes = 52428800
openai_base_url = "https://api.openai.com"
openai_quality = "high"
openai_moderation = "auto"
gemini_base_url = "https://generativelanguage.googleapis.com"
fal_queue_url = "https://queue.fal.run"
kie_base_url = "https://api.kie.ai"

[providers.limits.openai]
rpm = 20
max_concurrent = 0

[providers.limits.google]
rpm = 100
max_concurrent = 0

[providers.limits.fal]
rpm = 0
max_concurrent = 2

[providers.limits.kie]
rpm = 120
max_concurrent = 0

[providers.byok_limits.openai]
rpm = 20
max_concurrent = 0

[providers.byok_limits.google]
rpm = 100
max_concurrent = 0

[providers.byok_limits.fal]
rpm = 0
max_concurrent = 2

[providers.byok_limits.kie]
rpm = 120
max_concurrent = 0

[references]
allow_http = false
allow_cidrs = []
max_bytes = 10485760
timeout_secs = 15
max_redirects = 3
max_dimension = 8192
max_decode_bytes = 268435456
max_upload_bytes = 10485760

[storage]
url = ""
allow_http = false
virtual_hosted_style = false
urls = "api"
timeout_secs = 30

[webhooks]
interval_ms = 1000
max_attempts = 8
backoff_base_ms = 5000
backoff_max_ms = 3600000
timeout_secs = 10

[retention]
generations_days = 0
batch = 500

[youtube]
base_url = "https://www.googleapis.com"
max_results = 10
timeout_secs = 10

[limits.free]
requests_per_hour = 1000
generates_per_minute = 10
storage_quota_bytes = 1073741824
byok = false
queue_weight = 1
thumbnails_in_flight = 20
max_queued = 1000

[limits.pro]
requests_per_hour = 1000
generates_per_minute = 10
storage_quota_bytes = 0
byok = true
queue_weight = 4
thumbnails_in_flight = 2000
max_queued = 20000

[limits.unlimited]
requests_per_hour = 0
generates_per_minute = 0
storage_quota_bytes = 0
byok = true
queue_weight = 4
thumbnails_in_flight = 0
max_queued = 0

[log]
filter = "info"
json = false
"#;

/// A list's items trimmed, empty ones dropped: `a, b,` from the
/// environment is `["a", "b"]`, and an empty variable an empty list.
fn list_items<'de, D: serde::Deserializer<'de>>(de: D) -> Result<Vec<String>, D::Error> {
    let items = Vec::<String>::deserialize(de)?;
    Ok(items
        .into_iter()
        .map(|item| item.trim().to_owned())
        .filter(|item| !item.is_empty())
        .collect())
}

/// `THUMBFORGE_*` variables, `__` between nested keys, with the keys in
/// [`LIST_KEYS`] split at commas. `vars` stands in for the process's
/// environment in tests.
fn environment(vars: Option<config::Map<String, String>>) -> config::Environment {
    LIST_KEYS.iter().fold(
        config::Environment::with_prefix("THUMBFORGE")
            .prefix_separator("_")
            .separator("__")
            .try_parsing(true)
            .list_separator(",")
            .source(vars),
        |env, key| env.with_list_parse_key(key),
    )
}

impl Settings {
    /// Loads defaults, the config file, the environment and `overrides`.
    pub fn load(overrides: &Overrides) -> Result<Settings, ConfigError> {
        let file = std::env::var_os("THUMBFORGE_CONFIG").map(PathBuf::from);
        let mut builder = config::Config::builder()
            .add_source(config::File::from_str(DEFAULTS, config::FileFormat::Toml));
        match file {
            Some(path) => builder = builder.add_source(config::File::from(path).required(true)),
            None => {
                builder =
                    builder.add_source(config::File::with_name("thumbforge.toml").required(false))
            }
        }
        builder = builder.add_source(environment(None));
        if let Ok(url) = std::env::var("DATABASE_URL") {
            builder = builder.set_override("database.url", url)?;
        }
        if let Ok(url) = std::env::var("REDIS_URL") {
            builder = builder.set_override("queue.redis_url", url)?;
        }
        for (var, key) in [
            ("OPENAI_API_KEY", "providers.openai_api_key"),
            ("GEMINI_API_KEY", "providers.gemini_api_key"),
            ("FAL_KEY", "providers.fal_key"),
            ("KIE_API_KEY", "providers.kie_api_key"),
            ("YOUTUBE_API_KEY", "youtube.api_key"),
        ] {
            if let Ok(value) = std::env::var(var)
                && !value.is_empty()
            {
                builder = builder.set_override(key, value)?;
            }
        }
        if let Some(bind) = &overrides.bind {
            builder = builder.set_override("bind", bind.as_str())?;
        }
        if let Some(dir) = &overrides.data_dir {
            builder = builder.set_override("data_dir", dir.to_string_lossy().as_ref())?;
        }
        if let Some(n) = overrides.concurrency {
            builder = builder.set_override("worker.concurrency", n as u64)?;
        }
        let settings: Settings = builder.build()?.try_deserialize()?;
        settings.check_secrets()?;
        Ok(settings)
    }

    /// Refuses a configured secret that is a known placeholder or too short
    /// to be safe. A secret left unset is generated, and is always safe.
    fn check_secrets(&self) -> Result<(), ConfigError> {
        use secrecy::ExposeSecret;
        for (var, secret) in [
            ("THUMBFORGE_SECRET", &self.secret),
            ("THUMBFORGE_PREVIOUS_SECRET", &self.previous_secret),
        ] {
            let Some(secret) = secret else { continue };
            let secret = secret.expose_secret();
            let lower = secret.to_ascii_lowercase();
            if PLACEHOLDER_WORDS.iter().any(|word| lower.contains(word)) {
                return Err(ConfigError::Invalid(format!(
                    "{var} is still a placeholder; set it to a random string, e.g. the output of `openssl rand -hex 32`"
                )));
            }
            if secret.chars().count() < MIN_SECRET_CHARS {
                return Err(ConfigError::Invalid(format!(
                    "{var} is {} characters; it must be at least {MIN_SECRET_CHARS} (e.g. `openssl rand -hex 32`)",
                    secret.chars().count()
                )));
            }
        }
        Ok(())
    }

    /// The built-in defaults alone, with the data directory moved: what a
    /// test starts from.
    pub fn defaults_in(data_dir: &Path) -> Settings {
        let mut settings: Settings = config::Config::builder()
            .add_source(config::File::from_str(DEFAULTS, config::FileFormat::Toml))
            .build()
            .and_then(|c| c.try_deserialize())
            .expect("built-in defaults deserialize");
        settings.data_dir = data_dir.to_owned();
        settings
    }

    pub fn database_url(&self) -> String {
        self.database.url.clone().unwrap_or_else(|| {
            format!("sqlite://{}", self.data_dir.join("thumbforge.db").display())
        })
    }

    pub fn queue_sqlite_path(&self) -> PathBuf {
        self.queue
            .sqlite_path
            .clone()
            .unwrap_or_else(|| self.data_dir.join("queue.db"))
    }

    pub fn images_dir(&self) -> PathBuf {
        self.data_dir.join("images")
    }

    /// The server secret (signs image URLs, seals provider keys): `secret`
    /// from config, else the one kept in `data_dir/secret`, created on
    /// first start. Processes sharing a database must share it.
    pub fn resolve_secret(&self) -> std::io::Result<SecretString> {
        if let Some(secret) = &self.secret {
            return Ok(secret.clone());
        }
        read_or_create_secret(&self.data_dir.join("secret"))
    }
}

fn read_or_create_secret(path: &Path) -> std::io::Result<SecretString> {
    if let Ok(existing) = std::fs::read_to_string(path) {
        let existing = existing.trim();
        if !existing.is_empty() {
            return Ok(SecretString::from(existing.to_owned()));
        }
    }
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    let secret = nanoid::nanoid!(48);
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, &secret)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o600))?;
    }
    std::fs::rename(&tmp, path)?;
    Ok(SecretString::from(secret))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_parse_and_paths_follow_the_data_dir() {
        let s = Settings::defaults_in(Path::new("/tmp/x"));
        assert_eq!(s.bind, "127.0.0.1:8080");
        assert_eq!(s.database_url(), "sqlite:///tmp/x/thumbforge.db");
        assert_eq!(s.queue_sqlite_path(), Path::new("/tmp/x/queue.db"));
        assert_eq!(s.models.default, "local");
        assert!(!s.models.enable_test_model);
        assert_eq!(s.retention, RetentionSettings::default());
        assert_eq!(s.retention.generations_days, 0, "kept forever by default");
    }

    fn from_env(vars: &[(&str, &str)]) -> Result<Settings, config::ConfigError> {
        let vars = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        config::Config::builder()
            .add_source(config::File::from_str(DEFAULTS, config::FileFormat::Toml))
            .add_source(environment(Some(vars)))
            .build()?
            .try_deserialize()
    }

    #[test]
    fn lists_are_read_from_the_environment_at_commas() {
        let s = from_env(&[("THUMBFORGE_REFERENCES__ALLOW_CIDRS", "10.0.0.0/8,fd00::/8")])
            .expect("a list from the environment");
        assert_eq!(s.references.allow_cidrs, ["10.0.0.0/8", "fd00::/8"]);
        let s = from_env(&[("THUMBFORGE_REFERENCES__ALLOW_CIDRS", "127.0.0.2/32")])
            .expect("a list of one");
        assert_eq!(s.references.allow_cidrs, ["127.0.0.2/32"]);
        let s = from_env(&[("THUMBFORGE_REFERENCES__ALLOW_CIDRS", " 10.0.0.0/8 , ,")])
            .expect("items are trimmed");
        assert_eq!(s.references.allow_cidrs, ["10.0.0.0/8"]);
        let s = from_env(&[("THUMBFORGE_REFERENCES__ALLOW_CIDRS", "")]).expect("empty");
        assert!(s.references.allow_cidrs.is_empty());
        // Other values with commas are not split.
        let s = from_env(&[("THUMBFORGE_LOG__FILTER", "info,thumbforge=debug")]).expect("a filter");
        assert_eq!(s.log.filter, "info,thumbforge=debug");
    }

    #[test]
    fn retention_is_set_from_the_environment() {
        let s = from_env(&[
            ("THUMBFORGE_RETENTION__GENERATIONS_DAYS", "30"),
            ("THUMBFORGE_RETENTION__BATCH", "2000"),
        ])
        .expect("retention from the environment");
        assert_eq!(s.retention.generations_days, 30);
        assert_eq!(s.retention.batch, 2000);
    }

    #[test]
    fn every_list_in_the_defaults_is_a_list_key() {
        let defaults: toml::Table = DEFAULTS.parse().expect("defaults are TOML");
        fn lists(table: &toml::Table, prefix: &str, out: &mut Vec<String>) {
            for (key, value) in table {
                let path = format!("{prefix}{key}");
                match value {
                    toml::Value::Array(_) => out.push(path),
                    toml::Value::Table(inner) => lists(inner, &format!("{path}."), out),
                    _ => {}
                }
            }
        }
        let mut found = Vec::new();
        lists(&defaults, "", &mut found);
        assert_eq!(found, LIST_KEYS);
    }

    #[test]
    fn placeholder_and_short_secrets_are_refused() {
        let check = |secret: &str| {
            let mut s = Settings::defaults_in(Path::new("/tmp/x"));
            s.secret = Some(SecretString::from(secret.to_owned()));
            s.check_secrets().map_err(|e| e.to_string())
        };
        for placeholder in [
            "CHANGE-ME-to-a-long-random-string",
            "change-me-to-a-long-random-string",
            "replace_me_with_a_very_long_random_value_please",
        ] {
            let err = check(placeholder).expect_err("a placeholder");
            assert!(err.contains("placeholder"), "{err}");
        }
        let err = check("hunter2").expect_err("too short");
        assert!(err.contains("at least 32"), "{err}");
        check("8f3a1c9e0b7d4f2a6c5e8b1d3f7a9c0e").expect("32 random characters");
        let mut s = Settings::defaults_in(Path::new("/tmp/x"));
        s.previous_secret = Some(SecretString::from("changeme".to_owned()));
        assert!(s.check_secrets().is_err());
    }

    #[test]
    fn the_sample_config_states_the_real_defaults() {
        let sample = include_str!("../../../deploy/thumbforge.sample.toml");
        let from_sample: Settings = config::Config::builder()
            .add_source(config::File::from_str(sample, config::FileFormat::Toml))
            .build()
            .and_then(|c| c.try_deserialize())
            .expect("the sample parses");
        let defaults = Settings::defaults_in(Path::new("./data"));
        assert_eq!(format!("{from_sample:?}"), format!("{defaults:?}"));
    }
}
