//! Requests an attacker would send, on whichever backend the suite runs:
//! hostile images, strings, URLs and headers. Each must end in a 4xx with a
//! code, or a failed thumbnail with a clear error; nothing may be fetched
//! from a non-public address; and the server must stay healthy after it.

use std::time::Duration;

use reqwest::header::HeaderValue;
use serde_json::{Value, json};
use wiremock::{
    Mock, MockServer, ResponseTemplate,
    matchers::{method, path},
};

use crate::{
    helpers::{TestApp, upload_asset, wait_terminal},
    recovery::{keys_create, spawn_serve_with},
};

const MIB: usize = 1024 * 1024;

/// The peak resident memory of process `pid` (VmHWM), in bytes.
fn peak_rss(pid: u32) -> usize {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("/proc status");
    let kib: usize = status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmHWM");
    kib * 1024
}

async fn assert_healthy(client: &reqwest::Client, base: &str, key: &str) {
    let health = client
        .get(format!("{base}/healthz"))
        .send()
        .await
        .expect("healthz");
    assert_eq!(health.status(), 200);
    let listed = client
        .get(format!("{base}/api/v1/generations?limit=1"))
        .bearer_auth(key)
        .send()
        .await
        .expect("list");
    assert_eq!(listed.status(), 200, "the server still answers");
}

/// The outside review's bomb, as three uploads at once and as a reference
/// URL, against the real `serve` binary in a process of its own, so its
/// peak memory is read from /proc without the test's own allocations.
#[tokio::test]
async fn chunk_bombs_stay_within_the_decode_budget() {
    let host = {
        let listener = std::net::TcpListener::bind("127.0.0.2:0").expect("bind 127.0.0.2");
        MockServer::builder().listener(listener).start().await
    };
    let bomb = thumbforge_testkit::chunk_bomb(256 * MIB);
    assert!(bomb.len() < 2 * MIB, "the bomb is {} bytes", bomb.len());
    Mock::given(method("GET"))
        .and(path("/bomb.png"))
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header("content-type", "image/png")
                .set_body_bytes(bomb.clone()),
        )
        .mount(&host)
        .await;

    let dir = tempfile::tempdir().expect("temp dir");
    let key = keys_create(dir.path());
    let budget = 64 * MIB;
    let (server, base) = spawn_serve_with(
        dir.path(),
        2,
        &[
            ("THUMBFORGE_REFERENCES__ALLOW_HTTP", "true".to_owned()),
            // A list from the environment, as Kubernetes sets it.
            (
                "THUMBFORGE_REFERENCES__ALLOW_CIDRS",
                "127.0.0.2/32, 127.0.0.3/32".to_owned(),
            ),
            (
                "THUMBFORGE_REFERENCES__MAX_DECODE_BYTES",
                budget.to_string(),
            ),
            ("THUMBFORGE_API__MAX_UPLOAD_BYTES", (4 * MIB).to_string()),
        ],
    );
    let client = reqwest::Client::new();
    // Warm up every path the bombs take with a harmless image.
    let plain = {
        let mut out = std::io::Cursor::new(Vec::new());
        image::DynamicImage::ImageRgb8(image::RgbImage::new(64, 64))
            .write_to(&mut out, image::ImageFormat::Png)
            .expect("png");
        out.into_inner()
    };
    assert_eq!(
        upload_asset(&client, &base, &key, "person", plain)
            .await
            .status(),
        201
    );
    let warm = client
        .post(format!("{base}/api/v1/generate"))
        .bearer_auth(&key)
        .json(&json!({"prompt": "warm up", "model": "local"}))
        .send()
        .await
        .expect("generate");
    let warm: Value = warm.json().await.expect("json");
    let warm_id = warm["generationId"].as_str().expect("id");
    let done = wait_terminal(&client, &base, &key, warm_id, Duration::from_secs(60)).await;
    assert_eq!(done["status"], "succeeded", "{done}");
    let before = peak_rss(server.0.id());

    // Three at once: each once cost the server a gigabyte.
    let uploads = futures::future::join_all(
        (0..3).map(|_| upload_asset(&client, &base, &key, "person", bomb.clone())),
    )
    .await;
    for response in uploads {
        assert_eq!(
            response.status(),
            201,
            "the pixels are fine; the chunks are skipped"
        );
        let asset: Value = response.json().await.expect("json");
        assert_eq!(
            (asset["width"].as_u64(), asset["height"].as_u64()),
            (Some(16), Some(16))
        );
    }
    let generation = client
        .post(format!("{base}/api/v1/generate"))
        .bearer_auth(&key)
        .json(&json!({
            "prompt": "bomb as reference",
            "model": "local",
            "referenceImageUrl": format!("{}/bomb.png", host.uri()),
        }))
        .send()
        .await
        .expect("generate");
    assert_eq!(generation.status(), 202);
    let generation: Value = generation.json().await.expect("json");
    let id = generation["generationId"].as_str().expect("id");
    let done = wait_terminal(&client, &base, &key, id, Duration::from_secs(60)).await;
    assert_eq!(done["status"], "succeeded", "{done}");

    let grown = peak_rss(server.0.id()).saturating_sub(before);
    assert!(
        grown < budget,
        "the server's peak memory grew by {:.0} MiB over a {} MiB decode budget",
        grown as f64 / MIB as f64,
        budget / MIB
    );
    assert_healthy(&client, &base, &key).await;
}

/// U+0000 wherever a string reaches the database, on every surface, and
/// bodies with data after their JSON value.
#[tokio::test]
async fn hostile_strings_get_a_4xx_with_a_code_on_every_surface() {
    let app = TestApp::spawn().await;
    let post = |path: &str, body: String| {
        app.client
            .post(format!("{}{path}", app.address))
            .bearer_auth(&app.key)
            .header("content-type", "application/json")
            .body(body)
            .send()
    };
    let nul = r"a\u0000b";
    let bodies = [
        ("/api/v1/generate", format!(r#"{{"prompt":"{nul}"}}"#)),
        (
            "/api/v1/generate",
            format!(r#"{{"prompt":"x","title":"{nul}"}}"#),
        ),
        (
            "/api/v1/generate",
            format!(r#"{{"prompt":"x","webhookUrl":"https://example.com/{nul}"}}"#),
        ),
        (
            "/api/v1/generate",
            format!(r#"{{"prompt":"x","personIds":["{nul}"]}}"#),
        ),
        ("/api/v1/styles", format!(r#"{{"name":"{nul}"}}"#)),
    ];
    for (path, body) in bodies {
        let response = post(path, body.clone()).await.expect("sent");
        assert_eq!(response.status(), 422, "{path} {body}");
        let problem: Value = response.json().await.expect("json");
        assert_eq!(problem["code"], "invalid_character", "{path} {body}");
    }
    let flokan = post(
        "/api/v1/thumbnail-generator/generate",
        format!(r#"{{"prompt":"{nul}","model":"standard"}}"#),
    )
    .await
    .expect("sent");
    assert_eq!(flokan.status(), 400, "Flokan answers validation with 400");
    let envelope: Value = flokan.json().await.expect("json");
    assert_eq!(
        (&envelope["success"], &envelope["code"]),
        (&json!(false), &json!("invalid_character"))
    );

    // Listing filters and path ids.
    for path in [
        "/api/v1/generations?model=a%00b",
        "/api/v1/generations?generationId=a%00b",
        "/api/v1/generations/gen_%00",
        "/api/v1/assets?kind=%00",
    ] {
        let (status, problem) = app.get_json(&app.key, path).await;
        assert_eq!(status, 422, "{path}");
        assert_eq!(problem["code"], "invalid_character", "{path}");
    }
    let (status, envelope) = app
        .get_json(
            &app.key,
            "/api/v1/thumbnail-generator/generations?model=%00",
        )
        .await;
    assert_eq!(
        (status, &envelope["code"]),
        (400, &json!("invalid_character"))
    );

    // MCP: the tool call is refused as JSON-RPC, with the same code.
    let mcp: Value = app
        .client
        .post(format!("{}/api/mcp", app.address))
        .bearer_auth(&app.key)
        .header("Accept", "application/json, text/event-stream")
        .json(&json!({
            "jsonrpc": "2.0", "id": 7, "method": "tools/call",
            "params": {"name": "generate_thumbnail", "arguments": {"prompt": "a\u{0}b"}}
        }))
        .send()
        .await
        .expect("sent")
        .json()
        .await
        .expect("json");
    assert_eq!(mcp["error"]["data"]["code"], "invalid_character", "{mcp}");

    // An upload's file name with a raw NUL in its part header: the
    // multipart parser refuses the part before the name is read.
    let boundary = "hostileboundary";
    let mut form = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"kind\"\r\n\r\nperson\r\n\
         --{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"face\u{0}.png\"\r\n\
         Content-Type: image/png\r\n\r\n"
    )
    .into_bytes();
    form.extend_from_slice(b"not an image\r\n");
    form.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    let response = app
        .client
        .post(format!("{}/api/v1/assets", app.address))
        .bearer_auth(&app.key)
        .header(
            "content-type",
            format!("multipart/form-data; boundary={boundary}"),
        )
        .body(form)
        .send()
        .await
        .expect("sent");
    let status = response.status();
    let problem: Value = response.json().await.expect("json");
    assert_eq!(
        (status.as_u16(), &problem["code"]),
        (422, &json!("invalid_multipart")),
        "{problem}"
    );

    // One body read two ways: a value, then more.
    for path in [
        "/api/v1/generate",
        "/api/v1/styles",
        "/api/v1/thumbnail-generator/generate",
    ] {
        let response = post(
            path,
            r#"{"prompt":"x","name":"n"} {"prompt":"y","count":4}"#.to_owned(),
        )
        .await
        .expect("sent");
        assert_eq!(response.status(), 400, "{path}");
        let body: Value = response.json().await.expect("json");
        assert_eq!(body["code"], "invalid_json", "{path}");
    }

    // Nothing was stored, and the server still serves.
    let (status, listed) = app.get_json(&app.key, "/api/v1/generations").await;
    assert_eq!(status, 200);
    assert_eq!(listed["data"].as_array().map(Vec::len), Some(0), "{listed}");
    let id = app
        .generate(&app.key, json!({"prompt": "still fine"}))
        .await;
    assert_eq!(
        app.wait_terminal(&app.key, &id).await["status"],
        "succeeded"
    );
}

/// IPv6 spellings of loopback and private IPv4 addresses: each is refused
/// before any connection, and says so.
#[tokio::test]
async fn hostile_urls_are_refused_before_any_connection() {
    let app = TestApp::spawn_with(|s| s.references.allow_http = true).await;
    for (url, shown) in [
        ("http://[::127.0.0.1]:9/x.png", "::7f00:1"),
        ("http://[2002:7f00:1::1]:9/x.png", "2002:7f00:1::1"),
        ("http://[64:ff9b:1::7f00:1]:9/x.png", "64:ff9b:1::7f00:1"),
        ("http://[::ffff:10.0.0.1]:9/x.png", "10.0.0.1"),
        ("http://[fec0::1]:9/x.png", "fec0::1"),
        ("http://[2001:db8::1]:9/x.png", "2001:db8::1"),
        ("http://192.88.99.1:9/x.png", "192.88.99.1"),
    ] {
        let id = app
            .generate(&app.key, json!({"prompt": "x", "referenceImageUrl": url}))
            .await;
        let done = app.wait_terminal(&app.key, &id).await;
        assert_eq!(done["status"], "failed", "{url}: {done}");
        let error = done["thumbnails"][0]["error"].as_str().unwrap_or_default();
        assert!(
            error.contains("is not public") && error.contains(shown),
            "{url}: {error}"
        );
    }
    let (status, _) = app.get_json(&app.key, "/api/v1/generations").await;
    assert_eq!(status, 200);
}

/// Headers built to confuse: each gets a 4xx with a code, and the server
/// answers normally afterwards.
#[tokio::test]
async fn hostile_headers_get_a_4xx_with_a_code() {
    let app = TestApp::spawn().await;
    let generate = || {
        app.client
            .post(format!("{}/api/v1/generate", app.address))
            .json(&json!({"prompt": "x"}))
    };
    let cases: Vec<(reqwest::RequestBuilder, u16, &str)> = vec![
        (
            generate().header(
                "authorization",
                HeaderValue::from_bytes(b"Bearer \xff\xfe").expect("opaque"),
            ),
            401,
            "missing_api_key",
        ),
        (
            generate().header("x-api-key", "k".repeat(8 * 1024)),
            401,
            "invalid_api_key",
        ),
        (
            generate()
                .bearer_auth(&app.key)
                .header("idempotency-key", "bad\tkey"),
            400,
            "invalid_idempotency_key",
        ),
        (
            generate()
                .bearer_auth(&app.key)
                .header("idempotency-key", "k".repeat(256)),
            400,
            "invalid_idempotency_key",
        ),
        (
            app.client
                .post(format!("{}/api/v1/generate", app.address))
                .bearer_auth(&app.key)
                .header("content-type", "application/xml")
                .body(r#"{"prompt":"x"}"#),
            415,
            "unsupported_media_type",
        ),
    ];
    for (request, status, code) in cases {
        let response = request.send().await.expect("sent");
        assert_eq!(response.status().as_u16(), status, "{code}");
        let body: Value = response.json().await.expect("problem json");
        assert_eq!(body["code"], code);
    }
    let id = app.generate(&app.key, json!({"prompt": "after"})).await;
    assert_eq!(
        app.wait_terminal(&app.key, &id).await["status"],
        "succeeded"
    );
}

/// Credentials in a query string never reach the log, and with JSON logs
/// each access-log line is an object with the request's fields.
#[tokio::test]
async fn the_access_log_is_structured_and_redacts_credentials() {
    use std::io::{BufRead, BufReader, Read};
    let dir = tempfile::tempdir().expect("temp dir");
    let key = keys_create(dir.path());
    let mut child = crate::helpers::thumbforge(dir.path())
        .args(["serve", "--bind", "127.0.0.1:0", "--workers", "1"])
        .env("RUST_LOG", "warn,thumbforge::http=info")
        .env("THUMBFORGE_LOG__JSON", "true")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("serve starts");
    let mut stdout = BufReader::new(child.stdout.take().expect("stdout")).lines();
    let base = loop {
        let line = stdout.next().expect("a line").expect("utf-8");
        if let Some(url) = line.strip_prefix("thumbforge listening on ") {
            break url.to_owned();
        }
    };
    let mut stderr = child.stderr.take().expect("stderr");
    let server = crate::recovery::ChildGuard(child);
    let client = reqwest::Client::new();
    let listed = client
        .get(format!(
            "{base}/api/v1/generations?api_key=tfk_leaked_query_key&limit=1"
        ))
        .bearer_auth(&key)
        .send()
        .await
        .expect("list");
    assert_eq!(listed.status(), 200);
    let file = client
        .get(format!(
            "{base}/files/gen_x_0.png?exp=99999999999&sig=leakedsignature0123"
        ))
        .send()
        .await
        .expect("file");
    assert_eq!(file.status(), 403);
    drop(server);
    let mut log = String::new();
    stderr.read_to_string(&mut log).expect("the log");

    assert!(!log.contains("tfk_leaked_query_key"), "{log}");
    assert!(!log.contains("leakedsignature0123"), "{log}");
    let lines: Vec<Value> = log
        .lines()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .filter(|line| line["target"] == "thumbforge::http")
        .collect();
    let list = lines
        .iter()
        .find(|line| line["fields"]["http.route"] == "/api/v1/generations")
        .unwrap_or_else(|| panic!("no access-log line for the listing in {log}"));
    let fields = &list["fields"];
    assert_eq!(fields["http.method"], "GET");
    assert_eq!(fields["http.status"], 200);
    assert!(fields["duration_ms"].as_f64().is_some(), "{fields}");
    assert!(
        fields["org.id"]
            .as_str()
            .is_some_and(|id| id.starts_with("org_")),
        "{fields}"
    );
    assert_eq!(
        fields["http.url"],
        "/api/v1/generations?api_key=REDACTED&limit=1"
    );
    let file = lines
        .iter()
        .find(|line| line["fields"]["http.route"] == "/files/{name}")
        .unwrap_or_else(|| panic!("no access-log line for the file in {log}"));
    assert_eq!(file["fields"]["http.status"], 403);
    assert_eq!(
        file["fields"]["http.url"],
        "/files/gen_x_0.png?exp=99999999999&sig=REDACTED"
    );
}
