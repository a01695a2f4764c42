//! Generation ends without a status index.
//!
//! `idx_generations_status` existed for one query: the sweeper's search for
//! processing generations whose thumbnails have all ended (a worker died
//! between a thumbnail's write and its generation's). But an index on
//! `status` makes every generation's end a non-HOT update, which writes a
//! new entry into every index of the table; without it the end is a HOT
//! update (measured: status writes rose by about a third). So the index
//! goes, and the sweeper reads `unsettled_generations` instead: a mark
//! written before any thumbnail write that leaves its generation to be
//! re-derived by a second write, and removed when the generation ends.
//! Writes that end a generation in the same statement as its thumbnail
//! (the common case: one thumbnail, succeeded) leave no mark.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum UnsettledGenerations {
    Table,
    Id,
    Since,
}

#[derive(DeriveIden)]
enum Generations {
    Table,
    Status,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(UnsettledGenerations::Table)
                    .if_not_exists()
                    .col(string(UnsettledGenerations::Id).primary_key())
                    .col(big_integer(UnsettledGenerations::Since))
                    .to_owned(),
            )
            .await?;
        // Every generation open now may be one a worker left behind.
        manager
            .get_connection()
            .execute_unprepared(
                "INSERT INTO unsettled_generations (id, since) \
                 SELECT id, 0 FROM generations WHERE status = 'processing'",
            )
            .await?;
        manager
            .drop_index(
                Index::drop()
                    .name("idx_generations_status")
                    .table(Generations::Table)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_index(
                Index::create()
                    .name("idx_generations_status")
                    .table(Generations::Table)
                    .col(Generations::Status)
                    .to_owned(),
            )
            .await?;
        manager
            .drop_table(Table::drop().table(UnsettledGenerations::Table).to_owned())
            .await
    }
}
