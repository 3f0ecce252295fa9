//! The demo's processes: the real `edgesync` server and `edgesync-agent` binaries, built if
//! needed, on free loopback ports, with their logs in the demo's temp directory.

use std::fs::File;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

/// Builds the two binaries (a no-op when they are fresh) and returns the directory holding
/// them (beside this demo's own executable).
pub(crate) fn build_binaries() -> Result<PathBuf> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| env!("CARGO").to_owned());
    let status = Command::new(cargo)
        .args([
            "build",
            "--quiet",
            "-p",
            "edgesync-server",
            "--bin",
            "edgesync",
            "-p",
            "edgesync-agent",
            "--bin",
            "edgesync-agent",
        ])
        .status()
        .context("could not run cargo")?;
    if !status.success() {
        bail!("building edgesync and edgesync-agent failed");
    }
    let exe = std::env::current_exe()?;
    exe.parent()
        .map(Path::to_path_buf)
        .context("the demo's executable has no directory")
}

/// A free loopback port.
pub(crate) fn free_port() -> Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// A child process killed when dropped.
pub(crate) struct Proc {
    child: Child,
    /// Its log file.
    pub(crate) log: PathBuf,
}

impl Proc {
    /// Starts `program args…` with stdout and stderr in `log`.
    pub(crate) fn spawn(program: &Path, args: &[String], log: PathBuf) -> Result<Self> {
        let out = File::create(&log)?;
        let child = Command::new(program)
            .args(args)
            .env("RUST_LOG", "info,poem=warn")
            .stdout(Stdio::from(out.try_clone()?))
            .stderr(Stdio::from(out))
            .spawn()
            .with_context(|| format!("could not start {}", program.display()))?;
        Ok(Self { child, log })
    }

    /// The last lines of its log (for error reports).
    pub(crate) fn tail(&self, lines: usize) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let all: Vec<&str> = text.lines().collect();
        all[all.len().saturating_sub(lines)..].join("\n")
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Polls `check` every 100 ms until it returns `Some`, for at most `timeout`.
pub(crate) async fn wait_for<T, F, Fut>(what: &str, timeout: Duration, mut check: F) -> Result<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = check().await {
            return Ok(v);
        }
        if Instant::now() > deadline {
            bail!("{what} did not happen within {timeout:?}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
