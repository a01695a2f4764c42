//! Thumbnail outcomes without a status index.
//!
//! `idx_thumbnails_status_created` let the sweeper and the operator's lists
//! find processing and failed thumbnails. But an index on `status` makes
//! every outcome a non-HOT update, which writes a new entry into each of
//! the table's indexes (measured: status writes rose by 14–15% without
//! it). So the index goes, as `idx_generations_status` went before it:
//!
//! - `open_thumbnails` holds the id of every processing thumbnail. The
//!   statement that makes a thumbnail processing (submit, an operator's
//!   retry) adds its row. Outcomes do not touch it (a delete there cost
//!   more than the index saved); the sweeper prunes the rows of ended
//!   thumbnails in bulk. The sweeper and the lists of waiting, running
//!   and retrying thumbnails read the set, joined to `thumbnails`.
//! - The failed ones are found by `error`, which only a failure sets: a
//!   partial index on `error IS NOT NULL` keyed by `dismissed_at`. A
//!   success leaves both columns as they were, so its update stays HOT.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum OpenThumbnails {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum Thumbnails {
    Table,
    Status,
    CreatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(OpenThumbnails::Table)
                    .if_not_exists()
                    .col(string(OpenThumbnails::Id).primary_key())
                    .to_owned(),
            )
            .await?;
        let conn = manager.get_connection();
        conn.execute_unprepared(
            "INSERT INTO open_thumbnails (id) \
             SELECT id FROM thumbnails WHERE status = 'processing'",
        )
        .await?;
        conn.execute_unprepared(
            "CREATE INDEX idx_thumbnails_failed ON thumbnails (dismissed_at) \
             WHERE error IS NOT NULL",
        )
        .await?;
        manager
            .drop_index(
                Index::drop()
                    .name("idx_thumbnails_status_created")
                    .table(Thumbnails::Table)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_index(
                Index::create()
                    .name("idx_thumbnails_status_created")
                    .table(Thumbnails::Table)
                    .col(Thumbnails::Status)
                    .col(Thumbnails::CreatedAt)
                    .to_owned(),
            )
            .await?;
        manager
            .drop_index(
                Index::drop()
                    .name("idx_thumbnails_failed")
                    .table(Thumbnails::Table)
                    .to_owned(),
            )
            .await?;
        manager
            .drop_table(Table::drop().table(OpenThumbnails::Table).to_owned())
            .await
    }
}
