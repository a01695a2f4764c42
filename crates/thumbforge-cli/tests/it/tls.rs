//! The database over TLS: the pool (sqlx) follows `sslmode`. These tests
//! start a private PostgreSQL with a certificate from a CA made for the
//! test (thumbforge-testkit, rcgen).

use reqwest::Method;
use std::time::Duration;

use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair};
use sea_orm::{ConnectionTrait, Statement};
use serde_json::json;
use thumbforge_core::{ModelId, Plan};
use thumbforge_db::{Db, generations, orgs};
use thumbforge_testkit::PgServer;

use crate::helpers::{TestApp, direct_request, wait_terminal};

/// A CA, and a server certificate it signed for `names`.
struct Pki {
    ca_pem: String,
    server_pem: String,
    server_key_pem: String,
}

fn pki(names: &[&str]) -> Pki {
    let ca_key = KeyPair::generate().expect("CA key");
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca = ca_params.self_signed(&ca_key).expect("CA certificate");
    let issuer = Issuer::new(ca_params, ca_key);
    let server_key = KeyPair::generate().expect("server key");
    let names: Vec<String> = names.iter().map(|n| (*n).to_owned()).collect();
    let server = CertificateParams::new(names)
        .expect("server params")
        .signed_by(&server_key, &issuer)
        .expect("server certificate");
    Pki {
        ca_pem: ca.pem(),
        server_pem: server.pem(),
        server_key_pem: server_key.serialize_pem(),
    }
}

/// Whether the connections named `application` are encrypted (one value
/// per connection).
async fn encrypted(db: &Db, application: &str) -> Vec<bool> {
    let rows = db
        .conn()
        .query_all_raw(Statement::from_sql_and_values(
            db.conn().get_database_backend(),
            "SELECT s.ssl FROM pg_stat_ssl s JOIN pg_stat_activity a USING (pid) \
             WHERE a.application_name = $1",
            [application.into()],
        ))
        .await
        .expect("pg_stat_ssl");
    rows.iter()
        .map(|r| r.try_get::<bool>("", "ssl").expect("ssl column"))
        .collect()
}

#[tokio::test]
async fn the_pool_follows_sslmode() {
    let trusted = pki(&["localhost"]);
    let stranger = pki(&["localhost"]);
    let pg = PgServer::start_with_tls(&trusted.server_pem, &trusted.server_key_pem)
        .expect("private postgres with TLS");
    let dir = tempfile::tempdir().expect("dir");
    let ca = dir.path().join("ca.pem");
    let other_ca = dir.path().join("other-ca.pem");
    std::fs::write(&ca, &trusted.ca_pem).expect("write CA");
    std::fs::write(&other_ca, &stranger.ca_pem).expect("write CA");

    let db = Db::connect(&pg.url("postgres"), 2, Duration::from_secs(5))
        .await
        .expect("plain connection");
    db.migrate().await.expect("migrate");
    let org = orgs::ensure(&db, "tls", Some(Plan::Pro))
        .await
        .expect("org");

    let (ca, other_ca) = (ca.display(), other_ca.display());
    let port = pg.port();
    let cases = [
        // (host, query, connects, encrypted)
        ("127.0.0.1", "sslmode=disable".to_owned(), true, false),
        ("127.0.0.1", "sslmode=prefer".to_owned(), true, true),
        ("127.0.0.1", "sslmode=require".to_owned(), true, true),
        (
            "localhost",
            format!("sslmode=verify-full&sslrootcert={ca}"),
            true,
            true,
        ),
        // The certificate names localhost, not 127.0.0.1: verify-ca does
        // not mind, verify-full does.
        (
            "127.0.0.1",
            format!("sslmode=verify-ca&sslrootcert={ca}"),
            true,
            true,
        ),
        (
            "127.0.0.1",
            format!("sslmode=verify-full&sslrootcert={ca}"),
            false,
            false,
        ),
        // Signed by a CA the client does not trust.
        (
            "localhost",
            format!("sslmode=verify-ca&sslrootcert={other_ca}"),
            false,
            false,
        ),
    ];
    for (i, (host, query, connects, tls)) in cases.into_iter().enumerate() {
        let application = format!("tls-case-{i}");
        let url = format!(
            "postgres://postgres@{host}:{port}/postgres?{query}&application_name={application}"
        );
        let mut request = direct_request(&format!("over tls {i}"), 2);
        if i % 2 == 0 {
            request.title = Some(thumbforge_core::Title::parse("A title").expect("title"));
        }
        let view = generations::build(&org.id, Plan::Pro, ModelId::TEST, 1, &request);
        let pool = Db::connect(&url, 1, Duration::from_secs(5)).await;
        let result = match &pool {
            Ok(pool) => generations::create_batch(pool, std::slice::from_ref(&view), &[false])
                .await
                .map(|_| ()),
            Err(e) => Err(e.clone()),
        };
        if !connects {
            let error = result.expect_err(&url);
            assert!(error.is_unavailable(), "{url}: {error}");
            continue;
        }
        result.unwrap_or_else(|e| panic!("{url}: {e}"));
        let stored = generations::find_for_org(&db, &org.id, &view.generation.id)
            .await
            .expect("read")
            .expect("stored");
        assert_eq!(stored.generation.title, view.generation.title, "{url}");
        assert_eq!(stored.generation.webhook_url, None, "{url}");
        assert_eq!(stored.thumbnails.len(), 2, "{url}");
        assert_eq!(encrypted(&db, &application).await, vec![tls], "{url}");
    }
}

#[tokio::test]
async fn the_app_runs_on_a_database_it_must_verify() {
    let trusted = pki(&["localhost"]);
    let pg = PgServer::start_with_tls(&trusted.server_pem, &trusted.server_key_pem)
        .expect("private postgres with TLS");
    let dir = tempfile::tempdir().expect("dir");
    let ca = dir.path().join("ca.pem");
    std::fs::write(&ca, &trusted.ca_pem).expect("write CA");
    let url = format!(
        "postgres://postgres@localhost:{}/postgres?sslmode=verify-full&sslrootcert={}&application_name=tls-app",
        pg.port(),
        ca.display()
    );
    let app = TestApp::spawn_with(|s| s.database.url = Some(url)).await;
    let response = app
        .send(
            Method::POST,
            "/api/v1/generate",
            &app.key,
            Some(&json!({"prompt": "over tls", "model": "test", "count": 2})),
        )
        .await;
    assert_eq!(response.status().as_u16(), 202);
    let body: serde_json::Value = response.json().await.expect("json");
    let id = body["generationId"].as_str().expect("id");
    let done = wait_terminal(
        &app.client,
        &app.address,
        &app.key,
        id,
        Duration::from_secs(60),
    )
    .await;
    assert_eq!(done["status"], "succeeded", "{done}");
    // The pools of the API and the worker, the submitter's among them.
    let pools = encrypted(app.db(), "tls-app").await;
    assert!(
        pools.len() >= 2 && pools.iter().all(|tls| *tls),
        "{pools:?}"
    );
}
