//! What Flokan's generate adds to a generation: the video title (the
//! headline) and an opaque card label to filter by.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Generations {
    Table,
    OrgId,
    Title,
    CardId,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // SQLite adds one column per ALTER TABLE.
        for mut column in [
            text_null(Generations::Title),
            string_null(Generations::CardId),
        ] {
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
            .create_index(
                Index::create()
                    .name("idx_generations_org_card")
                    .table(Generations::Table)
                    .col(Generations::OrgId)
                    .col(Generations::CardId)
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(
                Index::drop()
                    .name("idx_generations_org_card")
                    .table(Generations::Table)
                    .to_owned(),
            )
            .await?;
        for column in [Generations::CardId, Generations::Title] {
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
