//! Each thumbnail's file format and the size of each stored file, for
//! YouTube-ready outputs (docs/decisions.md, "Every output is
//! YouTube-ready").
//!
//! - `thumbnails.format`: `png`, `jpeg` or `webp`, written when the
//!   thumbnail is created (the request's `format`), so the worker encodes
//!   it and `/files` serves it. Every row before this one is a PNG, which
//!   the default says. A check keeps the text to the three formats on both
//!   backends.
//! - `thumbnails.clean_size_bytes`: the size of the clean file
//!   (`storage_key`); `file_size_bytes` stays the size of the file a
//!   client downloads (the watermarked copy on the free plan). NULL for
//!   rows stored before this.
//!
//! Safe on a populated database. Neither column rewrites the table: a
//! constant default is stored once in the catalogue (PostgreSQL 11+) or
//! read from the schema (SQLite). On PostgreSQL the check is added `NOT
//! VALID` and then validated by one scan that takes no write lock; SQLite
//! declares it with the column.

use sea_orm_migration::{prelude::*, sea_orm::DbBackend};

#[derive(DeriveMigrationName)]
pub struct Migration;

const UP_POSTGRES: [&str; 4] = [
    "ALTER TABLE thumbnails ADD COLUMN format TEXT NOT NULL DEFAULT 'png'",
    "ALTER TABLE thumbnails ADD CONSTRAINT thumbnails_format_check \
        CHECK (format IN ('png', 'jpeg', 'webp')) NOT VALID",
    "ALTER TABLE thumbnails VALIDATE CONSTRAINT thumbnails_format_check",
    "ALTER TABLE thumbnails ADD COLUMN clean_size_bytes BIGINT",
];

// SQLite takes one column per ALTER TABLE.
const UP_SQLITE: [&str; 2] = [
    "ALTER TABLE thumbnails ADD COLUMN format TEXT NOT NULL DEFAULT 'png' \
        CHECK (format IN ('png', 'jpeg', 'webp'))",
    "ALTER TABLE thumbnails ADD COLUMN clean_size_bytes BIGINT",
];

const DOWN: [&str; 2] = [
    "ALTER TABLE thumbnails DROP COLUMN clean_size_bytes",
    "ALTER TABLE thumbnails DROP COLUMN format",
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let statements: &[&str] = if manager.get_database_backend() == DbBackend::Postgres {
            &UP_POSTGRES
        } else {
            &UP_SQLITE
        };
        for sql in statements {
            manager.get_connection().execute_unprepared(sql).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for sql in DOWN {
            manager.get_connection().execute_unprepared(sql).await?;
        }
        Ok(())
    }
}
