//! The schema keeps generations and thumbnails whole on both backends: a
//! thumbnail cannot point at a missing generation, and deleting a
//! generation deletes its thumbnails. On PostgreSQL the keys came back in
//! migration 11, on databases that had run without them.

use std::time::Duration;

use sea_orm::{ConnectionTrait, Statement};
use thumbforge_core::Plan;
use thumbforge_db::{Db, orgs};
use thumbforge_migration::{Migrator, MigratorTrait};

use crate::helpers::test_settings;

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

/// A generation of two processing thumbnails, in the columns migration 10
/// knew.
async fn old_generation(db: &Db, org_id: &str, id: &str) -> String {
    execute(
        db,
        &format!(
            "INSERT INTO generations (id, org_id, prompt, model, count, aspect_ratio, person_ids, \
             inspiration_ids, status, created_at, updated_at, reference_urls, provider_used, \
             credits_consumed) VALUES ('{id}', '{org_id}', 'old', 'local', 2, '16:9', '[]', '[]', \
             'processing', 0, 0, '[]', 'local', 0)"
        ),
    )
    .await
    .expect("generation");
    for idx in 0..2 {
        execute(
            db,
            &format!(
                "INSERT INTO thumbnails (id, generation_id, org_id, idx, status, is_watermarked, \
                 is_hidden, attempts, created_at) VALUES ('thm_{id}_{idx}', '{id}', '{org_id}', \
                 {idx}, 'processing', false, false, 0, 0)"
            ),
        )
        .await
        .expect("thumbnail");
    }
    id.to_owned()
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
    // Written as rows of that schema, not through today's code.
    let kept = old_generation(&db, &org.id, "gen_kept").await;
    let gone = old_generation(&db, &org.id, "gen_gone").await;
    // Deleting a generation row alone: on PostgreSQL, without keys, its
    // thumbnails stay behind, unreachable; SQLite's keys cascade.
    execute(
        &db,
        &format!("DELETE FROM generations WHERE id = '{}'", gone),
    )
    .await
    .expect("delete");

    db.migrate()
        .await
        .expect("the rest, on a populated database");

    let thumbnails_of =
        |id: &str| format!("SELECT COUNT(*) FROM thumbnails WHERE generation_id = '{id}'");
    assert_eq!(count(&db, &thumbnails_of(&gone)).await, 0);
    assert_eq!(count(&db, &thumbnails_of(&kept)).await, 2);
    // A thumbnail cannot point at a missing generation…
    let dangling = execute(
        &db,
        &format!(
            "UPDATE thumbnails SET generation_id = 'gen_missing' WHERE generation_id = '{}'",
            kept
        ),
    )
    .await;
    assert!(dangling.is_err(), "a thumbnail was moved to no generation");
    // …nor a generation at a missing organization…
    let orphan = execute(
        &db,
        &format!(
            "UPDATE generations SET org_id = 'org_missing' WHERE id = '{}'",
            kept
        ),
    )
    .await;
    assert!(orphan.is_err(), "a generation was moved to no organization");
    // …and a generation's thumbnails go with it.
    execute(
        &db,
        &format!("DELETE FROM generations WHERE id = '{}'", kept),
    )
    .await
    .expect("delete");
    assert_eq!(count(&db, &thumbnails_of(&kept)).await, 0);
}
