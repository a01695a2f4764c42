use sea_orm::entity::prelude::*;

/// An uploaded reference image (FatThumb's person or inspiration).
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "assets")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub org_id: String,
    /// `person` or `inspiration`.
    pub kind: String,
    /// Always `image/png`: uploads are decoded and stored re-encoded.
    pub content_type: String,
    pub storage_key: String,
    pub width: i32,
    pub height: i32,
    pub size_bytes: i64,
    pub filename: Option<String>,
    pub created_at: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
