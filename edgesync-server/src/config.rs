//! Command line and environment: every flag has an `EDGESYNC_*` twin.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// The EdgeSync control plane.
#[derive(Debug, Parser)]
#[command(
    name = "edgesync",
    version,
    about,
    args_conflicts_with_subcommands = true
)]
pub struct Cli {
    /// What to do (default: `serve`).
    #[command(subcommand)]
    pub command: Option<Command>,
    /// `serve`'s arguments, when no subcommand is given.
    #[command(flatten)]
    pub serve: ServeArgs,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the server (the default).
    Serve(ServeArgs),
    /// Print the OpenAPI document.
    Openapi,
}

/// Log line format.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// One JSON object per line (for machines).
    Json,
    /// Human-readable.
    #[default]
    Pretty,
}

/// `edgesync serve`.
#[derive(Clone, Debug, Args)]
pub struct ServeArgs {
    /// Where single-binary mode keeps its data (sled store, artifacts, admin key).
    #[arg(long, env = "EDGESYNC_DATA_DIR", default_value = "./edgesync-data")]
    pub data_dir: PathBuf,

    /// Address to listen on.
    #[arg(long, env = "EDGESYNC_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,

    /// Record store URL: `sled:///path` (default: `<data-dir>/store`).
    #[arg(long, env = "EDGESYNC_STORE")]
    pub store: Option<String>,

    /// Artifact store URL: `file:///path`, `memory://` or `s3://bucket?endpoint=…`
    /// (default: `<data-dir>/artifacts`).
    #[arg(long, env = "EDGESYNC_ARTIFACTS")]
    pub artifacts: Option<String>,

    /// Base URL nodes and operators reach this server at (used in signed artifact URLs).
    /// Default: `http://<listen>`.
    #[arg(long, env = "EDGESYNC_PUBLIC_URL")]
    pub public_url: Option<String>,

    /// Seconds without a heartbeat after which a node is offline.
    #[arg(long, env = "EDGESYNC_OFFLINE_TIMEOUT_S", default_value_t = 30)]
    pub offline_timeout_s: u64,

    /// Lifetime of node tokens, in seconds.
    #[arg(long, env = "EDGESYNC_NODE_TOKEN_TTL_S", default_value_t = 3600)]
    pub node_token_ttl_s: u64,

    /// Lifetime of signed artifact URLs, in seconds.
    #[arg(long, env = "EDGESYNC_ARTIFACT_URL_TTL_S", default_value_t = 900)]
    pub artifact_url_ttl_s: u64,

    /// Largest accepted WASM module, in bytes.
    #[arg(long, env = "EDGESYNC_MAX_MODULE_BYTES", default_value_t = 64 * 1024 * 1024)]
    pub max_module_bytes: u64,

    /// Largest accepted JSON request body, in bytes.
    #[arg(long, env = "EDGESYNC_MAX_BODY_BYTES", default_value_t = 1024 * 1024)]
    pub max_body_bytes: usize,

    /// Log format.
    #[arg(long, env = "EDGESYNC_LOG_FORMAT", value_enum, default_value_t = LogFormat::Pretty)]
    pub log_format: LogFormat,
}

impl ServeArgs {
    /// The defaults, as `edgesync serve` with no arguments and no environment would have them.
    pub fn defaults_for(data_dir: PathBuf, listen: SocketAddr) -> Self {
        Self {
            data_dir,
            listen,
            store: None,
            artifacts: None,
            public_url: None,
            offline_timeout_s: 30,
            node_token_ttl_s: 3600,
            artifact_url_ttl_s: 900,
            max_module_bytes: 64 * 1024 * 1024,
            max_body_bytes: 1024 * 1024,
            log_format: LogFormat::Pretty,
        }
    }

    /// The base URL clients reach this server at.
    pub fn public_url(&self) -> String {
        self.public_url
            .clone()
            .unwrap_or_else(|| format!("http://{}", self.listen))
            .trim_end_matches('/')
            .to_owned()
    }

    /// The control plane's tunables.
    pub fn core_config(&self) -> edgesync_core::Config {
        edgesync_core::Config {
            offline_timeout: Duration::from_secs(self.offline_timeout_s.max(1)),
            node_token_ttl: Duration::from_secs(self.node_token_ttl_s.max(60)),
            artifact_url_ttl: Duration::from_secs(self.artifact_url_ttl_s.max(10)),
            max_module_bytes: self.max_module_bytes,
            artifact_url_base: format!("{}/api/v1/artifacts", self.public_url()),
            ..edgesync_core::Config::default()
        }
    }
}
