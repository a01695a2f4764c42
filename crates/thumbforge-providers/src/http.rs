//! What every HTTP adapter shares: one client, the retry loop (exponential
//! backoff with full jitter, honouring `Retry-After`), the mapping of HTTP
//! answers to [`ProviderError`], and size-capped downloads.
//!
//! Nothing a provider says in an error body is logged or shown: bodies can
//! echo key fragments (OpenAI's 401 does). Logs get the status and the
//! provider's error code only.

use std::{future::Future, time::Duration};

use image::ImageFormat;
use reqwest::{Response, StatusCode, header::HeaderMap};
use secrecy::SecretString;
use thumbforge_core::cpu::CpuSlots;
use tracing::{debug, warn};

use crate::{
    Picture, ProviderError,
    decode::{decode_limited, storable_png},
};

/// One provider endpoint and the key to call it with: what every HTTP
/// adapter holds.
#[derive(Debug, Clone)]
pub struct Upstream {
    pub client: reqwest::Client,
    pub policy: HttpPolicy,
    /// Where the answer is decoded.
    pub cpu: CpuSlots,
    /// Base URL without a trailing slash (fal: the queue URL).
    pub base_url: String,
    pub key: SecretString,
    /// The provider's model name.
    pub model: String,
}

/// Sends `request`: a success's JSON body (and its headers), or the answer
/// mapped to an error.
pub async fn send_json<T: serde::de::DeserializeOwned>(
    provider: &'static str,
    request: reqwest::RequestBuilder,
) -> Result<(T, HeaderMap), ProviderError> {
    send_json_with(provider, request, None).await
}

/// [`send_json`] for an answer that carries the picture: the body is read
/// once `cpu` lets this thumbnail hold an answer ([`CpuSlots::hold_answer`]).
pub async fn send_json_answer<T: serde::de::DeserializeOwned>(
    provider: &'static str,
    request: reqwest::RequestBuilder,
    cpu: &CpuSlots,
) -> Result<(T, HeaderMap), ProviderError> {
    send_json_with(provider, request, Some(cpu)).await
}

async fn send_json_with<T: serde::de::DeserializeOwned>(
    provider: &'static str,
    request: reqwest::RequestBuilder,
    answer: Option<&CpuSlots>,
) -> Result<(T, HeaderMap), ProviderError> {
    let response = request
        .send()
        .await
        .map_err(|e| transport_error(provider, &e))?;
    if !response.status().is_success() {
        let (status, headers, code) = error_code(response).await;
        return Err(status_error(provider, status, &headers, code.as_deref()));
    }
    if let Some(cpu) = answer {
        cpu.hold_answer().await;
    }
    let headers = response.headers().clone();
    Ok((json_body(provider, response, JSON_LIMIT).await?, headers))
}

/// Largest JSON body read from a provider (Gemini and OpenAI inline the
/// image as base64, so this is the image cap's order).
const JSON_LIMIT: usize = 80 * 1024 * 1024;

/// Retry and size settings shared by the adapters.
#[derive(Debug, Clone)]
pub struct HttpPolicy {
    pub timeout: Duration,
    pub max_attempts: u32,
    pub backoff_base: Duration,
    pub backoff_max: Duration,
    pub poll_interval: Duration,
    pub max_image_bytes: usize,
}

impl HttpPolicy {
    /// The reqwest client the adapters share: the per-request timeout,
    /// no proxy from the environment.
    pub fn client(&self) -> reqwest::Client {
        self.builder()
            .build()
            .expect("a client with these options builds")
    }

    /// The client for a self-hosted backend, which answers from its own
    /// origin: no redirect is followed, so neither an answer nor a redirect
    /// can send a download to another host (the cloud's metadata address,
    /// a neighbour on the operator's network).
    pub fn backend_client(&self) -> reqwest::Client {
        self.builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("a client with these options builds")
    }

    fn builder(&self) -> reqwest::ClientBuilder {
        reqwest::Client::builder()
            .timeout(self.timeout)
            .connect_timeout(Duration::from_secs(10).min(self.timeout))
            .no_proxy()
            .user_agent(concat!("thumbforge/", env!("CARGO_PKG_VERSION")))
    }

    /// The wait before attempt `attempt + 1` (attempt counts from 1).
    fn backoff(&self, attempt: u32) -> Duration {
        let exp = self
            .backoff_base
            .saturating_mul(1u32 << (attempt - 1).min(16))
            .min(self.backoff_max);
        // Full jitter: anywhere from zero to the exponential step.
        exp.mul_f64(rand::random::<f64>())
    }
}

/// Runs `call` until it succeeds, fails for good, or the attempts run out.
/// A `Retry-After` the provider sent wins over the computed backoff (capped
/// at `backoff_max`).
pub async fn with_retries<T, F, Fut>(
    policy: &HttpPolicy,
    provider: &'static str,
    mut call: F,
) -> Result<T, ProviderError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, ProviderError>>,
{
    let mut attempt = 1;
    loop {
        match call().await {
            // The capacity wrapper pauses the key and calls again.
            Err(e @ ProviderError::RateLimited { .. }) => return Err(e),
            Err(e) if e.is_retryable() && attempt < policy.max_attempts => {
                let wait = match &e {
                    ProviderError::Retryable {
                        retry_after: Some(after),
                        ..
                    } => (*after).min(policy.backoff_max),
                    _ => policy.backoff(attempt),
                };
                warn!(provider, attempt, wait_ms = wait.as_millis() as u64, error = %e, "provider call failed; retrying");
                tokio::time::sleep(wait).await;
                attempt += 1;
            }
            other => return other,
        }
    }
}

/// [`with_retries`] for a call that must not start the work again (a
/// status poll, a result, a download): a 429 there is retried in place,
/// as any temporary failure.
pub async fn with_retries_in_place<T, F, Fut>(
    policy: &HttpPolicy,
    provider: &'static str,
    mut call: F,
) -> Result<T, ProviderError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, ProviderError>>,
{
    with_retries(policy, provider, || {
        let answer = call();
        async move { answer.await.map_err(ProviderError::in_place) }
    })
    .await
}

/// A transport failure: timeouts and connection errors are retryable.
pub fn transport_error(provider: &'static str, e: &reqwest::Error) -> ProviderError {
    if e.is_timeout() {
        ProviderError::Timeout
    } else {
        ProviderError::Retryable {
            message: format!("{provider} could not be reached"),
            retry_after: None,
        }
    }
}

/// `Retry-After` in seconds (the form providers send with 429 and 503).
pub fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let value = headers.get(reqwest::header::RETRY_AFTER)?.to_str().ok()?;
    value
        .trim()
        .parse::<f64>()
        .ok()
        .filter(|s| s.is_finite() && *s >= 0.0)
        .map(Duration::from_secs_f64)
}

/// A duration in OpenAI's `x-ratelimit-reset-*` form: `1s`, `6m0s`,
/// `20ms`, `1h2m3.5s`.
pub fn parse_go_duration(value: &str) -> Option<Duration> {
    let mut total = 0f64;
    let mut number = String::new();
    let mut chars = value.trim().chars().peekable();
    let mut seen = false;
    while let Some(c) = chars.next() {
        if c.is_ascii_digit() || c == '.' {
            number.push(c);
            continue;
        }
        let n: f64 = number.parse().ok()?;
        number.clear();
        let unit = match c {
            'h' => 3600.0,
            'm' if chars.peek() == Some(&'s') => {
                chars.next();
                0.001
            }
            'm' => 60.0,
            's' => 1.0,
            _ => return None,
        };
        total += n * unit;
        seen = true;
    }
    (seen && number.is_empty()).then(|| Duration::from_secs_f64(total))
}

/// Maps a non-success answer to an error. `code` is the provider's
/// machine-readable error code, when its body had one; it is logged, the
/// body's message is not.
pub fn status_error(
    provider: &'static str,
    status: StatusCode,
    headers: &HeaderMap,
    code: Option<&str>,
) -> ProviderError {
    warn!(
        provider,
        status = status.as_u16(),
        code,
        "provider answered with an error"
    );
    match status.as_u16() {
        429 => ProviderError::RateLimited {
            retry_after: retry_after(headers),
        },
        408 | 409 | 425 | 500..=599 => ProviderError::Retryable {
            message: format!("{provider} answered HTTP {}", status.as_u16()),
            retry_after: retry_after(headers),
        },
        401 | 403 => ProviderError::Permanent(format!(
            "the {provider} key was refused (HTTP {})",
            status.as_u16()
        )),
        other => {
            ProviderError::Permanent(format!("{provider} rejected the request (HTTP {other})"))
        }
    }
}

/// Reads a body up to `max` bytes, failing rather than buffering more.
pub async fn read_capped(
    provider: &'static str,
    mut response: Response,
    max: usize,
) -> Result<Vec<u8>, ProviderError> {
    if response.content_length().is_some_and(|n| n > max as u64) {
        return Err(ProviderError::Permanent(format!(
            "{provider} returned an image larger than {max} bytes"
        )));
    }
    let mut body = Vec::new();
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|e| transport_error(provider, &e))?
    {
        if body.len() + chunk.len() > max {
            return Err(ProviderError::Permanent(format!(
                "{provider} returned an image larger than {max} bytes"
            )));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// Downloads an output image a provider links to and decodes it.
pub async fn download_image(
    up: &Upstream,
    provider: &'static str,
    url: &str,
) -> Result<Picture, ProviderError> {
    debug!(provider, "downloading the output image");
    let response = up
        .client
        .get(url)
        .send()
        .await
        .map_err(|e| transport_error(provider, &e))?;
    if !response.status().is_success() {
        return Err(status_error(
            provider,
            response.status(),
            response.headers(),
            None,
        ));
    }
    up.cpu.hold_answer().await;
    let bytes = read_capped(provider, response, up.policy.max_image_bytes).await?;
    decode_output(&up.cpu, provider, bytes).await
}

/// Decodes image bytes a provider returned, with decode limits, on a CPU
/// slot; a PNG that can be stored as it is comes back with the picture.
pub async fn decode_output(
    cpu: &CpuSlots,
    provider: &'static str,
    bytes: Vec<u8>,
) -> Result<Picture, ProviderError> {
    cpu.run(move || {
        let (image, format) = decode_limited(&bytes, &crate::decode::OUTPUT_LIMITS)?;
        let png = (format == ImageFormat::Png)
            .then(|| storable_png(bytes))
            .flatten();
        Ok::<_, String>(Picture { image, png })
    })
    .await
    .map_err(|_| ProviderError::Permanent(format!("{provider}: decoding task failed")))?
    .map_err(|e| ProviderError::Permanent(format!("{provider} returned an unreadable image: {e}")))
}

/// The JSON body of a success, or a clear error if it is not JSON.
pub async fn json_body<T: serde::de::DeserializeOwned>(
    provider: &'static str,
    response: Response,
    max: usize,
) -> Result<T, ProviderError> {
    let bytes = read_capped(provider, response, max).await?;
    serde_json::from_slice(&bytes).map_err(|e| {
        warn!(provider, error = %e, "unexpected response shape");
        ProviderError::Permanent(format!("{provider} answered in an unexpected format"))
    })
}

/// The provider's error code from a JSON error body, if it has one, under
/// `error.code`, `error.status`, `error.type` or `code`.
pub async fn error_code(response: Response) -> (StatusCode, HeaderMap, Option<String>) {
    let status = response.status();
    let headers = response.headers().clone();
    let body: Option<serde_json::Value> = response.json().await.ok();
    let code = body.and_then(|b| {
        let error = b.get("error").unwrap_or(&b);
        ["code", "status", "type"]
            .iter()
            .find_map(|k| error.get(*k))
            .map(|v| match v {
                serde_json::Value::String(s) => s.clone(),
                other => other.to_string(),
            })
    });
    (status, headers, code)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_durations_parse() {
        assert_eq!(parse_go_duration("1s"), Some(Duration::from_secs(1)));
        assert_eq!(parse_go_duration("6m0s"), Some(Duration::from_secs(360)));
        assert_eq!(parse_go_duration("20ms"), Some(Duration::from_millis(20)));
        assert_eq!(
            parse_go_duration("1h2m3.5s"),
            Some(Duration::from_secs_f64(3723.5))
        );
        assert_eq!(parse_go_duration("soon"), None);
        assert_eq!(parse_go_duration("5"), None);
    }

    #[test]
    fn backoff_grows_and_stays_under_the_ceiling() {
        let policy = HttpPolicy {
            timeout: Duration::from_secs(1),
            max_attempts: 5,
            backoff_base: Duration::from_millis(100),
            backoff_max: Duration::from_millis(250),
            poll_interval: Duration::from_millis(10),
            max_image_bytes: 1,
        };
        for attempt in 1..10 {
            assert!(policy.backoff(attempt) <= Duration::from_millis(250));
        }
    }
}
