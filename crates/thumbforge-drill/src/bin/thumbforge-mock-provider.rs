//! A stand-in for OpenAI's Images API on loopback, for the workload
//! benchmark (`scripts/bench-workload.sh`): `POST /v1/images/generations`
//! answers after a set latency with one PNG as `data[].b64_json`, and it
//! enforces per-key caps the way a provider does, answering 429 with
//! `Retry-After` and `x-ratelimit-*` headers. `GET /stats` counts what it
//! saw; `POST /stats/reset` zeroes the counts.
//!
//! `thumbforge-mock-provider --latency-ms 3000 --rpm 120 --max-concurrent 50`

use std::{
    collections::{HashMap, VecDeque},
    sync::{
        Mutex,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use base64::{Engine, engine::general_purpose::STANDARD};
use clap::Parser;
use serde_json::json;

#[derive(Debug, Parser)]
#[command(version, about = "A loopback stand-in for OpenAI's Images API")]
struct Args {
    #[arg(long, default_value_t = 0)]
    port: u16,
    /// How long each accepted call takes.
    #[arg(long, default_value_t = 3000)]
    latency_ms: u64,
    /// Calls accepted per key per minute (0: no cap).
    #[arg(long, default_value_t = 0)]
    rpm: usize,
    /// Calls in flight per key (0: no cap).
    #[arg(long, default_value_t = 0)]
    max_concurrent: usize,
    /// The answer's size: what the adapter asks OpenAI for at 16:9.
    #[arg(long, default_value = "1280x720")]
    size: String,
}

#[derive(Debug, Default)]
struct Key {
    /// When each of the last minute's accepted calls started.
    recent: VecDeque<Instant>,
    in_flight: usize,
}

#[derive(Debug, Default)]
struct Counts {
    requests: AtomicU64,
    ok: AtomicU64,
    limited_rpm: AtomicU64,
    limited_concurrency: AtomicU64,
    in_flight: AtomicU64,
    max_in_flight: AtomicU64,
}

struct Mock {
    args: Args,
    b64: String,
    keys: Mutex<HashMap<String, Key>>,
    counts: Counts,
}

/// Why a call was refused, and when to come back.
enum Refusal {
    Rpm(Duration),
    Concurrency,
}

impl Mock {
    /// Admits a call for `key`, or says why not.
    fn admit(&self, key: &str) -> Result<(), Refusal> {
        let mut keys = self.keys.lock().expect("keys lock");
        let entry = keys.entry(key.to_owned()).or_default();
        let now = Instant::now();
        while entry
            .recent
            .front()
            .is_some_and(|t| now.duration_since(*t) >= Duration::from_secs(60))
        {
            entry.recent.pop_front();
        }
        if self.args.max_concurrent > 0 && entry.in_flight >= self.args.max_concurrent {
            return Err(Refusal::Concurrency);
        }
        if self.args.rpm > 0 && entry.recent.len() >= self.args.rpm {
            let oldest = entry.recent.front().copied().unwrap_or(now);
            return Err(Refusal::Rpm(
                Duration::from_secs(60).saturating_sub(now.duration_since(oldest)),
            ));
        }
        entry.recent.push_back(now);
        entry.in_flight += 1;
        Ok(())
    }

    fn release(&self, key: &str) {
        if let Some(entry) = self.keys.lock().expect("keys lock").get_mut(key) {
            entry.in_flight = entry.in_flight.saturating_sub(1);
        }
    }
}

fn too_many(wait: Duration, message: &str) -> HttpResponse {
    let secs = wait.as_secs_f64().ceil().max(1.0) as u64;
    HttpResponse::TooManyRequests()
        .insert_header(("retry-after", secs.to_string()))
        .insert_header(("x-ratelimit-remaining-requests", "0"))
        .insert_header(("x-ratelimit-reset-requests", format!("{secs}s")))
        .json(json!({"error": {
            "message": message, "type": "requests", "param": null, "code": "rate_limit_exceeded"
        }}))
}

async fn generate(req: HttpRequest, mock: web::Data<Mock>) -> HttpResponse {
    let counts = &mock.counts;
    counts.requests.fetch_add(1, Ordering::Relaxed);
    let key = req
        .headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or_default()
        .to_owned();
    match mock.admit(&key) {
        Err(Refusal::Rpm(wait)) => {
            counts.limited_rpm.fetch_add(1, Ordering::Relaxed);
            return too_many(wait, "Rate limit reached for requests per minute.");
        }
        Err(Refusal::Concurrency) => {
            counts.limited_concurrency.fetch_add(1, Ordering::Relaxed);
            return too_many(Duration::from_secs(1), "Too many concurrent requests.");
        }
        Ok(()) => {}
    }
    let now = counts.in_flight.fetch_add(1, Ordering::Relaxed) + 1;
    counts.max_in_flight.fetch_max(now, Ordering::Relaxed);
    tokio::time::sleep(Duration::from_millis(mock.args.latency_ms)).await;
    counts.in_flight.fetch_sub(1, Ordering::Relaxed);
    mock.release(&key);
    counts.ok.fetch_add(1, Ordering::Relaxed);
    HttpResponse::Ok().json(json!({
        "created": 1_764_000_000,
        "data": [{"b64_json": mock.b64}],
        "usage": {"total_tokens": 0},
    }))
}

async fn stats(mock: web::Data<Mock>) -> HttpResponse {
    let c = &mock.counts;
    let get = |n: &AtomicU64| n.load(Ordering::Relaxed);
    HttpResponse::Ok().json(json!({
        "requests": get(&c.requests),
        "ok": get(&c.ok),
        "limited_rpm": get(&c.limited_rpm),
        "limited_concurrency": get(&c.limited_concurrency),
        "in_flight": get(&c.in_flight),
        "max_in_flight": get(&c.max_in_flight),
    }))
}

async fn reset(mock: web::Data<Mock>) -> HttpResponse {
    let c = &mock.counts;
    for n in [
        &c.requests,
        &c.ok,
        &c.limited_rpm,
        &c.limited_concurrency,
        &c.max_in_flight,
    ] {
        n.store(0, Ordering::Relaxed);
    }
    mock.keys.lock().expect("keys lock").clear();
    HttpResponse::NoContent().finish()
}

/// A picture the size of the answer, with a headline over a gradient.
fn picture(size: &str) -> anyhow::Result<Vec<u8>> {
    let (w, h) = size
        .split_once('x')
        .and_then(|(w, h)| Some((w.parse().ok()?, h.parse().ok()?)))
        .ok_or_else(|| anyhow::anyhow!("--size is WIDTHxHEIGHT"))?;
    let image = thumbforge_render::render(&thumbforge_render::RenderSpec {
        variation: 1,
        ..thumbforge_render::RenderSpec::new(w, h, "A mock model's answer")
    })?;
    Ok(thumbforge_render::encode_png(&image)?)
}

#[actix_web::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let b64 = STANDARD.encode(picture(&args.size)?);
    let port = args.port;
    let mock = web::Data::new(Mock {
        args,
        b64,
        keys: Mutex::default(),
        counts: Counts::default(),
    });
    let server = HttpServer::new({
        let mock = mock.clone();
        move || {
            App::new()
                .app_data(mock.clone())
                .app_data(web::JsonConfig::default().limit(1 << 20))
                .route("/v1/images/generations", web::post().to(generate))
                .route("/stats", web::get().to(stats))
                .route("/stats/reset", web::post().to(reset))
        }
    })
    .workers(1)
    .max_connections(100_000)
    .backlog(4096)
    .bind(("127.0.0.1", port))?;
    let addr = server.addrs()[0];
    println!("listening on http://{addr}");
    server.run().await?;
    Ok(())
}
