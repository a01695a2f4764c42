//! The submit insert on a PostgreSQL driver of its own (tokio-postgres).
//!
//! Every accepted `POST /generate` ends in one statement, the batched
//! insert of [`crate::generations`]. Through sqlx each batch waits for its
//! commit before the next can go out on the connection, so with one store
//! runner PostgreSQL sits idle for the answer's round trip, and two
//! runners on two connections cost PostgreSQL more per submit. A
//! tokio-postgres client pipelines: two batches can be in flight on one
//! connection, each its own implicit transaction, and the server starts
//! the second as soon as the first commits (docs/decisions.md, "A second
//! PostgreSQL driver for the submit insert", has the measurements).
//!
//! Only the unmetered insert runs here; a batch that debits credits keeps
//! its transaction on sea-orm. The connection string is read by sqlx's own
//! parser (so environment defaults such as `PGUSER` apply as they do to
//! the pool), and TLS follows `sslmode` the way sqlx does, on the same
//! rustls: `prefer` and `require` encrypt without checking the
//! certificate, `verify-ca` checks it against `sslrootcert` (or the
//! webpki roots), and `verify-full` checks the host name too. What this
//! driver does not carry over (client certificates, `sslmode=allow`, a
//! password only in a pgpass file) makes [`PgInserter::for_url`] decline,
//! and the submitter stays on sea-orm. In `pg_stat_activity` the
//! connection is named after the URL's `application_name` with `:submit`
//! added (`thumbforge:submit` when the URL names none).

use std::{path::Path, str::FromStr, sync::Arc, time::Duration};

use rustls::{
    ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme,
    client::{
        WebPkiServerVerifier,
        danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier},
    },
    crypto::CryptoProvider,
    pki_types::{CertificateDer, ServerName, UnixTime, pem::PemObject},
};
use sea_orm::sqlx::postgres::{PgConnectOptions, PgSslMode};
use tokio_postgres::{Client, Statement, config::SslMode, types::ToSql};
use tokio_postgres_rustls::MakeRustlsConnect;
use tracing::warn;

use crate::{
    DbError,
    error::is_outage_code,
    generations::{Column, GenerationView, INSERT_MANY_PG, insert_columns},
};

/// The batched insert on one tokio-postgres connection, opened on first
/// use and again after it drops (a database restart, say). Callers may
/// run inserts concurrently: they share the connection, pipelined.
pub struct PgInserter {
    config: tokio_postgres::Config,
    tls: MakeRustlsConnect,
    connect_timeout: Duration,
    live: tokio::sync::Mutex<Option<Arc<Live>>>,
}

impl std::fmt::Debug for PgInserter {
    /// Leaves the configuration out: it holds the password.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgInserter")
            .field("connect_timeout", &self.connect_timeout)
            .finish_non_exhaustive()
    }
}

/// An open connection and the insert prepared on it.
struct Live {
    client: Client,
    insert: Statement,
}

impl PgInserter {
    /// An inserter for the PostgreSQL at `url`, or why this driver cannot
    /// connect the way the sea-orm pool would (the caller then stays on
    /// sea-orm). Connects lazily: the database may be down now.
    pub fn for_url(url: &str, connect_timeout: Duration) -> Result<PgInserter, String> {
        let parsed = url::Url::parse(url).map_err(|e| e.to_string())?;
        if !matches!(parsed.scheme(), "postgres" | "postgresql") {
            return Err("not a PostgreSQL URL".to_owned());
        }
        let options = PgConnectOptions::from_str(url).map_err(|e| e.to_string())?;
        let query = |keys: &[&str]| {
            parsed
                .query_pairs()
                .filter(|(k, _)| keys.contains(&k.as_ref()))
                .last()
                .map(|(_, v)| v.into_owned())
        };
        let setting = |keys: &[&str], env: &str| query(keys).or_else(|| std::env::var(env).ok());
        if setting(&["sslcert", "ssl-cert"], "PGSSLCERT").is_some()
            || setting(&["sslkey", "ssl-key"], "PGSSLKEY").is_some()
        {
            return Err("client certificates are not supported here".to_owned());
        }
        // As sqlx: a `password` parameter, else the URL's, else PGPASSWORD.
        let url_password = match parsed.password() {
            Some(p) => Some(
                percent_encoding::percent_decode_str(p)
                    .decode_utf8()
                    .map_err(|e| e.to_string())?
                    .into_owned(),
            ),
            None => None,
        };
        let password = query(&["password"])
            .or(url_password)
            .or_else(|| std::env::var("PGPASSWORD").ok());
        if password.is_none() && pgpass_exists() {
            return Err("a password from a pgpass file is not supported here".to_owned());
        }

        let mut config = tokio_postgres::Config::new();
        match options.get_socket() {
            Some(dir) => config.host_path(dir),
            None => config.host(options.get_host()),
        };
        config
            .port(options.get_port())
            .user(options.get_username())
            .connect_timeout(connect_timeout);
        if let Some(password) = password {
            config.password(password);
        }
        if let Some(database) = options.get_database() {
            config.dbname(database);
        }
        // Named apart from the pool's connections in pg_stat_activity.
        config.application_name(&match options.get_application_name() {
            Some(name) => format!("{name}:submit"),
            None => "thumbforge:submit".to_owned(),
        });
        if let Some(server_options) = options.get_options() {
            config.options(server_options);
        }
        let mode = options.get_ssl_mode();
        config.ssl_mode(match mode {
            PgSslMode::Disable => SslMode::Disable,
            PgSslMode::Prefer => SslMode::Prefer,
            PgSslMode::Require | PgSslMode::VerifyCa | PgSslMode::VerifyFull => SslMode::Require,
            PgSslMode::Allow => return Err("sslmode=allow is not supported here".to_owned()),
        });
        let root = setting(&["sslrootcert", "ssl-root-cert", "ssl-ca"], "PGSSLROOTCERT");
        let tls = MakeRustlsConnect::new(tls_config(mode, root.as_deref())?);
        Ok(PgInserter {
            config,
            tls,
            connect_timeout,
            live: tokio::sync::Mutex::new(None),
        })
    }

    /// Inserts `views` and their thumbnails in one statement (one
    /// implicit transaction): committed when this returns `Ok`, because
    /// tokio-postgres returns only at the `ReadyForQuery` that follows
    /// the commit (a failed commit's error comes before it).
    pub async fn insert(&self, views: &[GenerationView]) -> Result<(), DbError> {
        if views.is_empty() {
            return Ok(());
        }
        let live = self.live().await?;
        let columns = insert_columns(views);
        let params: Vec<&(dyn ToSql + Sync)> = columns.iter().map(Column::as_sql).collect();
        // A connection that dropped under this insert is replaced by the
        // next call to `live`, which never hands out a closed one.
        match live.client.execute(&live.insert, &params).await {
            Ok(_) => Ok(()),
            Err(e) => Err(driver_error(&e, false)),
        }
    }

    /// The open connection, or a new one in place of one that closed (one
    /// caller connects; the others wait for it).
    async fn live(&self) -> Result<Arc<Live>, DbError> {
        let mut current = self.live.lock().await;
        if let Some(live) = current.as_ref().filter(|l| !l.client.is_closed()) {
            return Ok(live.clone());
        }
        *current = None;
        let live = tokio::time::timeout(self.connect_timeout, self.connect())
            .await
            .map_err(|_| DbError::Driver {
                message: "connecting timed out".to_owned(),
                unavailable: true,
            })??;
        let live = Arc::new(live);
        *current = Some(live.clone());
        Ok(live)
    }

    async fn connect(&self) -> Result<Live, DbError> {
        let (client, connection) = self
            .config
            .connect(self.tls.clone())
            .await
            .map_err(|e| driver_error(&e, true))?;
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                warn!(error = %e, "the submit insert's connection ended");
            }
        });
        let insert = client
            .prepare(INSERT_MANY_PG)
            .await
            .map_err(|e| driver_error(&e, true))?;
        Ok(Live { client, insert })
    }
}

impl Column<'_> {
    fn as_sql(&self) -> &(dyn ToSql + Sync) {
        match self {
            Column::Text(v) => v,
            Column::Int(v) => v,
            Column::BigInt(v) => v,
            Column::Bool(v) => v,
        }
    }
}

/// A database error keeps its SQLSTATE's meaning (see `is_outage_code`);
/// a closed connection, and while `connecting` anything but a database
/// error (refused, reset, TLS), is an outage.
fn driver_error(e: &tokio_postgres::Error, connecting: bool) -> DbError {
    let unavailable = match e.code() {
        Some(code) => is_outage_code(code.code()),
        None => connecting || e.is_closed() || has_io_source(e),
    };
    let message = match e.as_db_error() {
        Some(db) => db.to_string(),
        None => {
            let cause = std::error::Error::source(e).map(ToString::to_string);
            cause.map_or_else(|| e.to_string(), |cause| format!("{e}: {cause}"))
        }
    };
    DbError::Driver {
        message,
        unavailable,
    }
}

fn has_io_source(e: &tokio_postgres::Error) -> bool {
    let mut source = std::error::Error::source(e);
    while let Some(inner) = source {
        if inner.is::<std::io::Error>() {
            return true;
        }
        source = inner.source();
    }
    false
}

/// Whether libpq's password file would be read for a password.
fn pgpass_exists() -> bool {
    match std::env::var_os("PGPASSFILE") {
        Some(path) => Path::new(&path).exists(),
        None => {
            std::env::var_os("HOME").is_some_and(|home| Path::new(&home).join(".pgpass").exists())
        }
    }
}

/// The rustls client setup for `mode`, as sqlx builds it: no certificate
/// check below `verify-ca`; roots from `root` (a PEM file, or PEM text)
/// or else the webpki roots.
fn tls_config(mode: PgSslMode, root: Option<&str>) -> Result<ClientConfig, String> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?;
    let verify = matches!(mode, PgSslMode::VerifyCa | PgSslMode::VerifyFull);
    if !verify {
        return Ok(builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(Lenient {
                provider,
                chain: None,
            }))
            .with_no_client_auth());
    }
    let mut roots = RootCertStore::empty();
    match root {
        Some(pem) => {
            let certs: Result<Vec<_>, _> = if pem.starts_with("-----BEGIN") {
                CertificateDer::pem_slice_iter(pem.as_bytes()).collect()
            } else {
                CertificateDer::pem_file_iter(pem)
                    .map_err(|e| format!("sslrootcert {pem}: {e}"))?
                    .collect()
            };
            for cert in certs.map_err(|e| format!("sslrootcert: {e}"))? {
                roots.add(cert).map_err(|e| format!("sslrootcert: {e}"))?;
            }
        }
        None => roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned()),
    }
    let chain = WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider.clone())
        .build()
        .map_err(|e| e.to_string())?;
    if matches!(mode, PgSslMode::VerifyFull) {
        return Ok(builder.with_webpki_verifier(chain).with_no_client_auth());
    }
    Ok(builder
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(Lenient {
            provider,
            chain: Some(chain),
        }))
        .with_no_client_auth())
}

/// Below `verify-full`: with no `chain`, any certificate will do
/// (`prefer`, `require`); with one, the certificate must lead to a
/// trusted root but need not name the host (`verify-ca`). Either way the
/// handshake's signatures are checked.
#[derive(Debug)]
struct Lenient {
    provider: Arc<CryptoProvider>,
    chain: Option<Arc<WebPkiServerVerifier>>,
}

impl ServerCertVerifier for Lenient {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        use rustls::{CertificateError, Error};
        let Some(chain) = &self.chain else {
            return Ok(ServerCertVerified::assertion());
        };
        match chain.verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now) {
            Err(Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        let algorithms = &self.provider.signature_verification_algorithms;
        rustls::crypto::verify_tls12_signature(message, cert, dss, algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        let algorithms = &self.provider.signature_verification_algorithms;
        rustls::crypto::verify_tls13_signature(message, cert, dss, algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECOND: Duration = Duration::from_secs(1);

    #[test]
    fn reads_what_the_pool_reads() {
        let inserter = PgInserter::for_url(
            "postgres://app:p%40ss@db.internal:6543/thumbs?sslmode=require&application_name=api",
            SECOND,
        )
        .expect("supported");
        let config = &inserter.config;
        assert_eq!(config.get_user(), Some("app"));
        assert_eq!(config.get_password(), Some(&b"p@ss"[..]));
        assert_eq!(config.get_dbname(), Some("thumbs"));
        assert_eq!(config.get_ports(), &[6543]);
        assert_eq!(config.get_application_name(), Some("api:submit"));
        assert_eq!(config.get_ssl_mode(), SslMode::Require);
        assert!(matches!(
            config.get_hosts(),
            [tokio_postgres::config::Host::Tcp(h)] if h == "db.internal"
        ));
    }

    #[test]
    fn a_socket_directory_is_a_unix_host() {
        let inserter = PgInserter::for_url(
            "postgres://postgres@localhost/test?host=/var/run/postgresql&sslmode=disable",
            SECOND,
        )
        .expect("supported");
        assert!(matches!(
            inserter.config.get_hosts(),
            [tokio_postgres::config::Host::Unix(p)] if p == Path::new("/var/run/postgresql")
        ));
        assert_eq!(inserter.config.get_ssl_mode(), SslMode::Disable);
    }

    #[test]
    fn declines_what_it_cannot_carry_over() {
        for url in [
            "postgres://u@h/d?sslmode=allow",
            "postgres://u@h/d?sslcert=/c.pem&sslkey=/k.pem",
            "postgres://u@h/d?sslmode=verify-full&sslrootcert=/nowhere/root.pem",
            "mysql://u@h/d",
        ] {
            assert!(PgInserter::for_url(url, SECOND).is_err(), "{url}");
        }
    }

    #[test]
    fn verifying_modes_build_their_verifiers() {
        for mode in ["verify-ca", "verify-full"] {
            let url = format!("postgres://u@h/d?sslmode={mode}");
            assert!(PgInserter::for_url(&url, SECOND).is_ok(), "{url}");
        }
    }

    #[tokio::test]
    async fn an_unreachable_database_is_unavailable() {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .expect("bind")
            .local_addr()
            .expect("addr")
            .port();
        // Nothing listens there once the listener is dropped.
        let url = format!("postgres://u@127.0.0.1:{port}/d?sslmode=disable");
        let inserter = PgInserter::for_url(&url, SECOND).expect("supported");
        let error = inserter.live().await.err().expect("nothing to connect to");
        assert!(error.is_unavailable(), "{error}");
    }
}
