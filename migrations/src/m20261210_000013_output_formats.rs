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
//! read from the schema (SQLite). On PostgreSQL the migration runs outside
//! a transaction, so each step commits on its own: the `ADD`s hold their
//! exclusive lock only for the catalogue change, and the check, added
//! `NOT VALID`, is then validated by a scan that lets reads and writes go
//! on (in one transaction the first `ADD`'s lock would last through it). Each step can be run again after a failed
//! attempt. SQLite declares the check with the column.

use sea_orm_migration::{prelude::*, sea_orm::DbBackend};

#[derive(DeriveMigrationName)]
pub struct Migration;

const UP_POSTGRES: [&str; 4] = [
    "ALTER TABLE thumbnails ADD COLUMN IF NOT EXISTS format TEXT NOT NULL DEFAULT 'png'",
    "DO $$ BEGIN \
        ALTER TABLE thumbnails ADD CONSTRAINT thumbnails_format_check \
            CHECK (format IN ('png', 'jpeg', 'webp')) NOT VALID; \
     EXCEPTION WHEN duplicate_object THEN NULL; END $$",
    "ALTER TABLE thumbnails ADD COLUMN IF NOT EXISTS clean_size_bytes BIGINT",
    "ALTER TABLE thumbnails VALIDATE CONSTRAINT thumbnails_format_check",
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
    /// Outside a transaction: see the module's doc.
    fn use_transaction(&self) -> Option<bool> {
        Some(false)
    }

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
