//! Style presets, and the style a generation was made with (a snapshot, so
//! editing or deleting a preset never changes work already accepted).

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
    Style,
}

#[derive(DeriveIden)]
enum Styles {
    Table,
    Id,
    OrgId,
    Name,
    Spec,
    CreatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Generations::Table)
                    .add_column(text_null(Generations::Style))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(Styles::Table)
                    .if_not_exists()
                    .col(string(Styles::Id).primary_key())
                    .col(string(Styles::OrgId))
                    .col(string(Styles::Name))
                    .col(text(Styles::Spec))
                    .col(big_integer(Styles::CreatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(Styles::Table, Styles::OrgId)
                            .to(Organizations::Table, Organizations::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_styles_org_created")
                    .table(Styles::Table)
                    .col(Styles::OrgId)
                    .col(Styles::CreatedAt)
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(Styles::Table).to_owned())
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Generations::Table)
                    .drop_column(Generations::Style)
                    .to_owned(),
            )
            .await?;
        Ok(())
    }
}
