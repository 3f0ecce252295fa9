//! The server under test: one given by URL and key, or one this simulator starts itself (so it
//! can set the benchmark flags and read the process's memory).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

/// A server the simulator talks to.
pub(crate) struct Server {
    /// Base URL.
    pub(crate) url: String,
    /// An admin API key.
    pub(crate) key: String,
    spawned: Option<Spawned>,
}

/// A server process this simulator started, and how to start it again.
struct Spawned {
    child: Child,
    dir: tempfile::TempDir,
    binary: PathBuf,
    port: u16,
    extra: Vec<String>,
}

impl Spawned {
    fn start(binary: &Path, dir: &Path, port: u16, extra: &[String]) -> anyhow::Result<Child> {
        Command::new(binary)
            .args([
                "serve",
                "--listen",
                &format!("127.0.0.1:{port}"),
                "--bench-routes",
                "--rate-limit-rps",
                "0",
                "--offline-timeout-s",
                "3600",
                "--request-timeout-s",
                "0",
            ])
            .arg("--data-dir")
            .arg(dir)
            .args(extra)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .with_context(|| format!("could not start {}", binary.display()))
    }
}

/// Waits until `GET {url}/ready` answers 200.
async fn wait_ready(url: &str) -> anyhow::Result<()> {
    let http = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        if http
            .get(format!("{url}/ready"))
            .send()
            .await
            .is_ok_and(|r| r.status().is_success())
        {
            return Ok(());
        }
        if Instant::now() > deadline {
            bail!("the spawned server did not become ready");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

impl Server {
    /// A server that already runs.
    pub(crate) fn external(url: &str, key_file: &Path) -> anyhow::Result<Self> {
        let key = std::fs::read_to_string(key_file)
            .with_context(|| format!("could not read the API key from {}", key_file.display()))?
            .trim()
            .to_owned();
        Ok(Self {
            url: url.trim_end_matches('/').to_owned(),
            key,
            spawned: None,
        })
    }

    /// Starts `edgesync serve` on a fresh data directory with the benchmark route on and rate
    /// limits off.
    pub(crate) async fn spawn(binary: &Path, extra: &[String]) -> anyhow::Result<Self> {
        let dir = tempfile::tempdir()?;
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        let child = Spawned::start(binary, dir.path(), port, extra)?;
        let url = format!("http://127.0.0.1:{port}");
        wait_ready(&url).await?;
        let key = std::fs::read_to_string(dir.path().join("admin.key"))?
            .trim()
            .to_owned();
        Ok(Self {
            url,
            key,
            spawned: Some(Spawned {
                child,
                dir,
                binary: binary.to_path_buf(),
                port,
                extra: extra.to_vec(),
            }),
        })
    }

    /// Kills the spawned server with SIGKILL (nothing flushed on the way out), starts it again
    /// on the same data directory and port, and returns how long it took to answer `/ready`.
    /// `None` for an external server.
    pub(crate) async fn kill_and_restart(&mut self) -> anyhow::Result<Option<Duration>> {
        let Some(s) = self.spawned.as_mut() else {
            return Ok(None);
        };
        s.child.kill()?;
        s.child.wait()?;
        let started = Instant::now();
        s.child = Spawned::start(&s.binary, s.dir.path(), s.port, &s.extra)?;
        wait_ready(&self.url).await?;
        Ok(Some(started.elapsed()))
    }

    /// Resident memory of the spawned server, in bytes (None for an external server).
    pub(crate) fn rss_bytes(&self) -> Option<u64> {
        self.status_bytes("VmRSS:")
    }

    /// The most memory the spawned server (this process of it) has held resident, in bytes.
    pub(crate) fn peak_rss_bytes(&self) -> Option<u64> {
        self.status_bytes("VmHWM:")
    }

    /// A `kB` field of the spawned server's `/proc/PID/status`, in bytes.
    fn status_bytes(&self, field: &str) -> Option<u64> {
        let s = self.spawned.as_ref()?;
        let status = std::fs::read_to_string(format!("/proc/{}/status", s.child.id())).ok()?;
        let line = status.lines().find(|l| l.starts_with(field))?;
        let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
        Some(kb * 1024)
    }

    /// The data directory of the spawned server.
    pub(crate) fn data_dir(&self) -> Option<PathBuf> {
        self.spawned.as_ref().map(|s| s.dir.path().to_path_buf())
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(s) = &mut self.spawned {
            let _ = s.child.kill();
            let _ = s.child.wait();
        }
    }
}
