use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "generations")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub org_id: String,
    #[sea_orm(column_type = "Text")]
    pub prompt: String,
    pub model: String,
    pub count: i32,
    pub aspect_ratio: String,
    /// JSON array of asset ids.
    #[sea_orm(column_type = "Text")]
    pub person_ids: String,
    /// JSON array of asset ids.
    #[sea_orm(column_type = "Text")]
    pub inspiration_ids: String,
    pub status: thumbforge_core::GenerationStatus,
    pub created_at: i64,
    pub updated_at: i64,
    pub completed_at: Option<i64>,
    /// JSON array of reference image URLs, primary first.
    #[sea_orm(column_type = "Text")]
    pub reference_urls: String,
    /// `system` (the platform's keys) or the provider whose org key is used.
    pub provider_used: String,
    pub credits_consumed: i32,
    /// The video title (Flokan's `video_title`), drawn as the headline.
    #[sea_orm(column_type = "Text", nullable)]
    pub title: Option<String>,
    /// Flokan's `card_id`: an opaque label to filter by.
    pub card_id: Option<String>,
    /// Where completion (and, with `all`, thumbnail) events are POSTed.
    #[sea_orm(column_type = "Text", nullable)]
    pub webhook_url: Option<String>,
    /// `completed` or `all`.
    pub webhook_events: Option<String>,
    /// `pending` until its events are queued for delivery, then `enqueued`.
    pub webhook_state: Option<String>,
    /// The style preset it was made with (a `StyleSpec` as JSON).
    #[sea_orm(column_type = "Text", nullable)]
    pub style: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
