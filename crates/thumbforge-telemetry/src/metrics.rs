//! Prometheus metrics, one registry per process (so tests that run several
//! apps in one process see their own numbers). `/metrics` on the API and on
//! the worker's health port renders it in the OpenMetrics text format.

use std::{borrow::Cow, sync::Arc};

use prometheus_client::{
    encoding::EncodeLabelSet,
    metrics::{
        counter::Counter,
        family::Family,
        gauge::Gauge,
        histogram::{Histogram, exponential_buckets},
    },
    registry::Registry,
};

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct HttpLabels {
    pub method: Cow<'static, str>,
    /// The route template (`/api/v1/generations/{id}`), never the raw path,
    /// so ids do not explode the series count.
    pub route: String,
    pub status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RouteLabels {
    pub method: Cow<'static, str>,
    pub route: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ModelCallLabels {
    pub model: String,
    /// `ok`, `timeout` (the job timeout), `unavailable` (retryable errors
    /// that outlasted the adapter's retries), `refused` or `safety`.
    pub outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ProviderLabels {
    /// `openai`, `google`, `fal` or `kie`.
    pub provider: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct OrgLabels {
    pub org: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct LaneLabels {
    /// `remote` or `cpu`.
    pub lane: &'static str,
}

type HistogramFamily<L> = Family<L, Histogram, fn() -> Histogram>;

fn latency_histogram() -> Histogram {
    // 0.5 ms … ~16 s.
    Histogram::new(exponential_buckets(0.0005, 2.0, 16))
}

fn job_histogram() -> Histogram {
    // 5 ms … ~10 min.
    Histogram::new(exponential_buckets(0.005, 2.0, 18))
}

#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    pub http_requests: Family<HttpLabels, Counter>,
    pub http_duration: HistogramFamily<RouteLabels>,
    pub queue_depth: Gauge,
    pub queue_in_flight: Gauge,
    pub jobs_started: Counter,
    pub jobs_succeeded: Counter,
    pub jobs_failed: Counter,
    pub jobs_retried: Counter,
    pub job_duration: Histogram,
    pub enqueue_to_start: Histogram,
    pub model_calls: Family<ModelCallLabels, Counter>,
    pub queue_oldest_age: Gauge,
    /// Provider calls open now (holding a capacity permit).
    pub provider_in_flight: Family<ProviderLabels, Gauge>,
    /// How long calls waited for a provider key's capacity.
    pub provider_capacity_wait: HistogramFamily<ProviderLabels>,
    /// Calls a provider answered with 429.
    pub provider_rate_limited: Family<ProviderLabels, Counter>,
    /// Each organisation with thumbnails waiting (sampled at scrape; only
    /// organisations with a backlog have a series).
    pub org_waiting: Family<OrgLabels, Gauge>,
    pub org_oldest_wait: Family<OrgLabels, Gauge>,
    /// Thumbnails running or able to start now, by lane (Redis).
    pub queue_demand: Family<LaneLabels, Gauge>,
    /// Generations retention deleted (rows, after their objects).
    pub retention_generations_deleted: Counter,
    /// Their thumbnails (the rows, and both image objects of each).
    pub retention_thumbnails_deleted: Counter,
}

impl Metrics {
    pub fn new() -> Arc<Metrics> {
        let mut registry = Registry::with_prefix("thumbforge");
        let http_requests = Family::<HttpLabels, Counter>::default();
        let http_duration: HistogramFamily<RouteLabels> =
            Family::new_with_constructor(latency_histogram);
        let queue_depth = Gauge::default();
        let queue_in_flight = Gauge::default();
        let jobs_started = Counter::default();
        let jobs_succeeded = Counter::default();
        let jobs_failed = Counter::default();
        let jobs_retried = Counter::default();
        let job_duration = job_histogram();
        let enqueue_to_start = latency_histogram();
        let model_calls = Family::<ModelCallLabels, Counter>::default();
        let queue_oldest_age = Gauge::default();
        let provider_in_flight = Family::<ProviderLabels, Gauge>::default();
        let provider_capacity_wait: HistogramFamily<ProviderLabels> =
            Family::new_with_constructor(job_histogram);
        let provider_rate_limited = Family::<ProviderLabels, Counter>::default();
        let org_waiting = Family::<OrgLabels, Gauge>::default();
        let org_oldest_wait = Family::<OrgLabels, Gauge>::default();
        let queue_demand = Family::<LaneLabels, Gauge>::default();
        let retention_generations_deleted = Counter::default();
        let retention_thumbnails_deleted = Counter::default();
        registry.register(
            "retention_generations_deleted",
            "Generations deleted by retention, with their thumbnails' images",
            retention_generations_deleted.clone(),
        );
        registry.register(
            "retention_thumbnails_deleted",
            "Thumbnails deleted by retention (rows and image objects)",
            retention_thumbnails_deleted.clone(),
        );
        registry.register(
            "org_queue_waiting",
            "Thumbnails waiting for their turn, by organisation (sampled at scrape)",
            org_waiting.clone(),
        );
        registry.register(
            "org_queue_oldest_wait_seconds",
            "How long the organisation's longest-waiting thumbnail has waited (sampled at scrape)",
            org_oldest_wait.clone(),
        );
        registry.register(
            "queue_demand",
            "Thumbnails running or able to start now (capped organisations' waiting work left out), by lane: over one worker's slots, the workers wanted (Redis; sampled at scrape)",
            queue_demand.clone(),
        );
        registry.register(
            "provider_in_flight",
            "Provider calls open now, by provider",
            provider_in_flight.clone(),
        );
        registry.register(
            "provider_capacity_wait_seconds",
            "Time a call waited for its provider key's rate, slots or 429 pause",
            provider_capacity_wait.clone(),
        );
        registry.register(
            "provider_rate_limited",
            "Provider answers of 429 (each pauses the key for every worker and spends no attempt)",
            provider_rate_limited.clone(),
        );
        registry.register(
            "model_calls",
            "Image model calls by model and outcome (after the adapter's own retries)",
            model_calls.clone(),
        );
        registry.register(
            "queue_oldest_age_seconds",
            "Age of the oldest thumbnail waiting for a worker, from when it was queued (sampled at scrape)",
            queue_oldest_age.clone(),
        );
        registry.register(
            "http_requests",
            "HTTP requests by method, route and status",
            http_requests.clone(),
        );
        registry.register(
            "http_request_duration_seconds",
            "HTTP request latency by method and route",
            http_duration.clone(),
        );
        registry.register(
            "queue_depth",
            "Render jobs in the queue, waiting or running (sampled at scrape)",
            queue_depth.clone(),
        );
        registry.register(
            "queue_in_flight",
            "Render jobs delivered to a worker and not finished (Redis; sampled at scrape)",
            queue_in_flight.clone(),
        );
        registry.register(
            "jobs_started",
            "Render jobs that claimed their thumbnail",
            jobs_started.clone(),
        );
        registry.register(
            "jobs_succeeded",
            "Render jobs that stored a thumbnail",
            jobs_succeeded.clone(),
        );
        registry.register(
            "jobs_failed",
            "Render jobs that ended their thumbnail as failed",
            jobs_failed.clone(),
        );
        registry.register(
            "jobs_retried",
            "Deliveries of a thumbnail after its first attempt, and infrastructure errors handed back for redelivery",
            jobs_retried.clone(),
        );
        registry.register(
            "job_duration_seconds",
            "Time from claim to recorded outcome",
            job_duration.clone(),
        );
        registry.register(
            "job_enqueue_to_start_seconds",
            "Time from enqueue to claim",
            enqueue_to_start.clone(),
        );
        Arc::new(Metrics {
            registry,
            http_requests,
            http_duration,
            queue_depth,
            queue_in_flight,
            jobs_started,
            model_calls,
            queue_oldest_age,
            jobs_succeeded,
            jobs_failed,
            jobs_retried,
            job_duration,
            enqueue_to_start,
            provider_in_flight,
            provider_capacity_wait,
            provider_rate_limited,
            org_waiting,
            org_oldest_wait,
            queue_demand,
            retention_generations_deleted,
            retention_thumbnails_deleted,
        })
    }

    /// Counts one answered request and records its latency. Takes its
    /// labels by value (a standard method is a `&'static str`, and the
    /// route template is the `String` the caller already has), so once a
    /// series exists this allocates nothing: the two families share the
    /// labels by moving them.
    pub fn observe_http(
        &self,
        method: Cow<'static, str>,
        route: String,
        status: u16,
        seconds: f64,
    ) {
        let labels = RouteLabels { method, route };
        self.http_duration.get_or_create(&labels).observe(seconds);
        let RouteLabels { method, route } = labels;
        self.http_requests
            .get_or_create(&HttpLabels {
                method,
                route,
                status,
            })
            .inc();
    }

    /// The OpenMetrics text exposition.
    pub fn render(&self) -> String {
        let mut out = String::new();
        if prometheus_client::encoding::text::encode(&mut out, &self.registry).is_err() {
            out.clear();
        }
        out
    }
}

/// The content type `render` produces.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";
