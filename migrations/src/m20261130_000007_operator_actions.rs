//! What the operator's queue dashboard needs: a failed thumbnail can be
//! dismissed from the dead list (`dismissed_at`), or retried, after which
//! the attempt cap counts from the retry (`attempt_base`) while `attempts`
//! keeps growing (queue dedupe keys stay unique).

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Thumbnails {
    Table,
    DismissedAt,
    AttemptBase,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // One column per statement: SQLite adds one at a time.
        manager
            .alter_table(
                Table::alter()
                    .table(Thumbnails::Table)
                    .add_column(big_integer_null(Thumbnails::DismissedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Thumbnails::Table)
                    .add_column(integer(Thumbnails::AttemptBase).default(0))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for column in [Thumbnails::DismissedAt, Thumbnails::AttemptBase] {
            manager
                .alter_table(
                    Table::alter()
                        .table(Thumbnails::Table)
                        .drop_column(column)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}
