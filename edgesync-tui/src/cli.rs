//! Command-line arguments.

use std::path::PathBuf;
use std::time::Duration;

use clap::Parser;

/// `edgesync-tui`: the terminal console of an EdgeSync fleet.
#[derive(Clone, Debug, Parser)]
#[command(
    name = "edgesync-tui",
    version,
    about = "The terminal console of an EdgeSync fleet (press ? inside for every key)."
)]
pub struct Args {
    /// Base URL of the EdgeSync server.
    #[arg(
        long,
        env = "EDGESYNC_TUI_SERVER",
        default_value = "http://127.0.0.1:8080"
    )]
    pub server: String,

    /// File holding the operator API key (`esk_…`); default `./edgesync-data/admin.key`, the
    /// key `edgesync serve` writes on first start (with --data-dir: `DIR/admin.key`).
    #[arg(long, env = "EDGESYNC_TUI_KEY_FILE")]
    pub key_file: Option<PathBuf>,

    /// Embedded mode: open this data directory in-process (no server needed). Refused when a
    /// server holds the directory.
    #[arg(long, env = "EDGESYNC_TUI_DATA_DIR", conflicts_with = "server")]
    pub data_dir: Option<PathBuf>,

    /// Seconds between refreshes of the current view.
    #[arg(long, env = "EDGESYNC_TUI_REFRESH_S", default_value_t = 2)]
    pub refresh_s: u64,

    /// The server's offline timeout in seconds (last-seen colours: green below half, yellow
    /// above, red when offline).
    #[arg(long, env = "EDGESYNC_TUI_OFFLINE_TIMEOUT_S", default_value_t = 30)]
    pub offline_timeout_s: u64,

    /// Seconds a request may take before it counts as failed (slow links: raise it).
    #[arg(long, env = "EDGESYNC_TUI_TIMEOUT_S", default_value_t = 20)]
    pub timeout_s: u64,
}

/// The default key file.
pub const DEFAULT_KEY_FILE: &str = "./edgesync-data/admin.key";

impl Args {
    /// The key file to read in remote mode.
    pub fn key_file(&self) -> PathBuf {
        self.key_file
            .clone()
            .unwrap_or_else(|| PathBuf::from(DEFAULT_KEY_FILE))
    }

    /// How often the current view refreshes.
    pub fn refresh_every(&self) -> Duration {
        Duration::from_secs(self.refresh_s.max(1))
    }
}

/// Reads an API key from `path`, explaining what to do when it is missing.
pub fn read_key_file(path: &std::path::Path) -> anyhow::Result<String> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        anyhow::anyhow!(
            "cannot read the API key file {}: {e}\n  Start the server first (`edgesync serve` writes ./edgesync-data/admin.key), \
             pass --key-file FILE (or EDGESYNC_TUI_KEY_FILE), or open a data directory in-process with --data-dir DIR",
            path.display()
        )
    })?;
    let key = text.trim().to_owned();
    anyhow::ensure!(
        !key.is_empty(),
        "the API key file {} is empty",
        path.display()
    );
    Ok(key)
}
