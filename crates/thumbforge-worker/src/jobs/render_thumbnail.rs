//! Render one thumbnail: claim the row, call its model, store the PNG (and
//! the watermarked copy for free plans), record the outcome, refresh the
//! generation.
//!
//! Idempotent: a redelivered job whose thumbnail is terminal does nothing;
//! outputs go to deterministic keys; every status write is conditional.
//! Model failures are decided here (they become a failed thumbnail with a
//! public message); only infrastructure errors (database, storage) are
//! returned, so the queue delivers the job again.

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use anyhow::Context;
use thumbforge_core::{AspectRatio, ModelId};
use thumbforge_db::{
    batch::{JobResult, StatusWriter},
    now_ms, thumbnails,
};
use thumbforge_providers::{ImageRequest, Providers};
use thumbforge_queue::RenderThumbnail;
use thumbforge_render::{apply_watermark, encode_png, normalize};
use thumbforge_storage::{Storage, thumbnail_key, watermarked_key};
use thumbforge_telemetry::metrics::Metrics;
use tracing::{debug, info, warn};

/// What the job needs, shared by all deliveries.
#[derive(Debug, Clone)]
pub struct JobEnv {
    /// Claims and outcomes go through here, batched with the other jobs of
    /// this process (group commit).
    pub writer: StatusWriter,
    pub storage: Storage,
    pub providers: Providers,
    pub job_timeout: Duration,
    /// Claims per thumbnail before it fails for good (a job that keeps
    /// hitting infrastructure errors, or keeps killing its worker).
    pub max_attempts: i32,
    pub metrics: Arc<Metrics>,
}

impl JobEnv {
    /// A claim lasts past the job timeout, so a live worker always finishes
    /// (or fails) before the sweeper may hand its thumbnail to another.
    fn lease(&self) -> Duration {
        self.job_timeout + Duration::from_secs(30)
    }
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

    let generation = &ctx.generation;
    let produced = if attempt > env.max_attempts {
        warn!(attempt, "giving up on a thumbnail that keeps failing");
        Err(format!(
            "The thumbnail could not be rendered after {} attempts.",
            env.max_attempts
        ))
    } else {
        produce(env, &ctx).await
    };
    let (result, outcome) = match produced {
        Ok(image) => {
            let (width, height) = (image.width() as i32, image.height() as i32);
            // PNG encoding is CPU work: keep it off the async threads.
            let watermark = ctx.thumbnail.is_watermarked;
            let (clean, marked) = tokio::task::spawn_blocking(move || encode(&image, watermark))
                .await
                .context("encoding task")??;
            let clean_key = thumbnail_key(&generation.id, &ctx.thumbnail.id);
            env.storage
                .put(&clean_key, clean.clone())
                .await
                .with_context(|| format!("storing thumbnail {}", ctx.thumbnail.id))?;
            let (wm_key, served_size) = match marked {
                Some(bytes) => {
                    let key = watermarked_key(&generation.id, &ctx.thumbnail.id);
                    let size = bytes.len();
                    env.storage.put(&key, bytes).await.with_context(|| {
                        format!("storing watermarked thumbnail {}", ctx.thumbnail.id)
                    })?;
                    (Some(key), size)
                }
                None => (None, clean.len()),
            };
            let success = thumbnails::Success {
                storage_key: clean_key,
                watermarked_key: wm_key,
                file_size_bytes: served_size as i64,
                width,
                height,
                generation_time_ms: started.elapsed().as_millis() as i64,
            };
            (JobResult::Succeeded(success), Outcome::Succeeded)
        }
        Err(public_message) => (JobResult::Failed(public_message), Outcome::Failed),
    };
    let error = match &result {
        JobResult::Failed(message) => Some(message.clone()),
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
    match &error {
        None => {
            info!(duration_ms, changed = recorded.changed, generation.status = %recorded.generation, "thumbnail succeeded");
            env.metrics.jobs_succeeded.inc();
        }
        Some(error) => {
            info!(duration_ms, changed = recorded.changed, generation.status = %recorded.generation, %error, "thumbnail failed");
            env.metrics.jobs_failed.inc();
        }
    }
    env.metrics
        .job_duration
        .observe(started.elapsed().as_secs_f64());
    Ok(outcome)
}

/// Calls the model. `Err` carries the message a client may read.
async fn produce(env: &JobEnv, ctx: &thumbnails::JobContext) -> Result<image::RgbImage, String> {
    let generation = &ctx.generation;
    let model: ModelId = generation
        .model
        .parse()
        .map_err(|()| format!("Unknown model `{}`.", generation.model))?;
    let aspect: AspectRatio = generation
        .aspect_ratio
        .parse()
        .map_err(|_| format!("Unsupported aspect ratio `{}`.", generation.aspect_ratio))?;
    let provider = env.providers.get(model).map_err(|e| {
        warn!(error = %e, "model not available on this worker");
        format!("The model `{model}` is not available on this server.")
    })?;
    let (width, height) = aspect.dimensions();
    let request = ImageRequest {
        prompt: generation.prompt.clone(),
        headline: None,
        width,
        height,
        variation: ctx.thumbnail.idx as u32,
    };
    match tokio::time::timeout(env.job_timeout, provider.generate(&request)).await {
        Err(_) => Err(format!(
            "The image model did not answer within {} seconds.",
            env.job_timeout.as_secs()
        )),
        Ok(Err(e)) => {
            warn!(error = %e, retryable = e.is_retryable(), "model call failed");
            Err(e.public_message())
        }
        Ok(Ok(image)) => Ok(normalize(&image, width, height)),
    }
}

/// The clean PNG, and the watermarked one when the plan asks for it.
fn encode(image: &image::RgbImage, watermark: bool) -> anyhow::Result<(Vec<u8>, Option<Vec<u8>>)> {
    let clean = encode_png(image).context("encoding PNG")?;
    if !watermark {
        return Ok((clean, None));
    }
    let mut marked = image.clone();
    apply_watermark(&mut marked);
    Ok((
        clean,
        Some(encode_png(&marked).context("encoding watermarked PNG")?),
    ))
}
