use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "thumbnails")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub generation_id: String,
    pub org_id: String,
    /// Position within the generation, 0-based; also the renderer's variation.
    pub idx: i32,
    pub status: thumbforge_core::ThumbnailStatus,
    /// The message a client reads when it ended without an image.
    #[sea_orm(column_type = "Text", nullable)]
    pub error: Option<String>,
    /// Why it ended without an image, beside `error`.
    pub end_reason: Option<thumbforge_core::EndReason>,
    pub is_watermarked: bool,
    pub is_hidden: bool,
    /// Storage key of the clean file.
    pub storage_key: Option<String>,
    /// Storage key of the watermarked file (free plan only).
    pub watermarked_key: Option<String>,
    /// Size of the file a client downloads (the watermarked copy when
    /// watermarked).
    pub file_size_bytes: Option<i64>,
    /// Size of the clean file (`storage_key`); NULL for rows stored before
    /// migration 13.
    pub clean_size_bytes: Option<i64>,
    /// The format of both stored files, set from the request at creation.
    pub format: thumbforge_core::OutputFormat,
    pub width: Option<i32>,
    pub height: Option<i32>,
    pub generation_time_ms: Option<i64>,
    /// Times a worker claimed this thumbnail.
    pub attempts: i32,
    pub created_at: i64,
    pub started_at: Option<i64>,
    pub completed_at: Option<i64>,
    /// When its job was handed to the queue; NULL means "not yet", which the
    /// sweeper repairs.
    pub enqueued_at: Option<i64>,
    /// While a worker holds it: when that claim lapses.
    pub lease_expires_at: Option<i64>,
    /// When an operator dismissed this failed thumbnail from the dead list.
    pub dismissed_at: Option<i64>,
    /// `attempts` when an operator last retried it: the attempt cap counts
    /// from here.
    pub attempt_base: i32,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
