//! Webhooks: where a generation reports to, each organisation's signing
//! secret (sealed), the deliveries (an outbox the workers send from) and
//! every attempt.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Organizations {
    Table,
    WebhookSecret,
}

#[derive(DeriveIden)]
enum Generations {
    Table,
    WebhookUrl,
    WebhookEvents,
    WebhookState,
}

#[derive(DeriveIden)]
enum WebhookDeliveries {
    Table,
    Id,
    OrgId,
    GenerationId,
    EventType,
    DedupeKey,
    Url,
    Payload,
    Status,
    Attempts,
    NextAttemptAt,
    LeaseUntil,
    LastError,
    CreatedAt,
    DeliveredAt,
}

#[derive(DeriveIden)]
enum WebhookAttempts {
    Table,
    Id,
    DeliveryId,
    AttemptedAt,
    StatusCode,
    Error,
    DurationMs,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Organizations::Table)
                    .add_column(text_null(Organizations::WebhookSecret))
                    .to_owned(),
            )
            .await?;
        // SQLite adds one column per ALTER TABLE.
        for mut column in [
            text_null(Generations::WebhookUrl),
            string_null(Generations::WebhookEvents),
            string_null(Generations::WebhookState),
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
        // Only generations whose webhooks are still to be queued: small,
        // whatever the history (both databases take partial indexes).
        manager
            .get_connection()
            .execute_unprepared(
                "CREATE INDEX idx_generations_webhook_pending ON generations (created_at) \
                 WHERE webhook_state = 'pending'",
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(WebhookDeliveries::Table)
                    .if_not_exists()
                    .col(string(WebhookDeliveries::Id).primary_key())
                    .col(string(WebhookDeliveries::OrgId))
                    .col(string(WebhookDeliveries::GenerationId))
                    .col(string(WebhookDeliveries::EventType))
                    .col(string(WebhookDeliveries::DedupeKey).unique_key())
                    .col(text(WebhookDeliveries::Url))
                    .col(text(WebhookDeliveries::Payload))
                    .col(string(WebhookDeliveries::Status))
                    .col(integer(WebhookDeliveries::Attempts).default(0))
                    .col(big_integer(WebhookDeliveries::NextAttemptAt))
                    .col(big_integer_null(WebhookDeliveries::LeaseUntil))
                    .col(text_null(WebhookDeliveries::LastError))
                    .col(big_integer(WebhookDeliveries::CreatedAt))
                    .col(big_integer_null(WebhookDeliveries::DeliveredAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_webhook_deliveries_due")
                    .table(WebhookDeliveries::Table)
                    .col(WebhookDeliveries::Status)
                    .col(WebhookDeliveries::NextAttemptAt)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_webhook_deliveries_generation")
                    .table(WebhookDeliveries::Table)
                    .col(WebhookDeliveries::GenerationId)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(WebhookAttempts::Table)
                    .if_not_exists()
                    .col(string(WebhookAttempts::Id).primary_key())
                    .col(string(WebhookAttempts::DeliveryId))
                    .col(big_integer(WebhookAttempts::AttemptedAt))
                    .col(integer_null(WebhookAttempts::StatusCode))
                    .col(text_null(WebhookAttempts::Error))
                    .col(big_integer(WebhookAttempts::DurationMs))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_webhook_attempts_delivery")
                    .table(WebhookAttempts::Table)
                    .col(WebhookAttempts::DeliveryId)
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            WebhookAttempts::Table.into_iden(),
            WebhookDeliveries::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        manager
            .get_connection()
            .execute_unprepared("DROP INDEX idx_generations_webhook_pending")
            .await?;
        for column in [
            Generations::WebhookState,
            Generations::WebhookEvents,
            Generations::WebhookUrl,
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
        manager
            .alter_table(
                Table::alter()
                    .table(Organizations::Table)
                    .drop_column(Organizations::WebhookSecret)
                    .to_owned(),
            )
            .await?;
        Ok(())
    }
}
