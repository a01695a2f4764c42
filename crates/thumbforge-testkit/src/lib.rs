#![doc = include_str!("../README.md")]

pub mod fuzz;

mod cli;
mod images;

pub use cli::command_line_contract;
pub use images::chunk_bomb;

use std::{
    net::TcpListener,
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use anyhow::{Context, bail};
use tempfile::TempDir;

/// A free loopback port (bound, then released).
pub fn free_port() -> anyhow::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

fn wait_for_port(port: u16, limit: Duration) -> anyhow::Result<()> {
    let start = Instant::now();
    while start.elapsed() < limit {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    bail!("nothing listened on port {port} within {limit:?}")
}

/// A private `redis-server`.
pub struct RedisServer {
    port: u16,
    dir: TempDir,
    child: Option<Child>,
}

impl RedisServer {
    pub fn start() -> anyhow::Result<RedisServer> {
        let mut server = RedisServer {
            port: free_port()?,
            dir: tempfile::tempdir()?,
            child: None,
        };
        server.launch()?;
        Ok(server)
    }

    fn launch(&mut self) -> anyhow::Result<()> {
        let child = Command::new("redis-server")
            .args(["--bind", "127.0.0.1", "--port"])
            .arg(self.port.to_string())
            .args([
                "--save",
                "",
                "--appendonly",
                "yes",
                "--appendfsync",
                "everysec",
                "--maxmemory-policy",
                "noeviction",
                "--dir",
            ])
            .arg(self.dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .context("starting redis-server (apt-get install redis-server)")?;
        self.child = Some(child);
        wait_for_port(self.port, Duration::from_secs(10))
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// SIGKILL: what a crashed or OOM-killed Redis looks like.
    pub fn crash(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts again on the same port and directory (the AOF is replayed).
    pub fn restart(&mut self) -> anyhow::Result<()> {
        self.crash();
        self.launch()
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.crash();
    }
}

/// A private Redis primary, its replica and one Sentinel watching them
/// (quorum 1, primary down after 1 s), for failover tests.
pub struct SentinelGroup {
    primary: RedisServer,
    replica: Child,
    replica_port: u16,
    sentinel: Child,
    sentinel_port: u16,
    dir: TempDir,
}

/// The name the Sentinel monitors.
pub const PRIMARY_NAME: &str = "main";

impl SentinelGroup {
    pub fn start() -> anyhow::Result<SentinelGroup> {
        let primary = RedisServer::start()?;
        let dir = tempfile::tempdir()?;
        let replica_port = free_port()?;
        let replica_dir = dir.path().join("replica");
        std::fs::create_dir_all(&replica_dir)?;
        let replica = Command::new("redis-server")
            .args(["--bind", "127.0.0.1", "--port"])
            .arg(replica_port.to_string())
            .args(["--save", "", "--appendonly", "yes", "--dir"])
            .arg(&replica_dir)
            .args(["--replicaof", "127.0.0.1"])
            .arg(primary.port().to_string())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .context("starting the replica")?;
        wait_for_port(replica_port, Duration::from_secs(10))?;
        let sentinel_port = free_port()?;
        let conf = dir.path().join("sentinel.conf");
        std::fs::write(
            &conf,
            format!(
                "bind 127.0.0.1\nport {sentinel_port}\ndir {dir}\n\
                 sentinel monitor {PRIMARY_NAME} 127.0.0.1 {primary} 1\n\
                 sentinel down-after-milliseconds {PRIMARY_NAME} 1000\n\
                 sentinel failover-timeout {PRIMARY_NAME} 5000\n\
                 sentinel parallel-syncs {PRIMARY_NAME} 1\n",
                dir = dir.path().display(),
                primary = primary.port(),
            ),
        )?;
        let sentinel = Command::new("redis-server")
            .arg(&conf)
            .arg("--sentinel")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .context("starting redis-server --sentinel")?;
        wait_for_port(sentinel_port, Duration::from_secs(10))?;
        let group = SentinelGroup {
            primary,
            replica,
            replica_port,
            sentinel,
            sentinel_port,
            dir,
        };
        // A failover needs a replica the Sentinel knows of and that is in
        // sync (Sentinel reads the primary's INFO every 10 s at first).
        let start = Instant::now();
        while !group.sentinel_knows_the_replica() {
            if start.elapsed() > Duration::from_secs(30) {
                bail!("the Sentinel never saw the replica");
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        Ok(group)
    }

    fn sentinel_knows_the_replica(&self) -> bool {
        let out = Command::new("redis-cli")
            .args([
                "-p",
                &self.sentinel_port.to_string(),
                "SENTINEL",
                "replicas",
                PRIMARY_NAME,
            ])
            .output();
        let replica = format!("{}", self.replica_port);
        out.map(|o| {
            let text = String::from_utf8_lossy(&o.stdout).to_string();
            text.lines().any(|l| l.trim() == replica)
                && text.contains("slave")
                && !text.contains("s_down")
                && !text.contains("disconnected")
        })
        .unwrap_or(false)
    }

    /// `redis+sentinel://` for this group.
    pub fn url(&self) -> String {
        format!(
            "redis+sentinel://127.0.0.1:{}/{PRIMARY_NAME}",
            self.sentinel_port
        )
    }

    /// The port the Sentinel says the primary is on.
    pub fn primary_port(&self) -> Option<u16> {
        let out = Command::new("redis-cli")
            .args([
                "-p",
                &self.sentinel_port.to_string(),
                "SENTINEL",
                "get-master-addr-by-name",
                PRIMARY_NAME,
            ])
            .output()
            .ok()?;
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .nth(1)?
            .trim()
            .parse()
            .ok()
    }

    pub fn replica_port(&self) -> u16 {
        self.replica_port
    }

    /// SIGKILL the primary: what a crashed primary host looks like.
    pub fn kill_primary(&mut self) {
        self.primary.crash();
    }

    /// Waits until the Sentinel has promoted the replica.
    pub fn wait_for_failover(&self, limit: Duration) -> anyhow::Result<()> {
        let start = Instant::now();
        while start.elapsed() < limit {
            if self.primary_port() == Some(self.replica_port) {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        bail!("no failover within {limit:?}")
    }
}

impl Drop for SentinelGroup {
    fn drop(&mut self) {
        for child in [&mut self.sentinel, &mut self.replica] {
            let _ = child.kill();
            let _ = child.wait();
        }
        let _ = &self.dir;
    }
}

/// A private S3-compatible server: moto's server mode (PyPI `moto[server]`,
/// which scripts/test.sh installs), with one bucket made.
pub struct S3Server {
    port: u16,
    bucket: String,
    child: Child,
}

impl S3Server {
    pub fn start(bucket: &str) -> anyhow::Result<S3Server> {
        let port = free_port()?;
        let child = Command::new("moto_server")
            .args(["-H", "127.0.0.1", "-p"])
            .arg(port.to_string())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .context("starting moto_server (python3 -m pip install 'moto[server]')")?;
        let server = S3Server {
            port,
            bucket: bucket.to_owned(),
            child,
        };
        wait_for_port(port, Duration::from_secs(30))?;
        // CreateBucket: moto takes it unsigned.
        let mut stream = std::net::TcpStream::connect(("127.0.0.1", port))?;
        use std::io::{Read, Write};
        write!(
            stream,
            "PUT /{bucket} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
        )?;
        let mut answer = String::new();
        stream.read_to_string(&mut answer)?;
        if !answer.starts_with("HTTP/1.1 200") {
            bail!(
                "creating bucket {bucket}: {}",
                answer.lines().next().unwrap_or("")
            );
        }
        Ok(server)
    }

    /// The endpoint to give an S3 client (path-style, plain HTTP).
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn bucket(&self) -> &str {
        &self.bucket
    }
}

impl Drop for S3Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A private PostgreSQL cluster.
pub struct PgServer {
    port: u16,
    dir: TempDir,
    bin: PathBuf,
    tls: bool,
}

fn pg_bin() -> anyhow::Result<PathBuf> {
    let mut found: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .context("PostgreSQL server binaries (apt-get install postgresql)")?
        .filter_map(|e| e.ok().map(|e| e.path().join("bin")))
        .filter(|p| p.join("pg_ctl").exists())
        .collect();
    found.sort();
    found
        .pop()
        .context("no pg_ctl under /usr/lib/postgresql/*/bin")
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

impl PgServer {
    pub fn start() -> anyhow::Result<PgServer> {
        Self::start_with(None)
    }

    /// A cluster that also accepts TLS (`ssl = on`), showing the
    /// certificate chain `cert_pem` for the key `key_pem`.
    pub fn start_with_tls(cert_pem: &str, key_pem: &str) -> anyhow::Result<PgServer> {
        Self::start_with(Some((cert_pem, key_pem)))
    }

    fn start_with(tls: Option<(&str, &str)>) -> anyhow::Result<PgServer> {
        let dir = tempfile::tempdir()?;
        let server = PgServer {
            port: free_port()?,
            dir,
            bin: pg_bin()?,
            tls: tls.is_some(),
        };
        let data = server.data();
        if is_root() {
            server.chown(server.dir.path())?;
        }
        server.run(
            "initdb",
            &[
                "-D",
                &data,
                "-U",
                "postgres",
                "--auth=trust",
                "-E",
                "UTF8",
                "--no-sync",
            ],
        )?;
        if let Some((cert, key)) = tls {
            use std::os::unix::fs::PermissionsExt;
            for (name, pem) in [("server.crt", cert), ("server.key", key)] {
                let path = Path::new(&data).join(name);
                std::fs::write(&path, pem)?;
                // PostgreSQL refuses a key others can read.
                std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))?;
                if is_root() {
                    server.chown(&path)?;
                }
            }
        }
        server.launch()?;
        Ok(server)
    }

    fn chown(&self, path: &Path) -> anyhow::Result<()> {
        let status = Command::new("chown")
            .args(["-R", "postgres:postgres"])
            .arg(path)
            .status()?;
        if !status.success() {
            bail!("chown of {} failed", path.display());
        }
        Ok(())
    }

    fn data(&self) -> String {
        self.dir.path().join("data").display().to_string()
    }

    fn run(&self, tool: &str, args: &[&str]) -> anyhow::Result<()> {
        let exe = self.bin.join(tool);
        let mut cmd = if is_root() {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(&exe);
            c
        } else {
            Command::new(&exe)
        };
        let out = cmd
            .args(args)
            .current_dir(self.dir.path())
            .stdin(Stdio::null())
            .output()
            .with_context(|| format!("running {}", exe.display()))?;
        if !out.status.success() {
            bail!(
                "{tool} failed: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            );
        }
        Ok(())
    }

    fn launch(&self) -> anyhow::Result<()> {
        let data = self.data();
        let socket_dir: &Path = self.dir.path();
        let mut options = format!(
            "-p {} -c listen_addresses=127.0.0.1 -k {} -c fsync=off -c max_connections=200",
            self.port,
            socket_dir.display()
        );
        if self.tls {
            options.push_str(" -c ssl=on");
        }
        let log = self.dir.path().join("pg.log").display().to_string();
        self.run(
            "pg_ctl",
            &["-D", &data, "-o", &options, "-l", &log, "-w", "start"],
        )
    }

    /// `postgres://postgres@127.0.0.1:PORT/postgres`
    pub fn url(&self, database: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{database}", self.port)
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Immediate shutdown: no checkpoint, every connection cut, as in a
    /// crash or a failover.
    pub fn stop(&self) -> anyhow::Result<()> {
        self.run(
            "pg_ctl",
            &["-D", &self.data(), "-m", "immediate", "-w", "stop"],
        )
    }

    pub fn start_again(&self) -> anyhow::Result<()> {
        self.launch()
    }
}

impl Drop for PgServer {
    fn drop(&mut self) {
        let _ = self.stop();
    }
}
