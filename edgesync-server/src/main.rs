//! `edgesync`: the control-plane server.

use std::io::Write;
use std::path::Path;

use anyhow::Context;
use clap::Parser;
use edgesync_server::config::{Cli, Command, LogFormat, ServeArgs};
use edgesync_server::{app_with_metrics, jobs, openapi_json, tls, wiring};
use poem::Server;
use poem::listener::{AcceptorExt, Listener, TcpListener};
use tokio_util::sync::CancellationToken;
use tracing_subscriber::EnvFilter;

/// mimalloc rather than the system allocator: the server allocates and frees many small
/// buffers per request from two worker threads and a blocking pool (docs/performance.md).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Some(Command::Openapi) => {
            println!("{}", openapi_json().await?);
            Ok(())
        }
        Some(Command::Serve(args)) => serve(*args).await,
        Some(Command::CreateKey(args)) => create_key(*args).await,
        Some(Command::Migrate(args)) => {
            init_logging(LogFormat::Pretty);
            let state = wiring::migrate(&args.store)
                .await
                .context("could not migrate the store")?;
            println!("{state}");
            Ok(())
        }
        None => serve(cli.serve).await,
    }
}

/// Turns transparent huge pages off for this process. mimalloc asks for them on its arenas, and
/// gives freed pages back to the system: touching one again then faulted in (and zeroed) a whole
/// 2 MiB page, which took 7-10 % of the server's time under heartbeats at 100k nodes
/// (docs/performance.md).
fn no_transparent_huge_pages() {
    #[cfg(target_os = "linux")]
    if let Err(e) = rustix::thread::disable_transparent_huge_pages(true) {
        tracing::warn!(error = %e, "could not turn transparent huge pages off");
    }
}

fn init_logging(format: LogFormat) {
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("info,poem=warn,sled=warn"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter);
    match format {
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .init(),
        LogFormat::Pretty => builder.init(),
    }
}

async fn serve(args: ServeArgs) -> anyhow::Result<()> {
    init_logging(args.log_format);
    no_transparent_huge_pages();
    tls::install_crypto_provider();
    let tls_settings = args.tls_settings().context("invalid TLS settings")?;
    let metrics = std::sync::Arc::new(edgesync_server::metrics::Metrics::new());
    let edgesync = wiring::build_instrumented(
        &args,
        std::sync::Arc::new(edgesync_core::SystemClock),
        Some(metrics.clone()),
    )
    .await
    .context("could not start the control plane")?;
    if let Some(key) = edgesync.bootstrap_admin_key().await? {
        std::fs::create_dir_all(&args.data_dir)
            .with_context(|| format!("could not create {}", args.data_dir.display()))?;
        let path = args.data_dir.join("admin.key");
        write_secret_file(&path, &key.secret)
            .with_context(|| format!("could not write {}", path.display()))?;
        tracing::info!(path = %path.display(), key_prefix = %key.display_prefix, "created the first admin API key");
        eprintln!(
            "\n  First start: an admin API key was written to {}\n  Use it as: Authorization: Bearer $(cat {})\n",
            path.display(),
            path.display()
        );
    }
    let acceptor = match &tls_settings {
        Some(settings) => tls::bind(args.listen, settings)
            .await
            .with_context(|| format!("could not serve HTTPS on {}", args.listen))?
            .boxed(),
        None => TcpListener::bind(args.listen)
            .into_acceptor()
            .await
            .with_context(|| format!("could not listen on {}", args.listen))?
            .boxed(),
    };
    let shutdown = CancellationToken::new();
    let jobs = jobs::spawn(edgesync.clone(), shutdown.clone());
    tracing::info!(listen = %args.listen, public_url = %args.public_url(), https = tls_settings.is_some(), nodes = edgesync.node_count(), "serving");
    let server = Server::new_with_acceptor(acceptor);
    let result = server
        .run_with_graceful_shutdown(
            app_with_metrics(&edgesync, args.http_limits(), metrics),
            async {
                let _ = tokio::signal::ctrl_c().await;
                tracing::info!("shutting down");
            },
            Some(std::time::Duration::from_secs(10)),
        )
        .await;
    shutdown.cancel();
    let _ = jobs.await;
    result.context("the HTTP server failed")
}

async fn create_key(args: edgesync_server::config::CreateKeyArgs) -> anyhow::Result<()> {
    init_logging(LogFormat::Pretty);
    let scopes = args
        .scopes
        .iter()
        .map(|s| {
            edgesync_core::model::Scope::parse(s).ok_or_else(|| {
                anyhow::anyhow!("unknown scope {s:?}: use admin, deploy, read or nodes:register")
            })
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let edgesync = wiring::build(&args.serve)
        .await
        .context("could not open the store")?;
    let (key, secret) = edgesync
        .create_api_key(edgesync_core::control::NewApiKey {
            name: args.name,
            scopes,
            expires_at: None,
            require_signature: false,
        })
        .await?;
    eprintln!("created API key {} ({})", key.id, key.name);
    println!("{}", secret.secret);
    Ok(())
}

/// Writes a secret to a file only its owner can read.
fn write_secret_file(path: &Path, secret: &str) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut f = options.open(path)?;
    writeln!(f, "{secret}")?;
    f.sync_all()
}
