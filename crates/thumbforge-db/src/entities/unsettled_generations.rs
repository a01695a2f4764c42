use sea_orm::entity::prelude::*;

/// A generation one of whose thumbnails ended (or is about to) in a write
/// separate from the generation's own re-derivation. Written before that
/// thumbnail write and deleted when the generation ends, so a worker that
/// dies in between leaves a mark the sweeper finds. `since` is Unix ms.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "unsettled_generations")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub since: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
