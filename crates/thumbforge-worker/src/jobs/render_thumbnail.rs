//! Render one thumbnail: claim the row, call its model, store the image in
//! the thumbnail's format within YouTube's 2 MB (and the watermarked copy
//! for free plans), record the outcome, refresh the generation.
//!
//! Idempotent: a redelivered job whose thumbnail is terminal does nothing;
//! outputs go to deterministic keys; every status write is conditional.
//! Each failure is decided where it happens ([`JobError`]): the model's and
//! the request's fail the thumbnail with a reason and a public message;
//! infrastructure errors (database, storage) are returned, so the queue
//! delivers the job again.

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use anyhow::Context;
use thumbforge_core::{
    AspectRatio, EndReason, Failure, ModelId, OutputFormat, ProviderChoice, cpu::CpuSlots, progress,
};
use thumbforge_db::{
    Db, assets,
    batch::StatusWriter,
    crypto::Sealer,
    lifecycle::{JobResult, Success},
    now_ms, provider_keys, thumbnails,
};
use thumbforge_providers::{
    Credentials, FetchPolicy, ImageRequest, Picture, ProviderError, Providers, Reference,
    ReferenceRole, decode,
};
use thumbforge_queue::RenderThumbnail;
use thumbforge_render::{EncodeError, Encoded, apply_watermark, fits, normalize};
use thumbforge_storage::{Storage, thumbnail_key, watermarked_key};
use thumbforge_telemetry::metrics::{Metrics, ModelCallLabels};
use tracing::{debug, info, warn};

/// What the job needs, shared by all deliveries.
#[derive(Debug, Clone)]
pub struct JobEnv {
    /// Claims and outcomes go through here, batched with the other jobs of
    /// this process (group commit).
    pub writer: StatusWriter,
    /// Reads assets and provider keys.
    pub db: Db,
    pub storage: Storage,
    pub providers: Providers,
    pub fetch: FetchPolicy,
    pub sealer: Sealer,
    pub job_timeout: Duration,
    /// Claims per thumbnail before it fails for good (a job that keeps
    /// hitting infrastructure errors, or keeps killing its worker).
    pub max_attempts: i32,
    pub metrics: Arc<Metrics>,
    /// Decoding, fitting and encoding take one of these, whichever lane
    /// the job came from.
    pub cpu: CpuSlots,
    /// The embedded queue's cap on an organisation's thumbnails in flight
    /// (None on Redis, where the queue keeps it).
    pub org_slots: Option<Arc<crate::org_slots::OrgSlots>>,
    /// Where a provider's word on a call in flight is kept for the record.
    pub queue: thumbforge_queue::JobQueue,
}

impl JobEnv {
    /// A claim lasts past the job timeout, so a live worker always finishes
    /// (or fails) before the sweeper may hand its thumbnail to another.
    pub fn lease(&self) -> Duration {
        self.job_timeout + Duration::from_secs(30)
    }
}

/// Why a delivery made no image.
#[derive(Debug)]
enum JobError {
    /// Infrastructure (database, storage): the queue delivers the job
    /// again.
    Retry(anyhow::Error),
    /// The thumbnail fails, with this reason and public message.
    Fail(Failure),
}

impl From<anyhow::Error> for JobError {
    fn from(e: anyhow::Error) -> JobError {
        JobError::Retry(e)
    }
}

fn fail(reason: EndReason, message: impl Into<String>) -> JobError {
    JobError::Fail(Failure::new(reason, message))
}

/// What one delivery did, for logs and metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Succeeded,
    Failed,
    /// Already terminal, deleted, or claimed by nobody: nothing to do.
    Skipped,
}

pub async fn run(env: &JobEnv, job: &RenderThumbnail) -> anyhow::Result<Outcome> {
    let lease_until = now_ms() + env.lease().as_millis() as i64;
    let Some(ctx) = env
        .writer
        .claim(&job.thumbnail_id, lease_until)
        .await
        .context("claiming the thumbnail")?
    else {
        debug!("thumbnail terminal or gone; redelivery ignored");
        return Ok(Outcome::Skipped);
    };
    let attempt = ctx.thumbnail.attempts;
    let started = Instant::now();
    let pickup_ms = now_ms() - job.enqueued_at_ms;
    debug!(attempt, pickup_ms, "claimed");
    env.metrics.jobs_started.inc();
    if attempt > 1 {
        env.metrics.jobs_retried.inc();
    } else {
        env.metrics
            .enqueue_to_start
            .observe(pickup_ms.max(0) as f64 / 1000.0);
    }

    // The model's answer stays counted (CpuSlots::hold_answer) until its
    // PNGs are stored.
    let (result, outcome) = env
        .cpu
        .answer_scope(&job.org_id, async {
            let produced = if attempt - ctx.thumbnail.attempt_base > env.max_attempts {
                warn!(attempt, "giving up on a thumbnail that keeps failing");
                Err(fail(
                    EndReason::AttemptsExhausted,
                    format!(
                        "The thumbnail could not be rendered after {} attempts.",
                        env.max_attempts
                    ),
                ))
            } else {
                produce(env, &ctx).await
            };
            store(env, &ctx, produced, started).await
        })
        .await?;
    let failure = match &result {
        JobResult::Failed(failure) => Some(failure.clone()),
        JobResult::Succeeded(_) => None,
    };
    // The outcome, then the generation's status, in this process's next
    // batch of writes.
    let recorded = env
        .writer
        .record(&ctx, result)
        .await
        .context("recording the outcome")?;
    let duration_ms = started.elapsed().as_millis() as u64;
    match &failure {
        None => {
            info!(duration_ms, changed = recorded.changed, generation.status = %recorded.generation, "thumbnail succeeded");
            env.metrics.jobs_succeeded.inc();
        }
        Some(Failure { reason, message }) => {
            info!(duration_ms, changed = recorded.changed, generation.status = %recorded.generation, %reason, error = %message, "thumbnail failed");
            env.metrics.jobs_failed.inc();
        }
    }
    env.metrics
        .job_duration
        .observe(started.elapsed().as_secs_f64());
    Ok(outcome)
}

/// Fits, encodes and stores a picture; the outcome to record.
async fn store(
    env: &JobEnv,
    ctx: &thumbnails::JobContext,
    produced: Result<(Picture, (u32, u32)), JobError>,
    started: Instant,
) -> anyhow::Result<(JobResult, Outcome)> {
    let generation = &ctx.generation;
    match produced {
        Ok((picture, (width, height))) => {
            // Fitting and encoding are CPU work: keep them off the async
            // threads.
            let watermark = ctx.thumbnail.is_watermarked;
            let format = ctx.thumbnail.format;
            let encoded = env
                .cpu
                .run(move || encode(picture, (width, height), watermark, format))
                .await
                .context("encoding task")?;
            let (clean, marked) = match encoded {
                Ok(files) => files,
                // Not worth a retry: the same pixels give the same sizes.
                Err(EncodeError::TooLarge(format)) => {
                    let message = format!(
                        "The image could not be made to fit YouTube's 2 MB limit as {format}."
                    );
                    let failure = Failure::new(EndReason::ModelError, message);
                    return Ok((JobResult::Failed(failure), Outcome::Failed));
                }
                Err(e) => {
                    return Err(anyhow::Error::new(e)
                        .context(format!("encoding thumbnail {}", ctx.thumbnail.id)));
                }
            };
            let (width, height) = (width as i32, height as i32);
            let clean_key = thumbnail_key(&generation.id, &ctx.thumbnail.id, format);
            let clean_size = clean.bytes.len();
            env.storage
                .put(&clean_key, clean.bytes)
                .await
                .with_context(|| format!("storing thumbnail {}", ctx.thumbnail.id))?;
            let (wm_key, served_size) = match marked {
                Some(marked) => {
                    let key = watermarked_key(&generation.id, &ctx.thumbnail.id, format);
                    let size = marked.bytes.len();
                    env.storage.put(&key, marked.bytes).await.with_context(|| {
                        format!("storing watermarked thumbnail {}", ctx.thumbnail.id)
                    })?;
                    (Some(key), size)
                }
                None => (None, clean_size),
            };
            let success = Success {
                storage_key: clean_key,
                watermarked_key: wm_key,
                file_size_bytes: served_size as i64,
                clean_size_bytes: clean_size as i64,
                width,
                height,
                generation_time_ms: started.elapsed().as_millis() as i64,
            };
            Ok((JobResult::Succeeded(success), Outcome::Succeeded))
        }
        Err(JobError::Fail(failure)) => Ok((JobResult::Failed(failure), Outcome::Failed)),
        Err(JobError::Retry(e)) => Err(e),
    }
}

/// Passes what the provider says about the call (fal's queue position,
/// kie's task state) to the queue, where the record reads it; each change
/// once, without holding up the call. The flag says whether anything was
/// reported, so the call's end can clear it.
fn stage_reporter(
    queue: &thumbforge_queue::JobQueue,
    thumbnail_id: &str,
) -> (progress::Reporter, Arc<std::sync::atomic::AtomicBool>) {
    let reported = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let last = std::sync::Mutex::new(None);
    let (queue, id, flag) = (queue.clone(), thumbnail_id.to_owned(), reported.clone());
    let reporter: progress::Reporter = Arc::new(move |stage| {
        let Ok(mut last) = last.lock() else { return };
        if *last == Some(stage) {
            return;
        }
        *last = Some(stage);
        flag.store(true, std::sync::atomic::Ordering::Relaxed);
        let (queue, id) = (queue.clone(), id.clone());
        tokio::spawn(async move {
            if let Err(e) = queue.set_provider_stage(&id, Some(stage)).await {
                debug!(error = %e, "could not record the provider's progress");
            }
        });
    });
    (reporter, reported)
}

/// Calls the model: its picture, and the size to fit it to.
async fn produce(
    env: &JobEnv,
    ctx: &thumbnails::JobContext,
) -> Result<(Picture, (u32, u32)), JobError> {
    let generation = &ctx.generation;
    // A model the operator has since taken out of the catalogue.
    let Some((model, _)) = env.providers.catalogue().get(&generation.model) else {
        let message = format!("Unknown model `{}`.", generation.model);
        return Err(fail(EndReason::Unavailable, message));
    };
    let Ok(aspect) = generation.aspect_ratio.parse::<AspectRatio>() else {
        let message = format!("Unsupported aspect ratio `{}`.", generation.aspect_ratio);
        return Err(fail(EndReason::Unavailable, message));
    };
    let credentials = match generation.provider_used.parse::<ProviderChoice>() {
        Ok(ProviderChoice::Byok(provider)) => {
            match provider_keys::get(&env.db, &env.sealer, &generation.org_id, provider)
                .await
                .context("reading the org's provider key")?
            {
                Some(Ok(key)) => Credentials::Byok(provider, key.into()),
                Some(Err(e)) => {
                    warn!(error = %e, %provider, "org provider key unreadable");
                    return Err(fail(
                        EndReason::Unavailable,
                        format!(
                            "The organisation's {provider} key could not be read; set it again."
                        ),
                    ));
                }
                None => {
                    return Err(fail(
                        EndReason::Unavailable,
                        format!("The organisation has no {provider} key configured any more."),
                    ));
                }
            }
        }
        _ => Credentials::Platform,
    };
    let provider = match env.providers.model(model, credentials) {
        Ok(provider) => provider,
        Err(e) => {
            warn!(error = %e, "model not available on this worker");
            return Err(fail(
                EndReason::Unavailable,
                format!("The model `{model}` is not available on this server."),
            ));
        }
    };
    let references = load_references(env, generation).await?;
    let (width, height) = aspect.dimensions();
    let style: Option<thumbforge_core::StyleSpec> = generation
        .style
        .as_deref()
        .and_then(|json| serde_json::from_str(json).ok());
    // Remote models read the style from the prompt; the renderer draws it.
    let prompt = match (&style, model) {
        (Some(style), m) if m != ModelId::LOCAL && m != ModelId::TEST => {
            format!("{} {}", generation.prompt, style.describe())
        }
        _ => generation.prompt.clone(),
    };
    let request = ImageRequest {
        prompt,
        headline: generation.title.clone(),
        width,
        height,
        aspect,
        variation: ctx.thumbnail.idx as u32,
        references,
        style: style.as_ref().map(render_style),
    };
    let (reporter, reported) = stage_reporter(&env.queue, &ctx.thumbnail.id);
    let call = tokio::time::timeout(env.job_timeout, provider.generate(&request));
    let answer = progress::scope(reporter, call).await;
    if reported.load(std::sync::atomic::Ordering::Relaxed) {
        let (queue, id) = (env.queue.clone(), ctx.thumbnail.id.clone());
        tokio::spawn(async move { queue.set_provider_stage(&id, None).await });
    }
    let outcome = match &answer {
        Err(_) | Ok(Err(ProviderError::Timeout)) => "timeout",
        Ok(Err(ProviderError::Retryable { .. } | ProviderError::RateLimited { .. })) => {
            "unavailable"
        }
        Ok(Err(ProviderError::Permanent(_))) => "refused",
        Ok(Err(ProviderError::Safety)) => "safety",
        Ok(Ok(_)) => "ok",
    };
    env.metrics
        .model_calls
        .get_or_create(&ModelCallLabels {
            model: generation.model.clone(),
            outcome,
        })
        .inc();
    match answer {
        Err(_) => Err(fail(
            EndReason::ModelError,
            format!(
                "The image model did not answer within {} seconds.",
                env.job_timeout.as_secs()
            ),
        )),
        Ok(Err(e)) => {
            warn!(error = %e, retryable = e.is_retryable(), "model call failed");
            let reason = match e {
                ProviderError::Safety => EndReason::Safety,
                _ => EndReason::ModelError,
            };
            Err(fail(reason, e.public_message()))
        }
        Ok(Ok(picture)) => Ok((picture, (width, height))),
    }
}

/// A style preset as the renderer takes it (colours were validated when
/// the preset was made).
fn render_style(style: &thumbforge_core::StyleSpec) -> thumbforge_render::Style {
    use thumbforge_core::style::parse_hex;
    let color = |c: &str| parse_hex(c).unwrap_or([255, 255, 255]);
    thumbforge_render::Style {
        background_from: color(&style.background_colors[0]),
        background_to: color(&style.background_colors[1]),
        accent: color(&style.accent_color),
        uppercase: style.uppercase,
        outline: match style.outline.as_str() {
            "thin" => thumbforge_render::Outline::Thin,
            "none" => thumbforge_render::Outline::None,
            _ => thumbforge_render::Outline::Thick,
        },
    }
}

/// The generation's references, primary first: the fetched URLs
/// (`reference_image_url`, then `youtube_references`), then the person and
/// inspiration assets. A reference that cannot be used fails the
/// thumbnail with the reason.
async fn load_references(
    env: &JobEnv,
    generation: &thumbforge_db::entities::generations::Model,
) -> Result<Vec<Reference>, JobError> {
    let unusable = |message: String| fail(EndReason::Reference, message);
    let urls: Vec<String> = serde_json::from_str(&generation.reference_urls).unwrap_or_default();
    let fetched = futures::future::join_all(urls.iter().map(|u| env.fetch.fetch(u))).await;
    let mut references = Vec::new();
    for (url, result) in urls.iter().zip(fetched) {
        match result {
            Ok(f) => {
                let image = f.image;
                let png = match decode::to_png(&image) {
                    Ok(png) => png,
                    Err(e) => {
                        return Err(unusable(format!(
                            "Reference image {url} could not be used: {e}."
                        )));
                    }
                };
                references.push(Reference {
                    image,
                    png,
                    url: Some(url.clone()),
                    role: ReferenceRole::Image,
                });
            }
            Err(e) => {
                warn!(error = %e, "reference refused");
                return Err(unusable(format!(
                    "Reference image {url} could not be used: {e}."
                )));
            }
        }
    }
    let ids: Vec<(String, ReferenceRole)> = [
        (&generation.person_ids, ReferenceRole::Person),
        (&generation.inspiration_ids, ReferenceRole::Inspiration),
    ]
    .into_iter()
    .flat_map(|(json, role)| {
        serde_json::from_str::<Vec<String>>(json)
            .unwrap_or_default()
            .into_iter()
            .map(move |id| (id, role))
    })
    .collect();
    if !ids.is_empty() {
        let wanted: Vec<String> = ids.iter().map(|(id, _)| id.clone()).collect();
        let found = assets::find_many_for_org(&env.db, &generation.org_id, &wanted)
            .await
            .context("reading reference assets")?;
        for (id, role) in &ids {
            let Some(asset) = found.iter().find(|a| &a.id == id) else {
                return Err(unusable(format!(
                    "Asset {id} was deleted before the thumbnail was made."
                )));
            };
            let png = env
                .storage
                .get(&asset.storage_key)
                .await
                .with_context(|| format!("reading asset {id}"))?
                .to_vec();
            let decoded = {
                let png = png.clone();
                env.cpu
                    .run(move || decode::decode_limited(&png, &decode::OUTPUT_LIMITS))
                    .await
                    .context("decoding task")?
            };
            match decoded {
                Ok((image, _)) => references.push(Reference {
                    image,
                    png,
                    url: None,
                    role: *role,
                }),
                Err(e) => return Err(unusable(format!("Asset {id} could not be read: {e}."))),
            }
        }
    }
    Ok(references)
}

/// The clean file, and the watermarked one when the plan asks for it,
/// both in the thumbnail's format and within YouTube's 2 MB
/// (`thumbforge_render::encode`). A provider's PNG already at the target
/// size and within 2 MB is stored as it came (cut to its critical chunks)
/// when the thumbnail is a PNG: the decode has read all of it, and encoding
/// the same pixels again would double the thumbnail's CPU time
/// (docs/benchmarks.md, the CPU path row).
fn encode(
    picture: Picture,
    (width, height): (u32, u32),
    watermark: bool,
    format: OutputFormat,
) -> Result<(Encoded, Option<Encoded>), EncodeError> {
    let kept = picture.png.filter(|png| {
        format == OutputFormat::Png
            && (picture.image.width(), picture.image.height()) == (width, height)
            && fits(png)
    });
    let mut fitted = normalize(picture.image, width, height);
    let clean = match kept {
        Some(bytes) => Encoded {
            bytes,
            format: OutputFormat::Png,
        },
        None => thumbforge_render::encode(&fitted, format)?,
    };
    if !watermark {
        return Ok((clean, None));
    }
    apply_watermark(&mut fitted);
    Ok((clean, Some(thumbforge_render::encode(&fitted, format)?)))
}
