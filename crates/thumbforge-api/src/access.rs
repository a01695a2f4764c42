//! What every request passes on its way in and out, before and after any
//! handler: a URL holding U+0000 is refused (PostgreSQL cannot store it,
//! SQLite can, so both backends refuse it here alike), and one access-log
//! line is written with the credentials in its query string redacted.
//!
//! The line is an event with fields (`http.method`, `http.route`,
//! `http.status`, `duration_ms`, `http.url`, `org.id`, `resource.id`), so
//! with `log.json` each of them is a JSON field of its own.

use actix_web::http::{Method, Uri};

/// The tracing target of the access log (`RUST_LOG=thumbforge::http=off`
/// turns it off).
pub const TARGET: &str = "thumbforge::http";

/// The organisation a request was authenticated as, for the access log.
#[derive(Debug, Clone)]
pub struct LoggedOrg(pub String);

/// Query parameters whose values are credentials. Matched without regard to
/// case; S3-style presigned parameters included.
const SECRET_PARAMS: &[&str] = &[
    "sig",
    "signature",
    "token",
    "access_token",
    "api_key",
    "apikey",
    "key",
    "secret",
    "password",
    "x-api-key",
    "x-amz-signature",
    "x-amz-credential",
    "x-amz-security-token",
];

/// Whether the path or the query holds a percent-encoded NUL (`%00`). A raw
/// 0x00 byte never gets this far: the HTTP parser refuses it.
pub fn uri_has_nul(uri: &Uri) -> bool {
    let target = uri.path_and_query().map_or("", |pq| pq.as_str());
    target.as_bytes().windows(3).any(|w| w == b"%00")
}

/// The path and query with each credential's value replaced by `REDACTED`.
pub fn redacted_target(uri: &Uri) -> String {
    let path = uri.path();
    let Some(query) = uri.query() else {
        return path.to_owned();
    };
    let mut out = String::with_capacity(path.len() + 1 + query.len());
    out.push_str(path);
    out.push('?');
    for (i, pair) in query.split('&').enumerate() {
        if i > 0 {
            out.push('&');
        }
        match pair.split_once('=') {
            Some((name, _)) if is_secret(name) => {
                out.push_str(name);
                out.push_str("=REDACTED");
            }
            _ => out.push_str(pair),
        }
    }
    out
}

fn is_secret(name: &str) -> bool {
    let decoded = percent_encoding::percent_decode_str(name).decode_utf8_lossy();
    SECRET_PARAMS
        .iter()
        .any(|secret| decoded.eq_ignore_ascii_case(secret))
}

/// One access-log line.
pub struct Line<'a> {
    pub method: &'a Method,
    pub route: &'a str,
    pub uri: &'a Uri,
    pub status: u16,
    pub duration_ms: f64,
    pub org: Option<&'a str>,
    pub resource: Option<&'a str>,
}

impl Line<'_> {
    pub fn emit(&self) {
        tracing::info!(
            target: TARGET,
            duration_ms = self.duration_ms,
            http.method = %self.method,
            http.route = self.route,
            http.status = self.status,
            http.url = %redacted_target(self.uri),
            org.id = self.org,
            resource.id = self.resource,
            "request"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn uri(s: &str) -> Uri {
        s.parse().expect("uri")
    }

    #[test]
    fn credentials_in_the_query_are_redacted() {
        assert_eq!(
            redacted_target(&uri("/files/a.png?exp=17&sig=abcdef")),
            "/files/a.png?exp=17&sig=REDACTED"
        );
        assert_eq!(
            redacted_target(&uri("/api/v1/generations?API_KEY=tf_live_x&limit=5")),
            "/api/v1/generations?API_KEY=REDACTED&limit=5"
        );
        assert_eq!(
            redacted_target(&uri("/x?api%5Fkey=secret&X-Amz-Signature=s&flag")),
            "/x?api%5Fkey=REDACTED&X-Amz-Signature=REDACTED&flag"
        );
        assert_eq!(redacted_target(&uri("/healthz")), "/healthz");
        assert_eq!(
            redacted_target(&uri("/api/v1/generations?model=local")),
            "/api/v1/generations?model=local"
        );
    }

    #[test]
    fn an_encoded_nul_anywhere_in_the_url_is_found() {
        assert!(uri_has_nul(&uri("/api/v1/generations?model=a%00b")));
        assert!(uri_has_nul(&uri("/api/v1/generations/gen_%00")));
        assert!(!uri_has_nul(&uri("/api/v1/generations?model=%20%0A")));
        assert!(!uri_has_nul(&uri("/api/v1/generations?n=100")));
    }
}
