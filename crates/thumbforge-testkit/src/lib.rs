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
