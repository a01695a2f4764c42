//! Organisations, their API keys, generations and thumbnails.
//! Timestamps are Unix milliseconds (BIGINT), the unit the API speaks.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Organizations {
    Table,
    Id,
    Slug,
    Name,
    Plan,
    CreatedAt,
}

#[derive(DeriveIden)]
enum ApiKeys {
    Table,
    Id,
    OrgId,
    KeyHash,
    KeyPrefix,
    Scopes,
    CreatedAt,
    RevokedAt,
}

#[derive(DeriveIden)]
enum Generations {
    Table,
    Id,
    OrgId,
    Prompt,
    Model,
    Count,
    AspectRatio,
    PersonIds,
    InspirationIds,
    Status,
    CreatedAt,
    UpdatedAt,
    CompletedAt,
}

#[derive(DeriveIden)]
enum Thumbnails {
    Table,
    Id,
    GenerationId,
    OrgId,
    Idx,
    Status,
    Error,
    IsWatermarked,
    IsHidden,
    StorageKey,
    WatermarkedKey,
    FileSizeBytes,
    Width,
    Height,
    GenerationTimeMs,
    Attempts,
    CreatedAt,
    StartedAt,
    CompletedAt,
    EnqueuedAt,
    LeaseExpiresAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Organizations::Table)
                    .if_not_exists()
                    .col(string(Organizations::Id).primary_key())
                    .col(string(Organizations::Slug).unique_key())
                    .col(string(Organizations::Name))
                    .col(string(Organizations::Plan))
                    .col(big_integer(Organizations::CreatedAt))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(ApiKeys::Table)
                    .if_not_exists()
                    .col(string(ApiKeys::Id).primary_key())
                    .col(string(ApiKeys::OrgId))
                    .col(string(ApiKeys::KeyHash).unique_key())
                    .col(string(ApiKeys::KeyPrefix))
                    .col(string(ApiKeys::Scopes))
                    .col(big_integer(ApiKeys::CreatedAt))
                    .col(big_integer_null(ApiKeys::RevokedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(ApiKeys::Table, ApiKeys::OrgId)
                            .to(Organizations::Table, Organizations::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Generations::Table)
                    .if_not_exists()
                    .col(string(Generations::Id).primary_key())
                    .col(string(Generations::OrgId))
                    .col(text(Generations::Prompt))
                    .col(string(Generations::Model))
                    .col(integer(Generations::Count))
                    .col(string(Generations::AspectRatio))
                    .col(text(Generations::PersonIds))
                    .col(text(Generations::InspirationIds))
                    .col(string(Generations::Status))
                    .col(big_integer(Generations::CreatedAt))
                    .col(big_integer(Generations::UpdatedAt))
                    .col(big_integer_null(Generations::CompletedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(Generations::Table, Generations::OrgId)
                            .to(Organizations::Table, Organizations::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_generations_org_created")
                    .table(Generations::Table)
                    .col(Generations::OrgId)
                    .col(Generations::CreatedAt)
                    .to_owned(),
            )
            .await?;
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
            .create_table(
                Table::create()
                    .table(Thumbnails::Table)
                    .if_not_exists()
                    .col(string(Thumbnails::Id).primary_key())
                    .col(string(Thumbnails::GenerationId))
                    .col(string(Thumbnails::OrgId))
                    .col(integer(Thumbnails::Idx))
                    .col(string(Thumbnails::Status))
                    .col(text_null(Thumbnails::Error))
                    .col(boolean(Thumbnails::IsWatermarked))
                    .col(boolean(Thumbnails::IsHidden))
                    .col(string_null(Thumbnails::StorageKey))
                    .col(string_null(Thumbnails::WatermarkedKey))
                    .col(big_integer_null(Thumbnails::FileSizeBytes))
                    .col(integer_null(Thumbnails::Width))
                    .col(integer_null(Thumbnails::Height))
                    .col(big_integer_null(Thumbnails::GenerationTimeMs))
                    .col(integer(Thumbnails::Attempts).default(0))
                    .col(big_integer(Thumbnails::CreatedAt))
                    .col(big_integer_null(Thumbnails::StartedAt))
                    .col(big_integer_null(Thumbnails::CompletedAt))
                    .col(big_integer_null(Thumbnails::EnqueuedAt))
                    .col(big_integer_null(Thumbnails::LeaseExpiresAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(Thumbnails::Table, Thumbnails::GenerationId)
                            .to(Generations::Table, Generations::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_thumbnails_generation")
                    .table(Thumbnails::Table)
                    .col(Thumbnails::GenerationId)
                    .col(Thumbnails::Idx)
                    .unique()
                    .to_owned(),
            )
            .await?;
        // The sweeper scans processing thumbnails; a partial index would be
        // ideal but is not portable, so index status first.
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
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            Thumbnails::Table.into_iden(),
            Generations::Table.into_iden(),
            ApiKeys::Table.into_iden(),
            Organizations::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}
