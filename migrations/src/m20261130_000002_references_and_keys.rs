//! Reference assets, organisations' own provider keys (encrypted), and what
//! a generation records of its provider: the reference URLs the worker
//! fetches, `provider_used` and `credits_consumed`.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Organizations {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum Generations {
    Table,
    ReferenceUrls,
    ProviderUsed,
    CreditsConsumed,
}

#[derive(DeriveIden)]
enum Assets {
    Table,
    Id,
    OrgId,
    Kind,
    ContentType,
    StorageKey,
    Width,
    Height,
    SizeBytes,
    Filename,
    CreatedAt,
}

#[derive(DeriveIden)]
enum ProviderKeys {
    Table,
    OrgId,
    Provider,
    /// Nonce and ciphertext (XChaCha20-Poly1305), base64.
    Sealed,
    CreatedAt,
    UpdatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // SQLite adds one column per ALTER TABLE.
        for column in [
            text(Generations::ReferenceUrls).default("[]").to_owned(),
            string(Generations::ProviderUsed)
                .default("system")
                .to_owned(),
            integer(Generations::CreditsConsumed).default(0).to_owned(),
        ] {
            let mut column = column;
            manager
                .alter_table(
                    Table::alter()
                        .table(Generations::Table)
                        .add_column(&mut column)
                        .to_owned(),
                )
                .await?;
        }
        manager
            .create_table(
                Table::create()
                    .table(Assets::Table)
                    .if_not_exists()
                    .col(string(Assets::Id).primary_key())
                    .col(string(Assets::OrgId))
                    .col(string(Assets::Kind))
                    .col(string(Assets::ContentType))
                    .col(string(Assets::StorageKey))
                    .col(integer(Assets::Width))
                    .col(integer(Assets::Height))
                    .col(big_integer(Assets::SizeBytes))
                    .col(string_null(Assets::Filename))
                    .col(big_integer(Assets::CreatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(Assets::Table, Assets::OrgId)
                            .to(Organizations::Table, Organizations::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_assets_org_created")
                    .table(Assets::Table)
                    .col(Assets::OrgId)
                    .col(Assets::CreatedAt)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(ProviderKeys::Table)
                    .if_not_exists()
                    .col(string(ProviderKeys::OrgId))
                    .col(string(ProviderKeys::Provider))
                    .col(text(ProviderKeys::Sealed))
                    .col(big_integer(ProviderKeys::CreatedAt))
                    .col(big_integer(ProviderKeys::UpdatedAt))
                    .primary_key(
                        Index::create()
                            .col(ProviderKeys::OrgId)
                            .col(ProviderKeys::Provider),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(ProviderKeys::Table, ProviderKeys::OrgId)
                            .to(Organizations::Table, Organizations::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [ProviderKeys::Table.into_iden(), Assets::Table.into_iden()] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        for column in [
            Generations::CreditsConsumed.into_iden(),
            Generations::ProviderUsed.into_iden(),
            Generations::ReferenceUrls.into_iden(),
        ] {
            manager
                .alter_table(
                    Table::alter()
                        .table(Generations::Table)
                        .drop_column(column)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}
