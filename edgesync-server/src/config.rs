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
    Serve(Box<ServeArgs>),
    /// Print the OpenAPI document.
    Openapi,
    /// Apply the SQL store's schema migrations (`EDGESYNC_STORE=postgresql://…`) and exit.
    Migrate(MigrateArgs),
    /// Create an API key directly in the store and print its secret (for automation, or when
    /// every admin key is lost). With sled, stop the server first.
    CreateKey(Box<CreateKeyArgs>),
}

/// `edgesync create-key`.
#[derive(Clone, Debug, Args)]
pub struct CreateKeyArgs {
    /// The key's name.
    #[arg(long)]
    pub name: String,
    /// Scopes (repeatable): `admin`, `deploy`, `read`, `nodes:register`.
    #[arg(long = "scope", required = true)]
    pub scopes: Vec<String>,
    /// The store to write to (same settings as `serve`).
    #[command(flatten)]
    pub serve: ServeArgs,
}

/// `edgesync migrate`.
#[derive(Clone, Debug, Args)]
pub struct MigrateArgs {
    /// Record store URL (`postgresql://`, `postgres://`, `cockroachdb://`; sled needs no
    /// migration).
    #[arg(long, env = "EDGESYNC_STORE")]
    pub store: String,
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

/// The oldest TLS protocol version the server accepts.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum)]
pub enum TlsMinVersion {
    /// TLS 1.3 only (the default).
    #[default]
    #[value(name = "1.3")]
    Tls13,
    /// TLS 1.2 and 1.3, for agents that cannot speak 1.3.
    #[value(name = "1.2")]
    Tls12,
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

    /// Record store URL: `sled:///path` (default: `<data-dir>/store`), or
    /// `postgresql://…` / `cockroachdb://…` for CockroachDB (several replicas may share it).
    #[arg(long, env = "EDGESYNC_STORE")]
    pub store: Option<String>,

    /// Largest number of database connections (SQL store).
    #[arg(long, env = "EDGESYNC_DB_MAX_CONNECTIONS", default_value_t = 16)]
    pub db_max_connections: u32,

    /// sled's page cache, in MiB (sled store). What hot paths read lives in the server's own
    /// tables; this cache holds the pages being written and occasional reads.
    #[arg(long, env = "EDGESYNC_SLED_CACHE_MB", default_value_t = 64)]
    pub sled_cache_mb: u64,

    /// MQTT broker for node notifications (`mqtt://host:1883`, `mqtts://host:8883`); off when
    /// unset: nodes converge by polling.
    #[arg(long, env = "EDGESYNC_MQTT")]
    pub mqtt: Option<String>,

    /// Artifact store URL: `file:///path`, `memory://` or `s3://bucket?endpoint=…`
    /// (default: `<data-dir>/artifacts`).
    #[arg(long, env = "EDGESYNC_ARTIFACTS")]
    pub artifacts: Option<String>,

    /// Base URL nodes and operators reach this server at (used in signed artifact URLs).
    /// Default: `http://<listen>`, or `https://<listen>` with TLS.
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

    /// Lifetime of signed upload URLs (two-step registration), in seconds; a version whose
    /// binary has not arrived by then is rejected.
    #[arg(long, env = "EDGESYNC_UPLOAD_URL_TTL_S", default_value_t = 900)]
    pub upload_url_ttl_s: u64,

    /// Largest accepted WASM module, in bytes.
    #[arg(long, env = "EDGESYNC_MAX_MODULE_BYTES", default_value_t = 64 * 1024 * 1024)]
    pub max_module_bytes: u64,

    /// Largest accepted JSON request body, in bytes.
    #[arg(long, env = "EDGESYNC_MAX_BODY_BYTES", default_value_t = 1024 * 1024)]
    pub max_body_bytes: usize,

    /// PEM certificate chain to serve HTTPS with (needs `--tls-key`). Reloaded when the file
    /// changes on disk.
    #[arg(
        long,
        env = "EDGESYNC_TLS_CERT",
        value_name = "PATH",
        requires = "tls_key"
    )]
    pub tls_cert: Option<PathBuf>,

    /// PEM private key of `--tls-cert` (needs `--tls-cert`). Reloaded when the file changes.
    #[arg(
        long,
        env = "EDGESYNC_TLS_KEY",
        value_name = "PATH",
        requires = "tls_cert"
    )]
    pub tls_key: Option<PathBuf>,

    /// Oldest TLS version accepted: `1.3` (TLS 1.3 only) or `1.2` (for old agents).
    #[arg(long, env = "EDGESYNC_TLS_MIN_VERSION", value_enum, default_value_t = TlsMinVersion::Tls13)]
    pub tls_min_version: TlsMinVersion,

    /// Requests per second each API key, node token or unauthenticated client address may
    /// make on average; 0 disables rate limiting.
    #[arg(long, env = "EDGESYNC_RATE_LIMIT_RPS", default_value_t = 100)]
    pub rate_limit_rps: u32,

    /// Requests a client may make at once before the rate applies; 0 means the rate itself.
    #[arg(long, env = "EDGESYNC_RATE_LIMIT_BURST", default_value_t = 200)]
    pub rate_limit_burst: u32,

    /// Function uploads in progress at once; more are refused with 429. 0 means unbounded.
    #[arg(long, env = "EDGESYNC_MAX_CONCURRENT_UPLOADS", default_value_t = 4)]
    pub max_concurrent_uploads: usize,

    /// Seconds a request may take before it is answered 503 (not applied to uploads and
    /// long-poll sync requests); 0 disables.
    #[arg(long, env = "EDGESYNC_REQUEST_TIMEOUT_S", default_value_t = 30)]
    pub request_timeout_s: u64,

    /// Every API key must HMAC-sign its requests (see docs/api.md), not only keys created with
    /// `require_signature`.
    #[arg(long, env = "EDGESYNC_REQUIRE_SIGNATURES")]
    pub require_signatures: bool,

    /// Largest `memory_pages` a function may declare (64 KiB each).
    #[arg(
        long,
        env = "EDGESYNC_QUOTA_MAX_MEMORY_PAGES",
        default_value_t = 65_536
    )]
    pub quota_max_memory_pages: u32,

    /// Largest `max_execution_ms` a function may declare.
    #[arg(
        long,
        env = "EDGESYNC_QUOTA_MAX_EXECUTION_MS",
        default_value_t = 300_000
    )]
    pub quota_max_execution_ms: u32,

    /// Largest `max_concurrency` a function may declare.
    #[arg(long, env = "EDGESYNC_QUOTA_MAX_CONCURRENCY", default_value_t = 10_000)]
    pub quota_max_concurrency: u32,

    /// Serve `GET /bench/hello`, a trivial route the fleet simulator measures the server
    /// against (benchmarks only).
    #[arg(long, env = "EDGESYNC_BENCH_ROUTES")]
    pub bench_routes: bool,

    /// How long telemetry is kept, in seconds.
    #[arg(long, env = "EDGESYNC_TELEMETRY_RETENTION_S", default_value_t = 7 * 86_400)]
    pub telemetry_retention_s: u64,

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
            upload_url_ttl_s: 900,
            max_module_bytes: 64 * 1024 * 1024,
            max_body_bytes: 1024 * 1024,
            tls_cert: None,
            tls_key: None,
            tls_min_version: TlsMinVersion::Tls13,
            rate_limit_rps: 100,
            rate_limit_burst: 200,
            max_concurrent_uploads: 4,
            request_timeout_s: 30,
            db_max_connections: 16,
            sled_cache_mb: 64,
            mqtt: None,
            require_signatures: false,
            quota_max_memory_pages: 65_536,
            quota_max_execution_ms: 300_000,
            quota_max_concurrency: 10_000,
            telemetry_retention_s: 7 * 86_400,
            bench_routes: false,
            log_format: LogFormat::Pretty,
        }
    }

    /// The TLS settings, if HTTPS is on. Fails when only one of certificate and key is set.
    pub fn tls_settings(&self) -> edgesync_core::Result<Option<crate::tls::TlsSettings>> {
        match (&self.tls_cert, &self.tls_key) {
            (None, None) => Ok(None),
            (Some(cert), Some(key)) => Ok(Some(crate::tls::TlsSettings {
                cert: cert.clone(),
                key: key.clone(),
                min_version: self.tls_min_version,
                reload_interval: crate::tls::DEFAULT_RELOAD_INTERVAL,
            })),
            _ => Err(edgesync_core::Error::invalid(
                "--tls-cert and --tls-key (EDGESYNC_TLS_CERT, EDGESYNC_TLS_KEY) go together: set both to serve HTTPS, or neither",
            )),
        }
    }

    /// The limits the HTTP layer enforces.
    pub fn http_limits(&self) -> crate::HttpLimits {
        crate::HttpLimits {
            max_body_bytes: self.max_body_bytes,
            rate_limit_rps: self.rate_limit_rps,
            rate_limit_burst: self.rate_limit_burst,
            max_concurrent_uploads: self.max_concurrent_uploads,
            request_timeout: (self.request_timeout_s > 0)
                .then(|| Duration::from_secs(self.request_timeout_s)),
            bench_routes: self.bench_routes,
        }
    }

    /// The base URL clients reach this server at (`https://` by default when TLS is on).
    pub fn public_url(&self) -> String {
        let scheme = if self.tls_cert.is_some() {
            "https"
        } else {
            "http"
        };
        self.public_url
            .clone()
            .unwrap_or_else(|| format!("{scheme}://{}", self.listen))
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
            upload_url_ttl: Duration::from_secs(self.upload_url_ttl_s.max(10)),
            upload_url_base: format!("{}/api/v1/uploads", self.public_url()),
            require_signatures: self.require_signatures,
            quotas: edgesync_core::Quotas {
                max_memory_pages: self.quota_max_memory_pages,
                max_execution_ms: self.quota_max_execution_ms,
                max_concurrency: self.quota_max_concurrency,
            },
            telemetry_retention: Duration::from_secs(self.telemetry_retention_s.max(60)),
            ..edgesync_core::Config::default()
        }
    }
}
