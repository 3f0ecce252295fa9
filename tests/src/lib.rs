//! Helpers for end-to-end tests: run the real `edgesync` binary on a free port and a temp data
//! directory, and talk to it over HTTP.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

mod agent;
mod control;

pub use agent::AgentProcess;
pub use control::{deploy, example_wasm, metadata, operator, route, upload};

/// Path of the workspace binary `name`, fresh: the first call in a test process runs
/// `cargo build --workspace --bins` (a no-op when nothing changed). Building every binary in one
/// invocation resolves features once, so all of them share one set of compiled dependencies
/// (`cargo build -p <package>` per binary would compile a set per package).
pub fn binary(name: &str) -> PathBuf {
    static BUILT: OnceLock<()> = OnceLock::new();
    BUILT.get_or_init(|| {
        let status = Command::new(env!("CARGO"))
            .args(["build", "--quiet", "--workspace", "--bins"])
            .status()
            .unwrap();
        assert!(status.success(), "could not build the workspace's binaries");
    });
    let exe = std::env::current_exe().unwrap();
    // target/<profile>/deps/<test> → target/<profile>/<name>
    let dir = exe.parent().and_then(Path::parent).unwrap();
    dir.join(name)
}

/// Runs `edgesync migrate --store <store_url>` and fails the test if it fails.
pub fn migrate_store(store_url: &str) {
    let out = Command::new(binary("edgesync"))
        .args(["migrate", "--store", store_url])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "edgesync migrate failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A free loopback port.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A running `edgesync serve`.
pub struct ServerProcess {
    child: Child,
    /// `http://127.0.0.1:<port>`.
    pub url: String,
    /// Its data directory.
    pub data_dir: PathBuf,
}

impl ServerProcess {
    /// Starts the server on `data_dir` and waits until `/ready` answers 200.
    pub async fn start(data_dir: &Path, extra_env: &[(&str, &str)]) -> Self {
        Self::start_on_port(data_dir, free_port(), extra_env).await
    }

    /// [`start`](Self::start) on a given port (to restart a server where its nodes expect it).
    pub async fn start_on_port(data_dir: &Path, port: u16, extra_env: &[(&str, &str)]) -> Self {
        let url = format!("http://127.0.0.1:{port}");
        let mut cmd = Command::new(binary("edgesync"));
        cmd.arg("serve")
            .arg("--data-dir")
            .arg(data_dir)
            .arg("--listen")
            .arg(format!("127.0.0.1:{port}"))
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::inherit());
        for (k, v) in extra_env {
            cmd.env(k, v);
        }
        let child = cmd.spawn().unwrap();
        let server = Self {
            child,
            url,
            data_dir: data_dir.to_path_buf(),
        };
        server.wait_ready().await;
        server
    }

    async fn wait_ready(&self) {
        let client = reqwest::Client::new();
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(r) = client.get(format!("{}/ready", self.url)).send().await
                && r.status().is_success()
            {
                return;
            }
            assert!(Instant::now() < deadline, "the server did not become ready");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The port it listens on.
    pub fn port(&self) -> u16 {
        self.url.rsplit(':').next().unwrap().parse().unwrap()
    }

    /// The admin key written on first start.
    pub fn admin_key(&self) -> String {
        std::fs::read_to_string(self.data_dir.join("admin.key"))
            .unwrap()
            .trim()
            .to_owned()
    }

    /// Kills the process with SIGKILL (no chance to flush anything).
    pub fn kill(mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
