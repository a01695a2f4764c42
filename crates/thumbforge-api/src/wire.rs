//! The native (FatThumb) JSON shapes that more than one presenter writes
//! or reads: the generate body (REST and MCP), the accepted answer, and the
//! generation record (REST, the event stream, MCP), with the signed image
//! URL that Flokan's record shows too.

use serde::{Deserialize, Serialize};
use thumbforge_core::{
    GenerateRequest, OutputFormat, Prompt, ReferenceUrls, ThumbnailCount, ThumbnailStatus,
    ValidationError, Webhook,
    request::{ReferenceIds, parse_model, parse_provider},
};
use thumbforge_db::{entities::thumbnails, generations::GenerationView, now_ms};

use thumbforge_core::progress::ProviderStage;
use thumbforge_queue::Standing;

use crate::{
    AppState,
    app::{generations::Whereabouts, submit::Accepted},
};

/// The documented camelCase body. Unknown fields are ignored, as FatThumb
/// clients may send more than this server reads.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct GenerateBody {
    #[schema(min_length = 1, max_length = 10000)]
    pub prompt: String,
    #[serde(default)]
    pub model: Option<String>,
    #[serde(default)]
    #[schema(minimum = 1, maximum = 4)]
    pub count: Option<i64>,
    #[serde(default)]
    pub person_ids: Option<Vec<String>>,
    #[serde(default)]
    pub inspiration_ids: Option<Vec<String>>,
    #[serde(default)]
    pub aspect_ratio: Option<String>,
    /// Extension (Flokan's `reference_image_url`): the primary reference.
    #[serde(default)]
    pub reference_image_url: Option<String>,
    /// Extension (Flokan's `youtube_references`): up to 6 image URLs.
    #[serde(default)]
    pub youtube_references: Option<Vec<String>>,
    /// Extension (Flokan's `provider`): `platform` or a BYOK provider.
    #[serde(default)]
    pub provider: Option<String>,
    /// Where to POST this generation's events (Standard Webhooks).
    #[serde(default)]
    pub webhook_url: Option<String>,
    /// `completed` (default) or `all` (every thumbnail too).
    #[serde(default)]
    pub webhook_events: Option<String>,
    /// Extension (Flokan's `style_id`): a style preset of the organisation.
    #[serde(default)]
    pub style_id: Option<String>,
    /// Extension (Flokan's `video_title`): the video's title, 1–500
    /// characters; the local renderer draws it instead of the prompt.
    #[serde(default)]
    #[schema(min_length = 1, max_length = 500)]
    pub title: Option<String>,
    /// The file format of every thumbnail: `png` (default), `jpeg` or
    /// `webp`. Whatever the format, no file is over 2 MB (YouTube's limit).
    #[serde(default)]
    #[schema(value_type = Option<Format>)]
    pub format: Option<String>,
}

impl TryFrom<GenerateBody> for GenerateRequest {
    type Error = ValidationError;
    fn try_from(body: GenerateBody) -> Result<Self, Self::Error> {
        Ok(GenerateRequest {
            prompt: Prompt::try_from(body.prompt)?,
            model: body.model.as_deref().map(parse_model).transpose()?,
            count: body
                .count
                .map(ThumbnailCount::try_from)
                .transpose()?
                .unwrap_or_default(),
            aspect_ratio: body
                .aspect_ratio
                .as_deref()
                .map(str::parse)
                .transpose()?
                .unwrap_or_default(),
            person_ids: ReferenceIds::parse("personIds", body.person_ids.unwrap_or_default())?,
            inspiration_ids: ReferenceIds::parse(
                "inspirationIds",
                body.inspiration_ids.unwrap_or_default(),
            )?,
            reference_urls: ReferenceUrls::parse(
                body.reference_image_url,
                body.youtube_references.unwrap_or_default(),
            )?,
            provider: body
                .provider
                .as_deref()
                .map(parse_provider)
                .transpose()?
                .unwrap_or_default(),
            title: body
                .title
                .as_deref()
                .map(thumbforge_core::Title::parse)
                .transpose()?,
            card_id: None,
            webhook: body
                .webhook_url
                .map(|url| Webhook::parse(url, body.webhook_events.as_deref()))
                .transpose()?,
            style: None,
            format: body
                .format
                .as_deref()
                .map(str::parse)
                .transpose()?
                .unwrap_or_default(),
        })
    }
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct GenerateResponse {
    pub generation_id: String,
    pub thumbnail_ids: Vec<String>,
    pub status: &'static str,
}

impl From<Accepted> for GenerateResponse {
    fn from(accepted: Accepted) -> GenerateResponse {
        GenerateResponse {
            generation_id: accepted.generation_id.into_string(),
            thumbnail_ids: accepted.thumbnail_ids,
            status: "processing",
        }
    }
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct GenerationBody {
    pub id: String,
    pub status: String,
    pub model: String,
    pub count: i32,
    pub created_at: i64,
    /// Extension (Flokan's record has it): the prompt it was made from.
    pub prompt: String,
    /// Extension (Flokan's `video_title`): the video's title, when given.
    pub title: Option<String>,
    /// Extension: `16:9`, `4:3` or `1:1`.
    pub aspect_ratio: String,
    pub thumbnails: Vec<ThumbnailBody>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ThumbnailBody {
    pub id: String,
    pub status: String,
    pub url: Option<String>,
    pub is_watermarked: bool,
    pub is_hidden: bool,
    pub error: Option<String>,
    /// The image's file format, as requested.
    pub format: Format,
    /// The size in bytes of the file `url` serves, once it has succeeded;
    /// never over 2,097,152 (YouTube's limit).
    pub file_size_bytes: Option<i64>,
    /// Where a processing thumbnail stands (absent once it has ended).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub progress: Option<Progress>,
}

/// A thumbnail's file format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Format {
    /// `image/png`, the default.
    Png,
    /// `image/jpeg`.
    Jpeg,
    /// `image/webp` (lossy).
    Webp,
}

impl From<OutputFormat> for Format {
    fn from(format: OutputFormat) -> Format {
        match format {
            OutputFormat::Png => Format::Png,
            OutputFormat::Jpeg => Format::Jpeg,
            OutputFormat::Webp => Format::Webp,
        }
    }
}

/// Where a processing thumbnail stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Progress {
    pub stage: Stage,
    /// While queued: its place among its organisation's waiting
    /// thumbnails, 1 being the next to start. Other organisations' work
    /// takes turns with it, so this is the queue it can shorten.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub queue_position: Option<u64>,
    /// While rendering, what the model's provider says of the call, when it
    /// says anything (fal's queue, kie's task state).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub provider: Option<ProviderProgress>,
}

/// Where a processing thumbnail is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    /// Waiting for its turn.
    Queued,
    /// A worker has it: its model call, or the CPU work around it.
    Rendering,
}

/// Where a call stands at its provider.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ProviderStageName {
    /// In the provider's own queue.
    Queued,
    Running,
}

/// What a provider says of a call in flight.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ProviderProgress {
    pub stage: ProviderStageName,
    /// While queued at the provider: the requests ahead of it there.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub queue_position: Option<u32>,
    /// While running, when the backend says (ComfyUI, sdapi): how much of
    /// the image is made, 0 to 100, in steps of 5.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(minimum = 0, maximum = 100)]
    pub percent: Option<u8>,
}

impl From<ProviderStage> for ProviderProgress {
    fn from(stage: ProviderStage) -> ProviderProgress {
        match stage {
            ProviderStage::Queued { position } => ProviderProgress {
                stage: ProviderStageName::Queued,
                queue_position: position,
                percent: None,
            },
            ProviderStage::Running { percent } => ProviderProgress {
                stage: ProviderStageName::Running,
                queue_position: None,
                percent,
            },
        }
    }
}

impl Progress {
    fn of(t: &thumbnails::Model, known: Whereabouts) -> Option<Progress> {
        if t.status != ThumbnailStatus::Processing {
            return None;
        }
        let rendering = Progress {
            stage: Stage::Rendering,
            queue_position: None,
            provider: known.provider.map(ProviderProgress::from),
        };
        let queued = |queue_position| Progress {
            stage: Stage::Queued,
            queue_position,
            provider: None,
        };
        // Dispatched but not started: handed to the workers, next to start.
        Some(match known.standing {
            Some(Standing::Waiting { position }) => queued(Some(position)),
            _ if t.started_at.is_some() => rendering,
            _ => queued(None),
        })
    }
}

impl GenerationBody {
    /// A generation as every native endpoint shows it: FatThumb's fields.
    /// A processing thumbnail's progress says only whether a worker has
    /// started it; see [`GenerationBody::placed`].
    pub async fn new(state: &AppState, base: &str, view: &GenerationView) -> GenerationBody {
        Self::placed(state, base, view, &[]).await
    }

    /// As [`GenerationBody::new`], with the queue's word on where each
    /// processing thumbnail stands (`crate::app::standings`).
    pub async fn placed(
        state: &AppState,
        base: &str,
        view: &GenerationView,
        standings: &[(String, Whereabouts)],
    ) -> GenerationBody {
        let standing = |id: &str| {
            standings
                .iter()
                .find(|(t, _)| t == id)
                .map(|(_, known)| *known)
                .unwrap_or_default()
        };
        let now_secs = now_ms() / 1000;
        let g = &view.generation;
        let mut thumbnails = Vec::with_capacity(view.thumbnails.len());
        for t in &view.thumbnails {
            thumbnails.push(ThumbnailBody {
                id: t.id.clone(),
                status: t.status.to_string(),
                url: file_url(state, base, now_secs, t).await,
                is_watermarked: t.is_watermarked,
                is_hidden: t.is_hidden,
                error: t.error.clone(),
                format: t.format.into(),
                file_size_bytes: t.file_size_bytes,
                progress: Progress::of(t, standing(&t.id)),
            });
        }
        GenerationBody {
            id: g.id.clone(),
            status: g.status.to_string(),
            model: g.model.clone(),
            count: g.count,
            created_at: g.created_at,
            prompt: g.prompt.clone(),
            title: g.title.clone(),
            aspect_ratio: g.aspect_ratio.clone(),
            thumbnails,
        }
    }
}

/// The stored file a client may have of a thumbnail: the watermarked copy
/// for a watermarked thumbnail, never the clean one.
pub fn client_key(t: &thumbnails::Model) -> Option<&str> {
    if t.is_watermarked {
        t.watermarked_key.as_deref()
    } else {
        t.storage_key.as_deref()
    }
}

/// [`client_key`], once it may be downloaded: succeeded and not hidden.
pub fn served_key(t: &thumbnails::Model) -> Option<&str> {
    let downloadable = t.status == ThumbnailStatus::Succeeded && !t.is_hidden;
    client_key(t).filter(|_| downloadable)
}

/// The expiring URL of a thumbnail's image, once there is one to show:
/// a presigned URL of the bucket (`storage.urls = "presigned"`), else the
/// API's signed `/files` URL.
pub async fn file_url(
    state: &AppState,
    base: &str,
    now_secs: i64,
    t: &thumbnails::Model,
) -> Option<String> {
    let key = served_key(t)?;
    if state.presigned_urls {
        let ttl = std::time::Duration::from_secs(state.url_ttl_secs.unsigned_abs());
        match state.storage.presigned_get(key, ttl).await {
            Ok(Some(url)) => return Some(url),
            Ok(None) => {}
            // The API's own URL still works: it reads the bucket itself.
            Err(e) => tracing::warn!(error = %e, thumbnail.id = %t.id, "presigning failed"),
        }
    }
    let (expires, sig) = state.signer.sign(&t.id, now_secs, state.url_ttl_secs);
    Some(format!(
        "{base}/files/{}.{}?exp={expires}&sig={sig}",
        t.id,
        t.format.extension()
    ))
}
