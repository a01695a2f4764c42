//! Why a thumbnail ended without an image, as a fact of its own:
//! `thumbnails.end_reason` (`thumbforge_core::EndReason`), written with the
//! message. Before this, Flokan's `timed_out` was recognised by the prefix
//! of the deadline's message.
//!
//! Rows that ended before the column existed get the reason their message
//! and status tell: the deadline's and the operator's messages were fixed
//! texts, a canceled thumbnail was canceled by its client, and any other
//! failure is the model's.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Thumbnails {
    Table,
    EndReason,
}

const BACKFILL: &str = "\
    UPDATE thumbnails SET end_reason = CASE \
        WHEN status = 'canceled' THEN 'canceled' \
        WHEN error LIKE 'Timed out%' THEN 'timed_out' \
        WHEN error = 'Discarded by an operator.' THEN 'discarded' \
        WHEN error LIKE 'The thumbnail could not be rendered after%' THEN 'attempts_exhausted' \
        ELSE 'model_error' END \
    WHERE status IN ('failed', 'canceled')";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Thumbnails::Table)
                    .add_column(string_null(Thumbnails::EndReason))
                    .to_owned(),
            )
            .await?;
        manager
            .get_connection()
            .execute_unprepared(BACKFILL)
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Thumbnails::Table)
                    .drop_column(Thumbnails::EndReason)
                    .to_owned(),
            )
            .await
    }
}
