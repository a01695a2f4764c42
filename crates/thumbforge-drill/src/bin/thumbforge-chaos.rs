//! `thumbforge-chaos`: the failure drill. Real `thumbforge-api` and
//! `thumbforge-worker` processes on a private PostgreSQL and a private Redis
//! (AOF on, as in production); generations with a test model of realistic
//! latency (every tenth call a slow one, so kills find long calls in
//! flight); workers SIGKILLed at random and replaced; Redis crashed and
//! restarted once; PostgreSQL stopped (immediate) and restarted once.
//!
//! It prints accepted / terminal / lost / stuck, duplicate runs and recovery
//! times, and exits non-zero on any lost or stuck generation, any failed
//! thumbnail, or a killed worker's job not picked up again within 30 s.

use std::{
    collections::HashMap,
    path::PathBuf,
    process::{Child, Command, Stdio},
    sync::{
        Arc, Mutex,
        atomic::{AtomicI64, Ordering},
    },
    time::{Duration, Instant},
};
use thumbforge_core::ThumbnailStatus;

use anyhow::{Context, bail};
use clap::Parser;
use rand::Rng;
use sea_orm::{ConnectionTrait, Statement};
use thumbforge_db::Db;
use thumbforge_testkit::{PgServer, RedisServer, free_port};

#[derive(Debug, Parser)]
struct Args {
    /// Generations to submit.
    #[arg(long, default_value_t = 1000)]
    generations: usize,
    /// Thumbnails per generation.
    #[arg(long, default_value_t = 2)]
    count: usize,
    /// Worker processes.
    #[arg(long, default_value_t = 4)]
    workers: usize,
    /// Model calls each worker has in flight at once (`worker.max_in_flight`).
    #[arg(long, default_value_t = 8)]
    concurrency: usize,
    /// Workers SIGKILLed (each replaced at once, as an orchestrator would).
    #[arg(long, default_value_t = 8)]
    kills: usize,
    /// Model latency range per generation, in ms.
    #[arg(long, default_value_t = 300)]
    min_latency_ms: u64,
    #[arg(long, default_value_t = 3000)]
    max_latency_ms: u64,
    /// Every Nth generation is a slow model call (0: none), so kills find
    /// long calls in flight.
    #[arg(long, default_value_t = 10)]
    slow_every: usize,
    #[arg(long, default_value_t = 20_000)]
    slow_latency_ms: u64,
    /// The CI size: 150 generations, 2 workers, 3 kills.
    #[arg(long)]
    reduced: bool,
    /// Longest wait for everything to settle after the last event.
    #[arg(long, default_value_t = 300)]
    settle_secs: u64,
    /// Where the thumbforge binaries are (default: beside this one).
    #[arg(long)]
    bin_dir: Option<PathBuf>,
}

/// A child process killed when dropped.
struct Proc {
    child: Child,
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

struct Env {
    bin: PathBuf,
    vars: Vec<(String, String)>,
    logs: PathBuf,
}

impl Env {
    fn command(&self, exe: &str) -> Command {
        let mut cmd = Command::new(self.bin.join(exe));
        for (k, v) in &self.vars {
            cmd.env(k, v);
        }
        cmd.stdin(Stdio::null());
        cmd
    }

    fn spawn(&self, exe: &str, name: &str, extra: &[(&str, String)]) -> anyhow::Result<Proc> {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.logs.join(format!("{name}.log")))?;
        let mut cmd = self.command(exe);
        for (k, v) in extra {
            cmd.env(k, v);
        }
        let child = cmd
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()
            .with_context(|| format!("starting {exe}"))?;
        Ok(Proc { child })
    }
}

#[derive(Debug, Default, Clone)]
struct Progress {
    terminal_thumbnails: i64,
}

async fn progress(db: &Db) -> Option<Progress> {
    let row = db
        .conn()
        .query_one_raw(Statement::from_string(
            db.conn().get_database_backend(),
            "SELECT COUNT(*) FILTER (WHERE status <> 'processing') FROM thumbnails",
        ))
        .await
        .ok()??;
    Some(Progress {
        terminal_thumbnails: row.try_get_by_index::<i64>(0).ok()?,
    })
}

/// Thumbnails whose queue entries the worker with `pid` holds.
async fn held_by(redis_url: &str, pid: u32) -> anyhow::Result<Vec<String>> {
    let client = thumbforge_queue::redis_client(redis_url)?;
    let mut conn = client.get_multiplexed_async_connection().await?;
    let pending: Vec<(String, String, u64, u64)> = redis::cmd("XPENDING")
        .arg("{chaos}:render")
        .arg("workers")
        .arg("-")
        .arg("+")
        .arg(10_000)
        .query_async(&mut conn)
        .await?;
    let tag = format!("-{pid}-");
    let mut thumbnails = Vec::new();
    for (entry, consumer, _, _) in pending {
        if !consumer.contains(&tag) {
            continue;
        }
        let entries: Vec<(String, Vec<(String, String)>)> = redis::cmd("XRANGE")
            .arg("{chaos}:render")
            .arg(&entry)
            .arg(&entry)
            .query_async(&mut conn)
            .await?;
        for (_, fields) in entries {
            if let Some((_, t)) = fields.into_iter().find(|(k, _)| k == "t") {
                thumbnails.push(t);
            }
        }
    }
    Ok(thumbnails)
}

/// Attempts and status of these thumbnails.
async fn attempts(
    db: &Db,
    ids: &[String],
) -> anyhow::Result<HashMap<String, (i32, ThumbnailStatus)>> {
    let mut out = HashMap::new();
    for id in ids {
        if let Some(t) = thumbforge_db::thumbnails::find(db, id).await? {
            out.insert(id.clone(), (t.attempts, t.status));
        }
    }
    Ok(out)
}

#[derive(Debug, Default)]
struct Tally {
    accepted: Vec<String>,
    refused: HashMap<String, usize>,
}

async fn submitter(
    api: String,
    key: String,
    args: Arc<Args>,
    tally: Arc<Mutex<Tally>>,
    index: std::ops::Range<usize>,
    finished: Arc<AtomicI64>,
) {
    // Keep about two rounds of work outstanding, so submissions go on for
    // the whole run and meet every outage.
    let window = (2 * args.workers * args.concurrency) as i64;
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(15))
        .build()
        .expect("client");
    for i in index {
        loop {
            let accepted = tally.lock().expect("tally").accepted.len() as i64;
            let done = finished.load(Ordering::Relaxed) / args.count as i64;
            if accepted - done < window {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let latency = if args.slow_every > 0 && i % args.slow_every == 0 {
            args.slow_latency_ms
        } else {
            rand::rng().random_range(args.min_latency_ms..=args.max_latency_ms)
        };
        let body = serde_json::json!({
            "prompt": format!("chaos {i} [sleep:{latency}]"),
            "model": "test",
            "count": args.count,
        });
        loop {
            let response = client
                .post(format!("{api}/api/v1/generate"))
                .bearer_auth(&key)
                .json(&body)
                .send()
                .await;
            match response {
                Ok(r) if r.status() == 202 => {
                    let v: serde_json::Value = r.json().await.unwrap_or_default();
                    if let Some(id) = v["generationId"].as_str() {
                        tally.lock().expect("tally").accepted.push(id.to_owned());
                    }
                    break;
                }
                Ok(r) => {
                    let status = r.status().as_u16();
                    let v: serde_json::Value = r.json().await.unwrap_or_default();
                    let code = format!("{status} {}", v["code"].as_str().unwrap_or("-"));
                    *tally
                        .lock()
                        .expect("tally")
                        .refused
                        .entry(code)
                        .or_default() += 1;
                    if status != 503 {
                        break;
                    }
                }
                Err(e) => {
                    let code = if e.is_timeout() { "timeout" } else { "connect" };
                    *tally
                        .lock()
                        .expect("tally")
                        .refused
                        .entry(code.to_owned())
                        .or_default() += 1;
                }
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }
}

async fn wait_http(url: &str, limit: Duration) -> anyhow::Result<()> {
    let start = Instant::now();
    while start.elapsed() < limit {
        if let Ok(r) = reqwest::get(url).await
            && r.status().is_success()
        {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    bail!("{url} did not answer within {limit:?}")
}

fn now_ms() -> i64 {
    thumbforge_db::now_ms()
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut args = Args::parse();
    if args.reduced {
        args.generations = 150;
        args.workers = 2;
        args.kills = 3;
        args.max_latency_ms = args.max_latency_ms.min(1500);
        args.slow_latency_ms = args.slow_latency_ms.min(8000);
    }
    let args = Arc::new(args);
    let bin = match &args.bin_dir {
        Some(dir) => dir.clone(),
        None => std::env::current_exe()?
            .parent()
            .context("binary directory")?
            .to_owned(),
    };
    for exe in ["thumbforge", "thumbforge-api", "thumbforge-worker"] {
        if !bin.join(exe).exists() {
            bail!(
                "{} is missing: build the workspace first",
                bin.join(exe).display()
            );
        }
    }
    let total_thumbnails = (args.generations * args.count) as i64;
    println!(
        "chaos drill: {} generations x {} thumbnails, {} workers x {}, {} kills, model latency {}..{} ms, every {}th {} ms",
        args.generations,
        args.count,
        args.workers,
        args.concurrency,
        args.kills,
        args.min_latency_ms,
        args.max_latency_ms,
        args.slow_every,
        args.slow_latency_ms
    );

    let pg = PgServer::start().context("private PostgreSQL")?;
    let mut redis = RedisServer::start().context("private Redis")?;
    let data = tempfile_dir()?;
    let logs = data.join("logs");
    std::fs::create_dir_all(&logs)?;
    let api_port = free_port()?;
    let api = format!("http://127.0.0.1:{api_port}");
    let database_url = pg.url("postgres");
    let env = Env {
        bin,
        logs: logs.clone(),
        vars: [
            ("DATABASE_URL", database_url.clone()),
            ("REDIS_URL", redis.url()),
            ("THUMBFORGE_DATA_DIR", data.display().to_string()),
            (
                "THUMBFORGE_SECRET",
                "chaos-drill-secret-0123456789abcdef".to_owned(),
            ),
            ("THUMBFORGE_BIND", format!("127.0.0.1:{api_port}")),
            ("THUMBFORGE_MODELS__ENABLE_TEST_MODEL", "true".to_owned()),
            ("THUMBFORGE_QUEUE__PREFIX", "chaos".to_owned()),
            // The drill submits far faster than a client's rate limit allows.
            ("THUMBFORGE_LIMITS__FREE__REQUESTS_PER_HOUR", "0".to_owned()),
            (
                "THUMBFORGE_LIMITS__FREE__GENERATES_PER_MINUTE",
                "0".to_owned(),
            ),
            ("THUMBFORGE_LIMITS__PRO__REQUESTS_PER_HOUR", "0".to_owned()),
            (
                "THUMBFORGE_LIMITS__PRO__GENERATES_PER_MINUTE",
                "0".to_owned(),
            ),
            ("THUMBFORGE_QUEUE__CLAIM_IDLE_SECS", "10".to_owned()),
            ("THUMBFORGE_WORKER__SWEEP_INTERVAL_SECS", "2".to_owned()),
            ("THUMBFORGE_WORKER__LOST_CHECK_SECS", "20".to_owned()),
            ("THUMBFORGE_WORKER__JOB_TIMEOUT_SECS", "60".to_owned()),
            (
                "THUMBFORGE_WORKER__MAX_IN_FLIGHT",
                args.concurrency.to_string(),
            ),
            ("THUMBFORGE_DATABASE__ACQUIRE_TIMEOUT_MS", "2000".to_owned()),
            ("RUST_LOG", "warn,thumbforge=info".to_owned()),
            ("HOSTNAME", "chaos".to_owned()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect(),
    };

    let out = env.command("thumbforge").arg("migrate").output()?;
    if !out.status.success() {
        bail!("migrate failed: {}", String::from_utf8_lossy(&out.stderr));
    }
    let out = env
        .command("thumbforge")
        .args(["keys", "create", "--org", "chaos", "--plan", "pro"])
        .output()?;
    let key = String::from_utf8(out.stdout)?
        .lines()
        .last()
        .context("a key")?
        .trim()
        .to_owned();

    let _api = env.spawn("thumbforge-api", "api", &[])?;
    wait_http(&format!("{api}/healthz"), Duration::from_secs(30)).await?;
    let mut workers: Vec<Proc> = (0..args.workers)
        .map(|i| env.spawn("thumbforge-worker", &format!("worker-{i}"), &[]))
        .collect::<anyhow::Result<_>>()?;
    let db = Db::connect(&database_url, 2, Duration::from_secs(2)).await?;

    let tally = Arc::new(Mutex::new(Tally::default()));
    let finished = Arc::new(AtomicI64::new(0));
    let started = Instant::now();
    let submitters = 4;
    let per = args.generations.div_ceil(submitters);
    let mut handles = Vec::new();
    for s in 0..submitters {
        let range = (s * per)..((s + 1) * per).min(args.generations);
        handles.push(tokio::spawn(submitter(
            api.clone(),
            key.clone(),
            args.clone(),
            tally.clone(),
            range,
            finished.clone(),
        )));
    }

    // Events, by fraction of thumbnails finished.
    #[derive(Debug)]
    enum Event {
        Kill,
        Redis,
        Postgres,
    }
    let mut events: Vec<(f64, Event)> = (0..args.kills)
        .map(|i| {
            (
                0.1 + 0.8 * (i as f64 + 0.5) / args.kills.max(1) as f64,
                Event::Kill,
            )
        })
        .collect();
    events.push((0.3, Event::Redis));
    events.push((0.6, Event::Postgres));
    events.sort_by(|a, b| a.0.total_cmp(&b.0));
    let mut events = events.into_iter().peekable();

    let mut kill_recoveries: Vec<(usize, f64)> = Vec::new();
    let mut kill_checks = Vec::new();
    let mut restarts: Vec<(&str, i64, Instant)> = Vec::new();
    let mut last = Progress::default();
    let mut spawned = args.workers;
    loop {
        if let Some(p) = progress(&db).await {
            last = p;
            finished.store(last.terminal_thumbnails, Ordering::Relaxed);
        }
        let fraction = last.terminal_thumbnails as f64 / total_thumbnails as f64;
        while events.peek().is_some_and(|(at, _)| fraction >= *at) {
            let Some((_, event)) = events.next() else {
                break;
            };
            match event {
                Event::Kill => {
                    let victim = rand::rng().random_range(0..workers.len());
                    let pid = workers[victim].child.id();
                    let held = held_by(&redis.url(), pid).await.unwrap_or_default();
                    let before = attempts(&db, &held).await.unwrap_or_default();
                    let _ = workers[victim].child.kill();
                    let _ = workers[victim].child.wait();
                    let killed_at = Instant::now();
                    workers[victim] =
                        env.spawn("thumbforge-worker", &format!("worker-{spawned}"), &[])?;
                    spawned += 1;
                    println!(
                        "[{:>6.1}s] SIGKILL worker pid {pid} holding {} thumbnails; replacement started",
                        started.elapsed().as_secs_f64(),
                        held.len()
                    );
                    let db = db.clone();
                    kill_checks.push(tokio::spawn(async move {
                        // Picked up again = claimed again (attempts went up)
                        // or already terminal.
                        loop {
                            let now = attempts(&db, &held).await.unwrap_or_default();
                            let done = held.iter().all(|id| match (before.get(id), now.get(id)) {
                                (Some((a0, _)), Some((a1, s))) => a1 > a0 || s.is_terminal(),
                                _ => true,
                            });
                            if done || killed_at.elapsed() > Duration::from_secs(120) {
                                return (held.len(), killed_at.elapsed().as_secs_f64());
                            }
                            tokio::time::sleep(Duration::from_millis(200)).await;
                        }
                    }));
                }
                Event::Redis => {
                    println!(
                        "[{:>6.1}s] Redis SIGKILLed; restarting in 3 s",
                        started.elapsed().as_secs_f64()
                    );
                    redis.crash();
                    tokio::time::sleep(Duration::from_secs(3)).await;
                    redis.restart()?;
                    restarts.push(("redis", now_ms(), Instant::now()));
                }
                Event::Postgres => {
                    println!(
                        "[{:>6.1}s] PostgreSQL stopped (immediate); restarting in 3 s",
                        started.elapsed().as_secs_f64()
                    );
                    pg.stop()?;
                    tokio::time::sleep(Duration::from_secs(3)).await;
                    pg.start_again()?;
                    restarts.push(("postgres", now_ms(), Instant::now()));
                }
            }
        }
        let submitted = handles.iter().all(|h| h.is_finished());
        let accepted = tally.lock().expect("tally").accepted.len() as i64;
        if submitted
            && events.peek().is_none()
            && last.terminal_thumbnails >= accepted * args.count as i64
        {
            break;
        }
        if submitted
            && events.peek().is_none()
            && started.elapsed() > Duration::from_secs(args.settle_secs + 600)
        {
            println!("settle time exceeded");
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let elapsed = started.elapsed();
    for check in kill_checks {
        kill_recoveries.push(check.await?);
    }

    // The record, from the database.
    let tally = std::mem::take(&mut *tally.lock().expect("tally"));
    let mut statuses: HashMap<String, usize> = HashMap::new();
    let mut lost = 0;
    let mut stuck = 0;
    for id in &tally.accepted {
        match thumbforge_db::generations::status_of(&db, id).await? {
            None => lost += 1,
            Some(status) => {
                if !status.is_terminal() {
                    stuck += 1;
                }
                *statuses.entry(status.to_string()).or_default() += 1;
            }
        }
    }
    let reruns = db
        .conn()
        .query_one_raw(Statement::from_string(
            db.conn().get_database_backend(),
            "SELECT COUNT(*) FILTER (WHERE attempts > 1), COALESCE(SUM(GREATEST(attempts - 1, 0)), 0)::BIGINT, \
             COUNT(*) FILTER (WHERE status = 'failed') FROM thumbnails",
        ))
        .await?
        .context("rerun row")?;
    let rerun_thumbnails: i64 = reruns.try_get_by_index(0)?;
    let extra_runs: i64 = reruns.try_get_by_index(1)?;
    let failed_thumbnails: i64 = reruns.try_get_by_index(2)?;

    println!();
    println!("| measure | value |");
    println!("|---|---|");
    println!("| accepted generations (202) | {} |", tally.accepted.len());
    let mut statuses: Vec<_> = statuses.into_iter().collect();
    statuses.sort();
    for (status, n) in &statuses {
        println!("| terminal: {status} | {n} |");
    }
    println!("| lost (accepted, not in the database) | {lost} |");
    println!("| stuck (not terminal at the end) | {stuck} |");
    println!("| failed thumbnails | {failed_thumbnails} |");
    let mut refused: Vec<_> = tally.refused.iter().collect();
    refused.sort();
    for (code, n) in refused {
        println!("| refused submits, {code} (client retried) | {n} |");
    }
    println!("| thumbnails run more than once | {rerun_thumbnails} |");
    println!("| extra runs in all (duplicate job runs) | {extra_runs} |");
    for (i, (held, secs)) in kill_recoveries.iter().enumerate() {
        println!(
            "| kill {}: {held} held thumbnails picked up again after | {secs:.1} s |",
            i + 1
        );
    }
    for (name, at_ms, at) in &restarts {
        let first = first_completion_after(&db, *at_ms).await;
        match first {
            Some(ms) => println!(
                "| {name} restart: first thumbnail finished after | {:.1} s |",
                (ms - at_ms) as f64 / 1000.0
            ),
            None => println!(
                "| {name} restart: first thumbnail finished after | none (ran {:.0} s) |",
                at.elapsed().as_secs_f64()
            ),
        }
    }
    println!("| wall time | {:.1} s |", elapsed.as_secs_f64());
    println!("| worker logs | {} |", logs.display());

    let slow_kills = kill_recoveries
        .iter()
        .filter(|(held, secs)| *held > 0 && *secs > 30.0)
        .count();
    if lost > 0 || stuck > 0 || failed_thumbnails > 0 || slow_kills > 0 {
        bail!(
            "drill FAILED: lost {lost}, stuck {stuck}, failed thumbnails {failed_thumbnails}, kills recovered after > 30 s: {slow_kills}"
        );
    }
    println!("drill passed: nothing lost, nothing stuck");
    drop(workers);
    let _ = std::fs::remove_dir_all(&data);
    Ok(())
}

async fn first_completion_after(db: &Db, at_ms: i64) -> Option<i64> {
    let row = db
        .conn()
        .query_one_raw(Statement::from_sql_and_values(
            db.conn().get_database_backend(),
            "SELECT MIN(completed_at) FROM thumbnails WHERE completed_at > $1",
            [at_ms.into()],
        ))
        .await
        .ok()??;
    row.try_get_by_index::<Option<i64>>(0).ok()?
}

fn tempfile_dir() -> anyhow::Result<PathBuf> {
    let dir = std::env::temp_dir().join(format!(
        "thumbforge-chaos-{}",
        thumbforge_core::ids::random_token(8)
    ));
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}
