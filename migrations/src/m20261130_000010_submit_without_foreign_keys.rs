//! The submit's rows without foreign-key checks, on PostgreSQL.
//!
//! Every submit inserts a generation and its thumbnails. Each of those
//! rows ran a foreign-key check: a lookup of its organization or
//! generation, which also locks that row `FOR KEY SHARE`. The checks were
//! a fifth of PostgreSQL's work per submit (docs/decisions.md, "The
//! submit's rows carry no foreign keys"), and they guard nothing the code
//! does not already keep:
//!
//! - a thumbnail is inserted only in the statement that inserts its
//!   generation;
//! - a generation's organization is the caller's, found by its API key,
//!   and organizations are never deleted;
//! - `generations::delete_for_org` deletes a generation's thumbnails
//!   itself, in the transaction that deletes the generation.
//!
//! SQLite keeps both constraints: it cannot drop one without rebuilding
//! the table, and the embedded server does not need the speed.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

const DROP: &str = "ALTER TABLE thumbnails DROP CONSTRAINT IF EXISTS thumbnails_generation_id_fkey; \
     ALTER TABLE generations DROP CONSTRAINT IF EXISTS generations_org_id_fkey";

const RESTORE: &str = "ALTER TABLE generations ADD CONSTRAINT generations_org_id_fkey \
     FOREIGN KEY (org_id) REFERENCES organizations (id) ON DELETE CASCADE; \
     ALTER TABLE thumbnails ADD CONSTRAINT thumbnails_generation_id_fkey \
     FOREIGN KEY (generation_id) REFERENCES generations (id) ON DELETE CASCADE";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() != sea_orm_migration::sea_orm::DbBackend::Postgres {
            return Ok(());
        }
        manager.get_connection().execute_unprepared(DROP).await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() != sea_orm_migration::sea_orm::DbBackend::Postgres {
            return Ok(());
        }
        manager.get_connection().execute_unprepared(RESTORE).await?;
        Ok(())
    }
}
