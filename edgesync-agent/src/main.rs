//! `edgesync-agent`: the EdgeSync edge node. See `edgesync-agent/README.md`.

use std::process::ExitCode;

use clap::Parser;
use edgesync_agent::config::{Cli, Command, LogFormat};
use edgesync_agent::{Agent, AgentConfig};
use tracing_subscriber::EnvFilter;

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let Command::Run(args) = cli.command;
    init_logging(args.log_format);
    // One rustls crypto provider for the whole process (see DEPENDENCIES.md).
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    match run(AgentConfig::from(*args)).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = %e, "the agent stopped");
            ExitCode::FAILURE
        }
    }
}

async fn run(config: AgentConfig) -> edgesync_agent::Result<()> {
    let mut agent = Agent::new(config).start().await?;
    let finished = tokio::select! {
        r = agent.wait() => Some(r),
        () = shutdown_signal() => None,
    };
    match finished {
        Some(r) => r,
        None => {
            tracing::info!("shutting down");
            agent.shutdown().await
        }
    }
}

/// Ctrl-C or SIGTERM.
async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

fn init_logging(format: LogFormat) {
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("info,poem=warn,wasmtime=warn,cranelift=warn"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Json => builder.json().flatten_event(true).init(),
        LogFormat::Pretty => builder.init(),
    }
}
