//! The submit's foreign keys back on PostgreSQL, as SQLite always kept
//! them: `generations.org_id` references `organizations`, and
//! `thumbnails.generation_id` references `generations`, both `ON DELETE
//! CASCADE` as before migration 10 dropped them (docs/decisions.md,
//! "Integrity in the schema on both backends").
//!
//! Safe on a populated database. Each key is added `NOT VALID`, which
//! checks only rows written from then on, and then validated by one scan.
//! Before that scan, rows the dropped keys would have removed are removed:
//! thumbnails whose generation no longer exists, which no query can reach
//! (every read goes through the generation). Organizations are never
//! deleted, so no generation lacks one; if one did, the validation would
//! fail and name the key, and the migration would change nothing.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

const UP: &str = "\
    ALTER TABLE generations ADD CONSTRAINT generations_org_id_fkey \
        FOREIGN KEY (org_id) REFERENCES organizations (id) ON DELETE CASCADE NOT VALID; \
    ALTER TABLE thumbnails ADD CONSTRAINT thumbnails_generation_id_fkey \
        FOREIGN KEY (generation_id) REFERENCES generations (id) ON DELETE CASCADE NOT VALID; \
    DELETE FROM thumbnails t \
        WHERE NOT EXISTS (SELECT 1 FROM generations g WHERE g.id = t.generation_id); \
    ALTER TABLE generations VALIDATE CONSTRAINT generations_org_id_fkey; \
    ALTER TABLE thumbnails VALIDATE CONSTRAINT thumbnails_generation_id_fkey";

const DOWN: &str = "\
    ALTER TABLE thumbnails DROP CONSTRAINT IF EXISTS thumbnails_generation_id_fkey; \
    ALTER TABLE generations DROP CONSTRAINT IF EXISTS generations_org_id_fkey";

fn postgres(manager: &SchemaManager) -> bool {
    manager.get_database_backend() == sea_orm_migration::sea_orm::DbBackend::Postgres
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if postgres(manager) {
            manager.get_connection().execute_unprepared(UP).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if postgres(manager) {
            manager.get_connection().execute_unprepared(DOWN).await?;
        }
        Ok(())
    }
}
