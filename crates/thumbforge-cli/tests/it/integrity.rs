//! The schema keeps generations and thumbnails whole on both backends: a
//! thumbnail cannot point at a missing generation, and deleting a
//! generation deletes its thumbnails. On PostgreSQL the keys came back in
//! migration 11, on databases that had run without them.

use std::time::Duration;

use sea_orm::{ConnectionTrait, Statement};
use thumbforge_core::{ModelId, Plan};
use thumbforge_db::{Db, generations, orgs};
use thumbforge_migration::{Migrator, MigratorTrait};

use crate::helpers::{direct_request, test_settings};

async fn execute(db: &Db, sql: &str) -> Result<u64, sea_orm::DbErr> {
    db.conn()
        .execute_raw(Statement::from_string(
            db.conn().get_database_backend(),
            sql,
        ))
        .await
        .map(|r| r.rows_affected())
}

async fn count(db: &Db, sql: &str) -> i64 {
    let row = db
        .conn()
        .query_one_raw(Statement::from_string(
            db.conn().get_database_backend(),
            sql,
        ))
        .await
        .expect("query")
        .expect("a row");
    row.try_get_by_index::<i64>(0).expect("a count")
}

#[tokio::test]
async fn the_keys_hold_and_come_back_on_a_populated_database() {
    let dir = tempfile::tempdir().expect("temp dir");
    let settings = test_settings(dir.path());
    let db = Db::connect(&settings.database_url(), 2, Duration::from_secs(10))
        .await
        .expect("connects");
    // The schema as migration 10 left it: on PostgreSQL, without the keys.
    Migrator::up(db.conn(), Some(10)).await.expect("up to 10");
    let org = orgs::ensure(&db, "whole", Some(Plan::Pro))
        .await
        .expect("org");
    let kept = generations::create(
        &db,
        &org.id,
        Plan::Pro,
        ModelId::Local,
        &direct_request("kept", 2),
    )
    .await
    .expect("kept");
    let gone = generations::create(
        &db,
        &org.id,
        Plan::Pro,
        ModelId::Local,
        &direct_request("gone", 2),
    )
    .await
    .expect("gone");
    // Deleting a generation row alone: on PostgreSQL, without keys, its
    // thumbnails stay behind, unreachable; SQLite's keys cascade.
    execute(
        &db,
        &format!(
            "DELETE FROM generations WHERE id = '{}'",
            gone.generation.id
        ),
    )
    .await
    .expect("delete");

    db.migrate()
        .await
        .expect("the rest, on a populated database");

    let thumbnails_of =
        |id: &str| format!("SELECT COUNT(*) FROM thumbnails WHERE generation_id = '{id}'");
    assert_eq!(count(&db, &thumbnails_of(&gone.generation.id)).await, 0);
    assert_eq!(count(&db, &thumbnails_of(&kept.generation.id)).await, 2);
    // A thumbnail cannot point at a missing generation…
    let dangling = execute(
        &db,
        &format!(
            "UPDATE thumbnails SET generation_id = 'gen_missing' WHERE generation_id = '{}'",
            kept.generation.id
        ),
    )
    .await;
    assert!(dangling.is_err(), "a thumbnail was moved to no generation");
    // …nor a generation at a missing organization…
    let orphan = execute(
        &db,
        &format!(
            "UPDATE generations SET org_id = 'org_missing' WHERE id = '{}'",
            kept.generation.id
        ),
    )
    .await;
    assert!(orphan.is_err(), "a generation was moved to no organization");
    // …and a generation's thumbnails go with it.
    execute(
        &db,
        &format!(
            "DELETE FROM generations WHERE id = '{}'",
            kept.generation.id
        ),
    )
    .await
    .expect("delete");
    assert_eq!(count(&db, &thumbnails_of(&kept.generation.id)).await, 0);
}
