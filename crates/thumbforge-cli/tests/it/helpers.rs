//! `TestApp`: one embedded thumbforge per test, and one method per endpoint.

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tempfile::TempDir;
use thumbforge_cli::Embedded;
use thumbforge_config::Settings;
use thumbforge_core::Plan;
use thumbforge_db::{Db, keys, orgs};

pub struct TestApp {
    pub address: String,
    pub client: reqwest::Client,
    /// A pro-plan key made at start.
    pub key: String,
    pub app: Option<Embedded>,
    pub settings: Settings,
    /// Kept so the data dir lives as long as the app.
    pub _dir: TempDir,
}

/// Which backend a test's data dir runs on. With
/// `THUMBFORGE_TEST_BACKEND=postgres-redis` every data dir gets a database of
/// its own on the PostgreSQL server (`THUMBFORGE_TEST_PG`, default the local
/// one) and a Redis key prefix of its own (`THUMBFORGE_TEST_REDIS`), so tests
/// run in parallel; otherwise SQLite files and the embedded queue.
#[derive(Debug, Clone, Default)]
pub struct TestBackend {
    pub database_url: Option<String>,
    pub redis_url: Option<String>,
    pub prefix: String,
}

pub fn postgres_redis() -> bool {
    std::env::var("THUMBFORGE_TEST_BACKEND").as_deref() == Ok("postgres-redis")
}

/// The backend for `dir`, made on first use and the same afterwards.
pub fn backend_for(dir: &std::path::Path) -> TestBackend {
    use std::{collections::HashMap, path::PathBuf, sync::Mutex};
    static BACKENDS: Mutex<Option<HashMap<PathBuf, TestBackend>>> = Mutex::new(None);
    if !postgres_redis() {
        return TestBackend::default();
    }
    let mut map = BACKENDS.lock().expect("backend map");
    let map_is_new = map.is_none();
    map.get_or_insert_with(HashMap::new)
        .entry(dir.to_owned())
        .or_insert_with(|| {
            // The process id in the name: a later run drops what the
            // runs no longer alive left (a test cannot drop its own at
            // exit, since nothing runs after the last test).
            let name = format!(
                "tf_test_{}_{}",
                std::process::id(),
                thumbforge_core::ids::random_token(12).to_lowercase()
            );
            let server = std::env::var("THUMBFORGE_TEST_PG")
                .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".to_owned());
            let admin = format!("{server}/postgres");
            let create = format!("CREATE DATABASE \"{name}\"");
            let first = map_is_new;
            // Its own thread and runtime: callers may be sync or async.
            std::thread::spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("runtime");
                rt.block_on(async {
                    use sea_orm::ConnectionTrait;
                    let db = Db::connect(&admin, 1, Duration::from_secs(10))
                        .await
                        .expect("PostgreSQL reachable for tests");
                    if first {
                        drop_leftovers(&db).await;
                    }
                    db.conn()
                        .execute_unprepared(&create)
                        .await
                        .expect("create test database");
                    let _ = db.close().await;
                })
            })
            .join()
            .expect("database created");
            TestBackend {
                database_url: Some(format!("{server}/{name}")),
                redis_url: Some(
                    std::env::var("THUMBFORGE_TEST_REDIS")
                        .unwrap_or_else(|_| "redis://127.0.0.1:6379".to_owned()),
                ),
                prefix: format!("tftest-{name}"),
            }
        })
        .clone()
}

/// Drops the databases and Redis keys of test runs whose process is gone.
async fn drop_leftovers(db: &Db) {
    use sea_orm::{ConnectionTrait, Statement};
    let gone = |name: &str| {
        let pid = name
            .strip_prefix("tf_test_")
            .and_then(|rest| rest.split('_').next());
        pid.is_some_and(|pid| !std::path::Path::new(&format!("/proc/{pid}")).exists())
    };
    let list = Statement::from_string(
        db.conn().get_database_backend(),
        "SELECT datname FROM pg_database WHERE datname LIKE 'tf\\_test\\_%'",
    );
    let names: Vec<String> = match db.conn().query_all_raw(list).await {
        Ok(rows) => rows
            .iter()
            .filter_map(|r| r.try_get_by_index(0).ok())
            .collect(),
        Err(_) => return,
    };
    let redis = std::env::var("THUMBFORGE_TEST_REDIS")
        .unwrap_or_else(|_| "redis://127.0.0.1:6379".to_owned());
    let mut redis = match redis::Client::open(redis) {
        Ok(client) => client.get_multiplexed_async_connection().await.ok(),
        Err(_) => None,
    };
    for name in names.into_iter().filter(|n| gone(n)) {
        let drop = format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)");
        let _ = db.conn().execute_unprepared(&drop).await;
        if let Some(conn) = redis.as_mut() {
            let pattern = format!("tftest-{name}*");
            let keys: Vec<String> = redis::cmd("KEYS")
                .arg(&pattern)
                .query_async(conn)
                .await
                .unwrap_or_default();
            if !keys.is_empty() {
                let _: redis::RedisResult<()> =
                    redis::cmd("DEL").arg(&keys).query_async(conn).await;
            }
        }
    }
}

impl TestBackend {
    pub fn apply(&self, s: &mut Settings) {
        s.database.url = self.database_url.clone();
        s.queue.redis_url = self.redis_url.clone();
        if !self.prefix.is_empty() {
            s.queue.prefix = self.prefix.clone();
        }
    }

    pub fn apply_env(&self, cmd: &mut std::process::Command) {
        if let Some(url) = &self.database_url {
            cmd.env("DATABASE_URL", url);
        }
        if let Some(url) = &self.redis_url {
            cmd.env("REDIS_URL", url)
                .env("THUMBFORGE_QUEUE__PREFIX", &self.prefix);
        }
    }
}

/// Settings every test starts from: port 0, the scripted model on, short
/// intervals so recovery paths run in seconds, and this run's backend.
pub fn test_settings(dir: &std::path::Path) -> Settings {
    let mut s = Settings::defaults_in(dir);
    backend_for(dir).apply(&mut s);
    s.bind = "127.0.0.1:0".to_owned();
    s.models.enable_test_model = true;
    s.queue.poll_interval_ms = 50;
    s.queue.heartbeat_secs = 1;
    s.queue.missed_heartbeats = 2;
    s.queue.claim_idle_secs = 3;
    s.worker.concurrency = Some(4);
    s.worker.sweep_interval_secs = 1;
    s.worker.enqueue_grace_secs = 1;
    s.worker.lost_check_secs = 2;
    s.api.http_workers = 2;
    s.database.max_connections = 8;
    // Tests poll and submit far faster than a client's rate limit allows;
    // `ratelimit::*` turns limits on where it tests them.
    for plan in [
        &mut s.limits.free,
        &mut s.limits.pro,
        &mut s.limits.unlimited,
    ] {
        plan.requests_per_hour = 0;
        plan.generates_per_minute = 0;
    }
    s
}

impl TestApp {
    pub async fn spawn() -> TestApp {
        Self::spawn_with(|_| {}).await
    }

    pub async fn spawn_with(tweak: impl FnOnce(&mut Settings)) -> TestApp {
        thumbforge_telemetry::init_for_tests();
        let dir = tempfile::tempdir().expect("temp dir");
        let mut settings = test_settings(dir.path());
        tweak(&mut settings);
        let app = Embedded::start(settings.clone()).await.expect("app starts");
        let address = format!("http://127.0.0.1:{}", app.port());
        let mut test = TestApp {
            address,
            client: reqwest::Client::new(),
            key: String::new(),
            app: Some(app),
            settings,
            _dir: dir,
        };
        test.key = test.create_key("acme", Plan::Pro).await;
        test
    }

    pub fn db(&self) -> &Db {
        self.app.as_ref().expect("app running").db()
    }

    /// A generation of `count` thumbnails created straight in the database
    /// for a Pro org named `org`, never enqueued: only the test acts on it
    /// until the sweeper's grace passes.
    pub async fn direct_generation(
        &self,
        org: &str,
        count: i64,
    ) -> thumbforge_db::generations::GenerationView {
        let prompt = format!("direct for {org}");
        self.direct_generation_with(org, thumbforge_core::ModelId::LOCAL, &prompt, count)
            .await
    }

    /// [`Self::direct_generation`] with this model and prompt.
    pub async fn direct_generation_with(
        &self,
        org: &str,
        model: thumbforge_core::ModelId,
        prompt: &str,
        count: i64,
    ) -> thumbforge_db::generations::GenerationView {
        let org = orgs::ensure(self.db(), org, Some(Plan::Pro))
            .await
            .expect("org");
        let request = direct_request(prompt, count);
        thumbforge_db::generations::create(self.db(), &org.id, Plan::Pro, model, 1, &request)
            .await
            .expect("created")
    }

    pub async fn create_key(&self, org: &str, plan: Plan) -> String {
        let org = orgs::ensure(self.db(), org, Some(plan)).await.expect("org");
        keys::create(self.db(), &org.id, keys::DEFAULT_SCOPES)
            .await
            .expect("key")
    }

    pub async fn post_generate(&self, key: &str, body: &Value) -> reqwest::Response {
        self.client
            .post(format!("{}/api/v1/generate", self.address))
            .bearer_auth(key)
            .json(body)
            .send()
            .await
            .expect("request sent")
    }

    /// Generates and returns the generation id, asserting a 202.
    pub async fn generate(&self, key: &str, body: Value) -> String {
        let response = self.post_generate(key, &body).await;
        assert_eq!(
            response.status(),
            202,
            "generate answered {}",
            response.status()
        );
        let body: Value = response.json().await.expect("json");
        body["generationId"]
            .as_str()
            .expect("generationId")
            .to_owned()
    }

    pub async fn get_generation(&self, key: &str, id: &str) -> reqwest::Response {
        self.client
            .get(format!("{}/api/v1/generations/{id}", self.address))
            .header("x-api-key", key)
            .send()
            .await
            .expect("request sent")
    }

    /// Polls (as FatThumb's docs do, only faster) until a terminal status.
    pub async fn wait_terminal(&self, key: &str, id: &str) -> Value {
        wait_terminal(
            &self.client,
            &self.address,
            key,
            id,
            Duration::from_secs(60),
        )
        .await
    }

    /// Polls the generation until its first thumbnail's `progress`
    /// satisfies `wanted`, the generation ends, or 200 looks have passed:
    /// the last `progress` seen.
    pub async fn first_progress_until(
        &self,
        key: &str,
        id: &str,
        wanted: impl Fn(&Value) -> bool,
    ) -> Value {
        let mut seen = Value::Null;
        for _ in 0..200 {
            let (_, generation) = self
                .get_json(key, &format!("/api/v1/generations/{id}"))
                .await;
            seen = generation["thumbnails"][0]["progress"].clone();
            if wanted(&seen) || generation["status"] != "processing" {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        seen
    }

    /// GET `path` with `key`: the status and the JSON body (Null if none).
    pub async fn get_json(&self, key: &str, path: &str) -> (u16, Value) {
        let request = self.client.get(format!("{}{path}", self.address));
        json_answer(request.bearer_auth(key)).await
    }

    /// POST `path` (no body) with `key`: the status and the JSON body.
    pub async fn post_json(&self, key: &str, path: &str) -> (u16, Value) {
        let request = self.client.post(format!("{}{path}", self.address));
        json_answer(request.bearer_auth(key)).await
    }

    /// `verb path` with `key`, and `body` as JSON when given.
    pub async fn send(
        &self,
        verb: reqwest::Method,
        path: &str,
        key: &str,
        body: Option<&Value>,
    ) -> reqwest::Response {
        let mut request = self.client.request(verb, format!("{}{path}", self.address));
        if let Some(body) = body {
            request = request.json(body);
        }
        request.bearer_auth(key).send().await.expect("sent")
    }

    /// GET `path` without a key.
    pub async fn get(&self, path: &str) -> reqwest::Response {
        let url = format!("{}{path}", self.address);
        self.client.get(url).send().await.expect("sent")
    }

    /// The text of GET `path` without a key.
    pub async fn text(&self, path: &str) -> String {
        self.get(path).await.text().await.expect("text")
    }

    pub async fn download(&self, url: &str) -> reqwest::Response {
        self.client.get(url).send().await.expect("download sent")
    }

    pub async fn stop(&mut self) {
        if let Some(app) = self.app.take() {
            app.stop().await;
        }
    }
}

/// Sends `request`: the status and the JSON body (Null if none).
pub async fn json_answer(request: reqwest::RequestBuilder) -> (u16, Value) {
    let response = request.send().await.expect("sent");
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

pub async fn wait_terminal(
    client: &reqwest::Client,
    address: &str,
    key: &str,
    id: &str,
    limit: Duration,
) -> Value {
    let start = Instant::now();
    loop {
        let response = client
            .get(format!("{address}/api/v1/generations/{id}"))
            .bearer_auth(key)
            .send()
            .await
            .expect("poll sent");
        assert_eq!(response.status(), 200);
        let body: Value = response.json().await.expect("json");
        if ["succeeded", "failed", "partial"].contains(&body["status"].as_str().unwrap_or_default())
        {
            return body;
        }
        assert!(
            start.elapsed() < limit,
            "generation {id} still processing after {limit:?}: {body}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Downloads a thumbnail URL and returns the decoded PNG's size.
pub async fn download_png(client: &reqwest::Client, url: &serde_json::Value) -> (u32, u32) {
    let bytes = client
        .get(url.as_str().expect("url"))
        .send()
        .await
        .expect("download")
        .bytes()
        .await
        .expect("bytes");
    png_dimensions(&bytes)
}

/// Decodes a PNG and returns its size.
pub fn png_dimensions(bytes: &[u8]) -> (u32, u32) {
    assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n", "not a PNG");
    let img = image::load_from_memory_with_format(bytes, image::ImageFormat::Png).expect("decodes");
    (img.width(), img.height())
}

pub fn prompt(text: &str) -> Value {
    json!({ "prompt": text })
}

/// The real `thumbforge` binary on `data_dir`, quiet unless it fails.
pub fn thumbforge(data_dir: &std::path::Path) -> std::process::Command {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_thumbforge"));
    cmd.env("THUMBFORGE_DATA_DIR", data_dir)
        .env("THUMBFORGE_LIMITS__FREE__REQUESTS_PER_HOUR", "0")
        .env("THUMBFORGE_LIMITS__FREE__GENERATES_PER_MINUTE", "0")
        .env("THUMBFORGE_LIMITS__PRO__REQUESTS_PER_HOUR", "0")
        .env("THUMBFORGE_LIMITS__PRO__GENERATES_PER_MINUTE", "0")
        .env("RUST_LOG", "warn")
        .env_remove("DATABASE_URL")
        .env_remove("REDIS_URL");
    backend_for(data_dir).apply_env(&mut cmd);
    cmd
}

/// A valid request built directly, for tests that write to the database
/// without going through the API.
pub fn direct_request(text: &str, count: i64) -> thumbforge_core::GenerateRequest {
    use thumbforge_core::{Prompt, ThumbnailCount};
    thumbforge_core::GenerateRequest {
        prompt: Prompt::try_from(text.to_owned()).expect("prompt"),
        model: None,
        count: ThumbnailCount::try_from(count).expect("count"),
        aspect_ratio: Default::default(),
        person_ids: Default::default(),
        inspiration_ids: Default::default(),
        reference_urls: Default::default(),
        provider: Default::default(),
        title: None,
        card_id: None,
        webhook: None,
        style: None,
        format: Default::default(),
    }
}

/// `POST /api/v1/assets` to the server at `base`: a `kind` and a PNG file.
pub async fn upload_asset(
    client: &reqwest::Client,
    base: &str,
    key: &str,
    kind: &str,
    bytes: Vec<u8>,
) -> reqwest::Response {
    let form = reqwest::multipart::Form::new()
        .text("kind", kind.to_owned())
        .part(
            "file",
            reqwest::multipart::Part::bytes(bytes)
                .file_name("face.png")
                .mime_str("image/png")
                .expect("mime"),
        );
    client
        .post(format!("{base}/api/v1/assets"))
        .bearer_auth(key)
        .multipart(form)
        .send()
        .await
        .expect("upload sent")
}
