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
    spawned: Option<(Child, tempfile::TempDir)>,
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
        let mut cmd = Command::new(binary);
        cmd.args([
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
        .arg(dir.path())
        .args(extra)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit());
        let child = cmd
            .spawn()
            .with_context(|| format!("could not start {}", binary.display()))?;
        let url = format!("http://127.0.0.1:{port}");
        let http = reqwest::Client::new();
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if http
                .get(format!("{url}/ready"))
                .send()
                .await
                .is_ok_and(|r| r.status().is_success())
            {
                break;
            }
            if Instant::now() > deadline {
                bail!("the spawned server did not become ready");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let key = std::fs::read_to_string(dir.path().join("admin.key"))?
            .trim()
            .to_owned();
        Ok(Self {
            url,
            key,
            spawned: Some((child, dir)),
        })
    }

    /// Resident memory of the spawned server, in bytes (None for an external server).
    pub(crate) fn rss_bytes(&self) -> Option<u64> {
        let (child, _) = self.spawned.as_ref()?;
        let status = std::fs::read_to_string(format!("/proc/{}/status", child.id())).ok()?;
        let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
        let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
        Some(kb * 1024)
    }

    /// The data directory of the spawned server.
    pub(crate) fn data_dir(&self) -> Option<PathBuf> {
        self.spawned.as_ref().map(|(_, d)| d.path().to_path_buf())
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some((child, _)) = &mut self.spawned {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}
