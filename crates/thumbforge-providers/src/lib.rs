#![doc = include_str!("../README.md")]

mod catalogue;
mod comfyui;
pub mod decode;
mod fal;
pub mod fetch;
mod gemini;
pub mod http;
mod kie;
pub mod limits;
mod local;
mod openai;
mod openai_compatible;
mod scripted;
mod sdapi;

use std::{
    collections::{BTreeMap, HashMap},
    sync::Arc,
    time::Duration,
};

use image::DynamicImage;
use secrecy::{ExposeSecret, SecretString};
use thumbforge_config::{
    BackendSettings, ModelSettings, ProviderLimit, ProviderSettings, ReferenceSettings,
};
use thumbforge_core::{
    AspectRatio, Catalogue, ModelId, ProviderChoice, ProviderKind, Route, capacity::Capacity,
    cpu::CpuSlots,
};
use thumbforge_telemetry::metrics::Metrics;

pub use comfyui::ComfyUi;
pub use fal::Fal;
pub use fetch::{FetchError, FetchPolicy};
pub use gemini::Gemini;
pub use http::HttpPolicy;
pub use kie::Kie;
pub use limits::{Gate, Limited};
pub use local::LocalRenderer;
pub use openai::OpenAiImages;
pub use openai_compatible::OpenAiCompatible;
pub use scripted::ScriptedModel;
pub use sdapi::SdApi;

/// A reference image as the models receive it.
#[derive(Debug, Clone)]
pub struct Reference {
    pub image: DynamicImage,
    /// The image re-encoded as PNG (what adapters upload).
    pub png: Vec<u8>,
    /// Where it came from, for a user-given URL (kie takes URLs only).
    pub url: Option<String>,
    pub role: ReferenceRole,
}

/// What a reference is for. Remote models get every reference as an
/// image; the built-in model draws a person as the subject and takes an
/// inspiration's colours.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReferenceRole {
    /// A reference image or a YouTube video's thumbnail.
    Image,
    /// A `personIds` asset.
    Person,
    /// An `inspirationIds` asset.
    Inspiration,
}

/// What a model is asked for.
#[derive(Debug, Clone)]
pub struct ImageRequest {
    pub prompt: String,
    /// Text to show, when the caller has one (a video title).
    pub headline: Option<String>,
    pub width: u32,
    pub height: u32,
    pub aspect: AspectRatio,
    /// Position within the generation; models use it to vary output.
    pub variation: u32,
    /// Reference images, the primary one first.
    pub references: Vec<Reference>,
    /// A style preset: the local renderer draws it; remote models get it
    /// described in the prompt.
    pub style: Option<thumbforge_render::Style>,
}

#[derive(Debug, thiserror::Error)]
pub enum ProviderError {
    /// Worth trying again (5xx, connection failures).
    #[error("temporary provider failure: {message}")]
    Retryable {
        message: String,
        retry_after: Option<Duration>,
    },
    /// The provider answered 429 to a call that starts work: the key
    /// pauses for everyone and the call goes again without spending an
    /// attempt ([`Limited`]).
    #[error("the provider is rate limiting this key")]
    RateLimited { retry_after: Option<Duration> },
    /// The provider did not answer within the provider timeout.
    #[error("the provider did not answer in time")]
    Timeout,
    /// Trying again gives the same answer (bad request, forbidden).
    #[error("provider refused the request: {0}")]
    Permanent(String),
    /// The model declined on safety grounds; detail is never shown.
    #[error("blocked by the provider's safety filter")]
    Safety,
}

impl ProviderError {
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            ProviderError::Retryable { .. }
                | ProviderError::RateLimited { .. }
                | ProviderError::Timeout
        )
    }

    /// A 429 on a call that must not start the work again (a status poll,
    /// a download) is retried where it happened, as any temporary failure.
    pub fn in_place(self) -> ProviderError {
        match self {
            ProviderError::RateLimited { retry_after } => ProviderError::Retryable {
                message: "the provider is rate limiting this key".to_owned(),
                retry_after,
            },
            other => other,
        }
    }

    /// The error a client may see on the thumbnail.
    pub fn public_message(&self) -> String {
        match self {
            ProviderError::Retryable { .. } | ProviderError::RateLimited { .. } => {
                "The image model was unavailable; please try again later.".to_owned()
            }
            ProviderError::Timeout => "The image model did not answer in time.".to_owned(),
            ProviderError::Permanent(message) => {
                format!("The image model could not make this image: {message}.")
            }
            ProviderError::Safety => {
                "This image could not be generated because it may violate the content policy."
                    .to_owned()
            }
        }
    }
}

/// What a model made.
#[derive(Debug, Clone)]
pub struct Picture {
    pub image: DynamicImage,
    /// The provider's own PNG, cut to its critical chunks, when it is 8-bit
    /// RGB and not interlaced ([`decode::storable_png`]). At the target size
    /// the worker stores it as it is rather than encoding the pixels again.
    pub png: Option<Vec<u8>>,
}

impl From<DynamicImage> for Picture {
    fn from(image: DynamicImage) -> Self {
        Picture { image, png: None }
    }
}

/// One image model.
#[async_trait::async_trait]
pub trait ImageModel: Send + Sync + std::fmt::Debug {
    async fn generate(&self, request: &ImageRequest) -> Result<Picture, ProviderError>;
}

/// Why a model cannot run as asked.
#[derive(Debug, Clone, thiserror::Error)]
pub enum RouteError {
    #[error("model `{model}` is not available on this server: {hint}")]
    NotConfigured { model: ModelId, hint: String },
    #[error("model `{model}` cannot run on provider `{provider}`")]
    NotOnProvider {
        model: ModelId,
        provider: ProviderKind,
    },
}

/// What serves a model for one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Serving {
    /// The built-in renderer (or, for `test`, the scripted model).
    BuiltIn,
    /// A provider's model, on the platform's key or the org's own.
    Route(Route),
    /// The operator's self-hosted backend of this name.
    Backend(&'static str),
}

/// Whose key a call uses.
#[derive(Debug, Clone)]
pub enum Credentials {
    Platform,
    /// The org's own key for this provider (already opened).
    Byok(ProviderKind, SecretString),
}

/// The models this server can run, and the adapters that reach them.
#[derive(Debug, Clone)]
pub struct Providers {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    enable_test_model: bool,
    /// The public models: the built-in table and the operator's entries.
    catalogue: Catalogue,
    /// The operator's backends, built once at start-up.
    backends: HashMap<String, Arc<dyn ImageModel>>,
    settings: ProviderSettings,
    policy: HttpPolicy,
    client: reqwest::Client,
    /// Where answers are decoded and the local model draws.
    cpu: CpuSlots,
    /// Each provider key's rate, slots and pause.
    capacity: Arc<dyn Capacity>,
    metrics: Arc<Metrics>,
}

/// What the adapters share besides the settings.
#[derive(Debug, Clone)]
pub struct ProviderDeps {
    /// Decoding answers and the local model's drawing.
    pub cpu: CpuSlots,
    /// Where each key's capacity is kept (Redis in production).
    pub capacity: Arc<dyn Capacity>,
    pub metrics: Arc<Metrics>,
}

impl ProviderDeps {
    /// In-process capacity and metrics of its own: one process, tests.
    pub fn local(cpu: CpuSlots) -> ProviderDeps {
        ProviderDeps {
            cpu,
            capacity: Arc::new(thumbforge_core::capacity::InProcess::default()),
            metrics: Metrics::new(),
        }
    }
}

impl Providers {
    /// The built-in catalogue and no self-hosted backends.
    pub fn new(
        settings: &ProviderSettings,
        enable_test_model: bool,
        deps: ProviderDeps,
    ) -> Providers {
        Providers::build(
            settings,
            enable_test_model,
            deps,
            Catalogue::built_in(),
            HashMap::new(),
        )
    }

    /// The operator's catalogue and backends as configured; a bad entry is
    /// a start-up error that names it.
    pub fn configured(
        settings: &ProviderSettings,
        models: &ModelSettings,
        backends: &BTreeMap<String, BackendSettings>,
        deps: ProviderDeps,
    ) -> Result<Providers, String> {
        let catalogue = catalogue::build(models, backends)?;
        let policy = policy(settings);
        let mut built = HashMap::new();
        for (name, backend) in backends {
            built.insert(
                name.clone(),
                catalogue::backend(name, backend, &policy, &deps.cpu)?,
            );
        }
        Ok(Providers::build(
            settings,
            models.enable_test_model,
            deps,
            catalogue,
            built,
        ))
    }

    fn build(
        settings: &ProviderSettings,
        enable_test_model: bool,
        deps: ProviderDeps,
        catalogue: Catalogue,
        backends: HashMap<String, Arc<dyn ImageModel>>,
    ) -> Providers {
        let policy = policy(settings);
        Providers {
            inner: Arc::new(Inner {
                enable_test_model,
                catalogue,
                backends,
                client: policy.client(),
                policy,
                settings: settings.clone(),
                cpu: deps.cpu,
                capacity: deps.capacity,
                metrics: deps.metrics,
            }),
        }
    }

    /// The public models this server knows.
    pub fn catalogue(&self) -> &Catalogue {
        &self.inner.catalogue
    }

    fn server_key(&self, provider: ProviderKind) -> Option<&SecretString> {
        let s = &self.inner.settings;
        match provider {
            ProviderKind::OpenAi => s.openai_api_key.as_ref(),
            ProviderKind::Google => s.gemini_api_key.as_ref(),
            ProviderKind::Fal => s.fal_key.as_ref(),
            ProviderKind::Kie => s.kie_api_key.as_ref(),
        }
        .filter(|k| !k.expose_secret().is_empty())
    }

    /// What serves `model` for `choice`. Platform requests take the first
    /// route whose provider has a server key (or the model's backend);
    /// BYOK takes the route on that provider.
    pub fn route(&self, model: ModelId, choice: ProviderChoice) -> Result<Serving, RouteError> {
        if model == ModelId::TEST && !self.inner.enable_test_model {
            return Err(RouteError::NotConfigured {
                model,
                hint: "the test model is enabled only by models.enable_test_model".to_owned(),
            });
        }
        let entry = self
            .inner
            .catalogue
            .entry(model)
            .ok_or_else(|| RouteError::NotConfigured {
                model,
                hint: "it is not in this server's catalogue".to_owned(),
            })?;
        match choice {
            ProviderChoice::Byok(provider) => entry
                .route_on(provider)
                .map(Serving::Route)
                .ok_or(RouteError::NotOnProvider { model, provider }),
            ProviderChoice::Platform => {
                if let Some(backend) = entry.backend {
                    return Ok(Serving::Backend(backend));
                }
                if entry.routes.is_empty() {
                    // `local`, and `test`, which stands in for any provider.
                    return Ok(Serving::BuiltIn);
                }
                entry
                    .routes
                    .iter()
                    .copied()
                    .find(|r| self.server_key(r.provider).is_some())
                    .map(Serving::Route)
                    .ok_or_else(|| RouteError::NotConfigured {
                        model,
                        hint: format!(
                            "it needs a provider key; set one of {}",
                            entry
                                .routes
                                .iter()
                                .map(|r| key_variable(r.provider))
                                .collect::<Vec<_>>()
                                .join(", ")
                        ),
                    })
            }
        }
    }

    /// The adapter that runs `model` with `credentials`.
    pub fn model(
        &self,
        model: ModelId,
        credentials: Credentials,
    ) -> Result<Arc<dyn ImageModel>, RouteError> {
        let choice = match &credentials {
            Credentials::Platform => ProviderChoice::Platform,
            Credentials::Byok(p, _) => ProviderChoice::Byok(*p),
        };
        let route = match self.route(model, choice)? {
            Serving::BuiltIn => {
                let local = LocalRenderer(self.inner.cpu.clone());
                return Ok(if model == ModelId::TEST {
                    Arc::new(ScriptedModel(local))
                } else {
                    Arc::new(local)
                });
            }
            Serving::Backend(name) => {
                return self.inner.backends.get(name).cloned().ok_or_else(|| {
                    RouteError::NotConfigured {
                        model,
                        hint: format!("backend `{name}` is not configured"),
                    }
                });
            }
            Serving::Route(route) => route,
        };
        let (key, limit) = match credentials {
            Credentials::Byok(_, key) => (key, self.limit(route.provider, true)),
            Credentials::Platform => (
                self.server_key(route.provider).cloned().ok_or_else(|| {
                    RouteError::NotConfigured {
                        model,
                        hint: format!("set {}", key_variable(route.provider)),
                    }
                })?,
                self.limit(route.provider, false),
            ),
        };
        let gate = Gate::new(
            self.inner.capacity.clone(),
            route.provider,
            &key,
            limit,
            self.inner.metrics.clone(),
            &self.inner.policy,
        );
        Ok(Arc::new(Limited {
            inner: self.adapter(route, key, gate.clone()),
            gate,
        }))
    }

    /// The caps of the platform's key, or of each org's own key.
    fn limit(&self, provider: ProviderKind, byok: bool) -> ProviderLimit {
        let s = &self.inner.settings;
        let table = if byok { &s.byok_limits } else { &s.limits };
        match provider {
            ProviderKind::OpenAi => table.openai,
            ProviderKind::Google => table.google,
            ProviderKind::Fal => table.fal,
            ProviderKind::Kie => table.kie,
        }
    }

    fn adapter(&self, route: Route, key: SecretString, gate: Gate) -> Arc<dyn ImageModel> {
        let s = &self.inner.settings;
        let base_url = match route.provider {
            ProviderKind::OpenAi => &s.openai_base_url,
            ProviderKind::Google => &s.gemini_base_url,
            ProviderKind::Fal => &s.fal_queue_url,
            ProviderKind::Kie => &s.kie_base_url,
        };
        let up = http::Upstream {
            client: self.inner.client.clone(),
            policy: self.inner.policy.clone(),
            cpu: self.inner.cpu.clone(),
            base_url: base_url.trim_end_matches('/').to_owned(),
            key,
            model: route.model.to_owned(),
        };
        match route.provider {
            ProviderKind::OpenAi => Arc::new(OpenAiImages {
                up,
                quality: s.openai_quality.clone(),
                moderation: s.openai_moderation.clone(),
                gate,
            }),
            ProviderKind::Google => Arc::new(Gemini { up }),
            ProviderKind::Fal => Arc::new(Fal { up }),
            ProviderKind::Kie => Arc::new(Kie { up }),
        }
    }
}

/// The HTTP policy the provider settings describe.
fn policy(settings: &ProviderSettings) -> HttpPolicy {
    HttpPolicy {
        timeout: Duration::from_secs(settings.timeout_secs),
        max_attempts: settings.max_attempts.max(1),
        backoff_base: Duration::from_millis(settings.backoff_base_ms),
        backoff_max: Duration::from_millis(settings.backoff_max_ms),
        poll_interval: Duration::from_millis(settings.poll_interval_ms),
        max_image_bytes: settings.max_image_bytes,
    }
}

/// The environment variable holding the server key for `provider`.
pub fn key_variable(provider: ProviderKind) -> &'static str {
    match provider {
        ProviderKind::OpenAi => "OPENAI_API_KEY",
        ProviderKind::Google => "GEMINI_API_KEY",
        ProviderKind::Fal => "FAL_KEY",
        ProviderKind::Kie => "KIE_API_KEY",
    }
}

/// The fetch policy `settings` describes. Bad CIDRs are a startup error.
pub fn fetch_policy(settings: &ReferenceSettings) -> Result<FetchPolicy, String> {
    let allow_cidrs = settings
        .allow_cidrs
        .iter()
        .map(|c| {
            c.parse::<ipnet::IpNet>()
                .or_else(|_| c.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
                .map_err(|_| format!("references.allow_cidrs: `{c}` is not a CIDR"))
        })
        .collect::<Result<_, _>>()?;
    Ok(FetchPolicy {
        allow_http: settings.allow_http,
        allow_cidrs,
        max_bytes: settings.max_bytes,
        timeout: Duration::from_secs(settings.timeout_secs),
        max_redirects: settings.max_redirects,
        limits: decode::DecodeLimits {
            max_dimension: settings.max_dimension,
            max_alloc: settings.max_decode_bytes,
        },
    })
}

#[cfg(test)]
mod tests;
