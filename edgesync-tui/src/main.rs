//! `edgesync-tui`: terminal setup and teardown (crossterm), a panic hook that restores the
//! terminal, then the event loop of the library.

use std::io::{Stdout, stdout};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use clap::Parser;
use crossterm::execute;
use crossterm::terminal::{
    EnterAlternateScreen, LeaveAlternateScreen, disable_raw_mode, enable_raw_mode,
};
use edgesync_client::Client;
use edgesync_tui::app::{App, Settings};
use edgesync_tui::cli::{Args, read_key_file};
use edgesync_tui::embedded::Embedded;
use edgesync_tui::run::{Input, event_loop, spawn_ticker};
use edgesync_tui::worker::Worker;
use ratatui::Terminal;
use ratatui::backend::CrosstermBackend;
use time::OffsetDateTime;

fn main() -> ExitCode {
    let args = Args::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("edgesync-tui: could not start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(run(args));
    // Worker tasks may still wait on a slow link: do not wait for them.
    runtime.shutdown_timeout(Duration::from_millis(200));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("edgesync-tui: {e:#}");
            ExitCode::from(2)
        }
    }
}

async fn run(args: Args) -> anyhow::Result<()> {
    edgesync_server::tls::install_crypto_provider();
    let timeout = Duration::from_secs(args.timeout_s.max(1));
    let mut settings = Settings {
        refresh_every: args.refresh_every(),
        offline_timeout: Duration::from_secs(args.offline_timeout_s.max(1)),
        ..Settings::default()
    };
    match &args.data_dir {
        Some(dir) => {
            let embedded = Embedded::start(dir).await?;
            settings.server_label = format!("embedded: {}", dir.display());
            settings.offline_timeout = embedded.offline_timeout;
            let client = Client::builder(&embedded.url)
                .api_key(&embedded.api_key)
                .timeout(timeout)
                .build()?;
            let result = console(client, settings).await;
            embedded.stop().await;
            result
        }
        None => {
            let key = read_key_file(&args.key_file())?;
            settings.server_label = args.server.trim_end_matches('/').to_owned();
            let client = Client::builder(&args.server)
                .api_key(key)
                .timeout(timeout)
                .retries(1)
                .build()
                .with_context(|| format!("invalid server URL {:?}", args.server))?;
            console(client, settings).await
        }
    }
}

/// Runs the console in the alternate screen and always restores the terminal.
async fn console(client: Client, settings: Settings) -> anyhow::Result<()> {
    let mut terminal = setup().context("could not set up the terminal")?;
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    let input = Input::spawn(tx.clone());
    let ticker = spawn_ticker(tx.clone());
    let worker = Worker::new(client, tx);
    let app = App::new(settings, OffsetDateTime::now_utc());
    let result = event_loop(&mut terminal, app, worker, rx).await;
    ticker.abort();
    drop(input);
    restore();
    let _ = terminal.show_cursor();
    result
}

fn setup() -> anyhow::Result<Terminal<CrosstermBackend<Stdout>>> {
    install_panic_hook();
    enable_raw_mode()?;
    if let Err(e) = execute!(stdout(), EnterAlternateScreen) {
        restore();
        return Err(e.into());
    }
    let mut terminal = Terminal::new(CrosstermBackend::new(stdout()))?;
    terminal.clear()?;
    Ok(terminal)
}

/// Leaves raw mode and the alternate screen (harmless when already left).
fn restore() {
    let _ = disable_raw_mode();
    let _ = execute!(stdout(), LeaveAlternateScreen, crossterm::cursor::Show);
}

/// Restores the terminal before the panic message prints, so it is readable.
fn install_panic_hook() {
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        restore();
        previous(info);
    }));
}
