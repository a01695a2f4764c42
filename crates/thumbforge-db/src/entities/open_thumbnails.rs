use sea_orm::entity::prelude::*;

/// A thumbnail that is, or recently was, processing. The statement or
/// transaction that makes a thumbnail processing (submit, an operator's
/// retry) adds its row, so the sweeper finds every unfinished thumbnail
/// here without an index on `thumbnails.status` (which would make every
/// outcome a non-HOT update; see migration 9). Outcomes leave the row;
/// the sweeper prunes the rows of ended thumbnails.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "open_thumbnails")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
