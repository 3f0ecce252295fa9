//! Configuration: command-line flags, each with an `EDGESYNC_AGENT_*` environment twin, turned
//! into an [`AgentConfig`].

use std::collections::BTreeMap;
use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::error::{AgentError, Result};

/// The EdgeSync edge agent.
#[derive(Debug, Parser)]
#[command(name = "edgesync-agent", version, about)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Register (once), sync with the control plane and serve the functions' routes.
    Run(Box<RunArgs>),
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

/// `edgesync-agent run`.
#[derive(Args)]
pub struct RunArgs {
    /// Base URL of the control plane (`http://127.0.0.1:8080`, `https://edgesync.example.com`).
    #[arg(long, env = "EDGESYNC_AGENT_SERVER")]
    pub server: String,
    /// Enrollment key (an API key with the `nodes:register` scope); needed only for the first
    /// start, before `<data-dir>/credentials.json` exists.
    #[arg(long, env = "EDGESYNC_AGENT_ENROLL_KEY", hide_env_values = true)]
    pub enroll_key: Option<String>,
    /// Unique node name (needed to register).
    #[arg(long, env = "EDGESYNC_AGENT_NAME")]
    pub name: Option<String>,
    /// Point of presence.
    #[arg(long, env = "EDGESYNC_AGENT_POP", default_value = "default")]
    pub pop: String,
    /// Region.
    #[arg(long, env = "EDGESYNC_AGENT_REGION", default_value = "")]
    pub region: String,
    /// A label `key=value` deployments select on; repeat the flag for several (the variable
    /// takes a comma-separated list).
    #[arg(long = "label", env = "EDGESYNC_AGENT_LABELS", value_delimiter = ',', value_parser = parse_label)]
    pub labels: Vec<(String, String)>,
    /// Where the agent keeps its credentials, artifacts, state and SQLite database.
    #[arg(
        long,
        env = "EDGESYNC_AGENT_DATA_DIR",
        default_value = "./edgesync-agent-data"
    )]
    pub data_dir: PathBuf,
    /// Address the functions' routes (and `/_agent/status`) are served on.
    #[arg(long, env = "EDGESYNC_AGENT_LISTEN", default_value = "127.0.0.1:8081")]
    pub listen: SocketAddr,
    /// Memory the node offers to functions, in bytes (advertised at registration).
    #[arg(long, env = "EDGESYNC_AGENT_MEMORY_BUDGET_BYTES")]
    pub memory_budget_bytes: Option<u64>,
    /// Seconds between heartbeats.
    #[arg(
        long,
        env = "EDGESYNC_AGENT_HEARTBEAT_INTERVAL_S",
        default_value_t = 10
    )]
    pub heartbeat_interval_s: u64,
    /// Seconds between telemetry pushes.
    #[arg(
        long,
        env = "EDGESYNC_AGENT_TELEMETRY_INTERVAL_S",
        default_value_t = 15
    )]
    pub telemetry_interval_s: u64,
    /// Seconds between command polls.
    #[arg(long, env = "EDGESYNC_AGENT_COMMAND_INTERVAL_S", default_value_t = 5)]
    pub command_interval_s: u64,
    /// Seconds a sync long poll waits for a change (at most 60).
    #[arg(long, env = "EDGESYNC_AGENT_SYNC_WAIT_S", default_value_t = 30)]
    pub sync_wait_s: u64,
    /// Versions (artifacts and compiled modules) kept per function, the running one included,
    /// so that a rollback is a pointer swap.
    #[arg(long, env = "EDGESYNC_AGENT_KEEP_VERSIONS", default_value_t = 3)]
    pub keep_versions: usize,
    /// PEM bundle of CA certificates to trust for an `https://` server (in addition to the
    /// system's).
    #[arg(long, env = "EDGESYNC_AGENT_ROOT_CA")]
    pub root_ca: Option<PathBuf>,
    /// Largest request body passed to a function, in bytes.
    #[arg(long, env = "EDGESYNC_AGENT_MAX_REQUEST_BYTES", default_value_t = 10 * 1024 * 1024)]
    pub max_request_bytes: usize,
    /// Largest response (CGI headers and body) a function may write, in bytes.
    #[arg(long, env = "EDGESYNC_AGENT_MAX_RESPONSE_BYTES", default_value_t = 10 * 1024 * 1024)]
    pub max_response_bytes: usize,
    /// Log format.
    #[arg(long, env = "EDGESYNC_AGENT_LOG_FORMAT", value_enum, default_value_t = LogFormat::Pretty)]
    pub log_format: LogFormat,
}

impl fmt::Debug for RunArgs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RunArgs")
            .field("server", &self.server)
            .field(
                "enroll_key",
                &self.enroll_key.as_ref().map(|_| "<redacted>"),
            )
            .field("name", &self.name)
            .field("data_dir", &self.data_dir)
            .field("listen", &self.listen)
            .finish_non_exhaustive()
    }
}

fn parse_label(raw: &str) -> std::result::Result<(String, String), String> {
    match raw.split_once('=') {
        Some((k, v)) if !k.trim().is_empty() => Ok((k.trim().to_owned(), v.trim().to_owned())),
        _ => Err(format!("label {raw:?} is not key=value")),
    }
}

/// Everything the agent needs to run. Its `Debug` never shows the enrollment key.
#[derive(Clone)]
pub struct AgentConfig {
    /// Base URL of the control plane.
    pub server: String,
    /// Enrollment key for the first registration.
    pub enroll_key: Option<String>,
    /// Node name (needed to register).
    pub name: Option<String>,
    /// Point of presence.
    pub pop: String,
    /// Region.
    pub region: String,
    /// Labels.
    pub labels: BTreeMap<String, String>,
    /// Data directory.
    pub data_dir: PathBuf,
    /// HTTP listen address.
    pub listen: SocketAddr,
    /// Memory offered to functions (advertised).
    pub memory_budget_bytes: Option<u64>,
    /// Between heartbeats.
    pub heartbeat_interval: Duration,
    /// Between telemetry pushes.
    pub telemetry_interval: Duration,
    /// Between command polls.
    pub command_interval: Duration,
    /// Long-poll wait of a sync request.
    pub sync_wait: Duration,
    /// Versions kept per function.
    pub keep_versions: usize,
    /// PEM CA bundle for an `https://` server.
    pub root_ca: Option<PathBuf>,
    /// Largest request body, in bytes.
    pub max_request_bytes: usize,
    /// Largest function output, in bytes.
    pub max_response_bytes: usize,
    /// How often the WASM engine's epoch advances (the granularity of time limits).
    pub epoch_tick: Duration,
}

impl AgentConfig {
    /// A configuration with the defaults of `edgesync-agent run` for everything but the
    /// server URL and the data directory.
    pub fn new(server: impl Into<String>, data_dir: impl Into<PathBuf>) -> Self {
        Self {
            server: server.into(),
            enroll_key: None,
            name: None,
            pop: "default".into(),
            region: String::new(),
            labels: BTreeMap::new(),
            data_dir: data_dir.into(),
            listen: SocketAddr::from(([127, 0, 0, 1], 8081)),
            memory_budget_bytes: None,
            heartbeat_interval: Duration::from_secs(10),
            telemetry_interval: Duration::from_secs(15),
            command_interval: Duration::from_secs(5),
            sync_wait: Duration::from_secs(30),
            keep_versions: 3,
            root_ca: None,
            max_request_bytes: 10 * 1024 * 1024,
            max_response_bytes: 10 * 1024 * 1024,
            epoch_tick: Duration::from_millis(2),
        }
    }

    /// Checks what the flags cannot.
    pub fn validate(&self) -> Result<()> {
        let positive = [
            ("heartbeat interval", self.heartbeat_interval),
            ("telemetry interval", self.telemetry_interval),
            ("command interval", self.command_interval),
            ("epoch tick", self.epoch_tick),
        ];
        if let Some((what, _)) = positive.iter().find(|(_, d)| d.is_zero()) {
            return Err(AgentError::Config(format!("the {what} must be positive")));
        }
        if self.sync_wait > Duration::from_secs(60) {
            return Err(AgentError::Config(
                "the sync wait is at most 60 seconds".into(),
            ));
        }
        if self.keep_versions == 0 {
            return Err(AgentError::Config(
                "keep at least one version per function".into(),
            ));
        }
        Ok(())
    }
}

impl From<RunArgs> for AgentConfig {
    fn from(a: RunArgs) -> Self {
        Self {
            server: a.server,
            enroll_key: a.enroll_key,
            name: a.name,
            pop: a.pop,
            region: a.region,
            labels: a.labels.into_iter().collect(),
            data_dir: a.data_dir,
            listen: a.listen,
            memory_budget_bytes: a.memory_budget_bytes,
            heartbeat_interval: Duration::from_secs(a.heartbeat_interval_s),
            telemetry_interval: Duration::from_secs(a.telemetry_interval_s),
            command_interval: Duration::from_secs(a.command_interval_s),
            sync_wait: Duration::from_secs(a.sync_wait_s),
            keep_versions: a.keep_versions,
            root_ca: a.root_ca,
            max_request_bytes: a.max_request_bytes,
            max_response_bytes: a.max_response_bytes,
            epoch_tick: Duration::from_millis(2),
        }
    }
}

impl fmt::Debug for AgentConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AgentConfig")
            .field("server", &self.server)
            .field(
                "enroll_key",
                &self.enroll_key.as_ref().map(|_| "<redacted>"),
            )
            .field("name", &self.name)
            .field("pop", &self.pop)
            .field("labels", &self.labels)
            .field("data_dir", &self.data_dir)
            .field("listen", &self.listen)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn flags_parse_and_secrets_stay_hidden() {
        let cli = Cli::try_parse_from([
            "edgesync-agent",
            "run",
            "--server",
            "http://127.0.0.1:8080",
            "--enroll-key",
            "esk_top_secret",
            "--name",
            "edge-1",
            "--pop",
            "fra",
            "--label",
            "tier=edge",
            "--label",
            "region=eu",
            "--data-dir",
            "/tmp/x",
            "--listen",
            "127.0.0.1:9000",
        ])
        .unwrap();
        let Command::Run(args) = cli.command;
        assert!(!format!("{args:?}").contains("top_secret"));
        let config = AgentConfig::from(*args);
        assert_eq!(config.labels.get("tier").map(String::as_str), Some("edge"));
        assert_eq!(config.labels.len(), 2);
        assert_eq!(config.listen.port(), 9000);
        assert!(!format!("{config:?}").contains("top_secret"));
        config.validate().unwrap();
    }

    #[test]
    fn bad_labels_are_refused() {
        assert!(parse_label("novalue").is_err());
        assert!(parse_label("=v").is_err());
        assert_eq!(parse_label("a=").unwrap(), ("a".into(), String::new()));
    }
}
