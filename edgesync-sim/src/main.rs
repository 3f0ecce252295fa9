//! `edgesync-sim`: a fleet simulator. It drives many simulated edge nodes against a running
//! EdgeSync server over real HTTP — registrations, heartbeats, sync polls (answered 304 and
//! returning plans), long-poll convergence after a deploy — and prints every figure as a ratio
//! against a trivial route of the same server measured in the same run.
//!
//! ```text
//! edgesync-sim --spawn --nodes 10000 --duration 10            # starts its own server
//! edgesync-sim --server http://127.0.0.1:8080 --key-file edgesync-data/admin.key --nodes 1000
//! edgesync-sim --spawn --nodes 1000 --mqtt mqtt://127.0.0.1:1883  # convergence: long poll vs MQTT
//! ```

mod load;
mod mqtt;
mod paired;
mod phases;
mod server;
mod stats;

use std::path::PathBuf;
use std::time::Duration;

use clap::Parser;

use crate::load::Stop;
use crate::paired::{Paired, paired};
use crate::server::Server;
use crate::stats::Stats;

/// mimalloc rather than the system allocator: the simulator shares the machine's cores with the
/// server it measures, and with glibc's allocator its two runtime threads waited on each other's
/// arena locks (futex calls took a sixth of its time while it sent 304 polls;
/// docs/performance.md).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Simulates a fleet of edge nodes against an EdgeSync server.
#[derive(Debug, Parser)]
#[command(name = "edgesync-sim", version, about)]
struct Args {
    /// Server URL (ignored with --spawn).
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    server: String,
    /// File holding an admin API key (ignored with --spawn).
    #[arg(long, default_value = "edgesync-data/admin.key")]
    key_file: PathBuf,
    /// Start a fresh server (sled in a temp dir, --bench-routes, no rate limits) and report its
    /// memory per node.
    #[arg(long)]
    spawn: bool,
    /// The `edgesync` binary for --spawn (default: next to this one).
    #[arg(long)]
    edgesync_bin: Option<PathBuf>,
    /// Simulated nodes.
    #[arg(long, default_value_t = 1000)]
    nodes: u64,
    /// Seconds per timed phase.
    #[arg(long, default_value_t = 10)]
    duration: u64,
    /// Concurrent connections (workers).
    #[arg(long, default_value_t = 64)]
    concurrency: usize,
    /// Nodes holding long polls in the convergence phase.
    #[arg(long, default_value_t = 1000)]
    converge_nodes: usize,
    /// Steady-fleet phase: seconds between one node's heartbeats.
    #[arg(long, default_value_t = 10.0)]
    heartbeat_every: f64,
    /// Steady-fleet phase: seconds between one node's conditional sync polls.
    #[arg(long, default_value_t = 30.0)]
    poll_every: f64,
    /// Steady-fleet phase: seconds between one node's telemetry batches.
    #[arg(long, default_value_t = 60.0)]
    telemetry_every: f64,
    /// MQTT broker (`mqtt://host:port`) the server publishes node notifications to (--spawn
    /// starts the server with `--mqtt` set to it): convergence is then measured a second time
    /// with nodes that hold no long poll and poll once when notified.
    #[arg(long)]
    mqtt: Option<String>,
    /// Skip the cold-restart phase (it runs only with --spawn).
    #[arg(long)]
    no_restart: bool,
}

/// A paced stream: what it achieved against what was offered, and its latency.
fn paced_line(name: &str, (s, offered): &(Stats, f64)) {
    println!(
        "{name:<34} {:>9.0}/s of {:>7.0}/s offered   p50 {:>6.2} ms  p99 {:>6.2} ms  max {:>7.2} ms  errors {}",
        s.rate(),
        offered,
        s.quantile_ms(0.5),
        s.quantile_ms(0.99),
        s.quantile_ms(1.0),
        s.errors,
    );
}

/// A phase measured alongside its own baseline slices ([`paired`]).
fn paired_line(name: &str, p: &Paired, target: &str) {
    let s = &p.phase;
    println!(
        "{name:<34} {:>9.0}/s  {:>5.2}× baseline   p50 {:>6.2} ms  p99 {:>6.2} ms  max {:>7.2} ms  errors {:<5} {target} (baseline alongside: {:.0}/s)",
        s.rate(),
        p.ratio(),
        s.quantile_ms(0.5),
        s.quantile_ms(0.99),
        s.quantile_ms(1.0),
        s.errors,
        p.baseline.rate(),
    );
}

fn line(name: &str, s: &Stats, baseline: f64, target: &str) {
    println!(
        "{name:<34} {:>9.0}/s  {:>5.2}× baseline   p50 {:>6.2} ms  p99 {:>6.2} ms  max {:>7.2} ms  errors {:<5} {target}",
        s.rate(),
        s.rate() / baseline.max(1e-9),
        s.quantile_ms(0.5),
        s.quantile_ms(0.99),
        s.quantile_ms(1.0),
        s.errors,
    );
}

/// Convergence times (sorted): how many nodes got the new plan and how fast; with `baseline`
/// (the long-poll run), the ratio of the 99th percentiles, `baseline / these`.
fn convergence_line(name: &str, times: &[Duration], of: usize, baseline: Option<&[Duration]>) {
    let at = |t: &[Duration], q: f64| {
        t.get(((t.len().max(1) - 1) as f64 * q) as usize)
            .map_or(f64::NAN, Duration::as_secs_f64)
    };
    let ratio = baseline.map_or_else(String::new, |b| {
        format!(
            "   {:.2}× the long poll's speed at 99%",
            at(b, 0.99) / at(times, 0.99)
        )
    });
    println!(
        "{name:<34} {}/{of} nodes; 50% in {:.3} s, 99% in {:.3} s, all in {:.3} s   target: 99% ≤ 2 s{ratio}",
        times.len(),
        at(times, 0.5),
        at(times, 0.99),
        at(times, 1.0),
    );
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let mut server = if args.spawn {
        let bin = match &args.edgesync_bin {
            Some(b) => b.clone(),
            None => std::env::current_exe()?.with_file_name("edgesync"),
        };
        let extra: Vec<String> = match &args.mqtt {
            Some(url) => vec!["--mqtt".into(), url.clone()],
            None => Vec::new(),
        };
        Server::spawn(&bin, &extra).await?
    } else {
        Server::external(&args.server, &args.key_file)?
    };
    let ctx = phases::Ctx::new(&server, args.concurrency)?;
    let duration = Duration::from_secs(args.duration);
    let workers = args.concurrency;
    eprintln!(
        "edgesync-sim: {} nodes, {workers} connections, {} s per phase, server {}",
        args.nodes, args.duration, server.url
    );

    // The baseline runs at the start (after a discarded second that opens the connections) and
    // again at the end; the ratios without a target are against the faster of the two, so a
    // slow start (or a machine that slowed down) never flatters a figure. The ratios with a
    // target are against slices of the baseline run alongside the phase (`paired`).
    phases::hello(&ctx, workers, Duration::from_secs(1)).await?;
    let hello_first = phases::hello(&ctx, workers, duration).await?.rate();
    // Registered in two halves: the second half's growth is the marginal cost of a node, without
    // what the first registrations warm up once (sled's metrics, buffers, thread stacks).
    let half = args.nodes / 2;
    let rss_before = server.rss_bytes();
    let mut register = phases::register(&ctx, workers, 0, half).await?;
    let rss_half = server.rss_bytes();
    let second = phases::register(&ctx, workers, half, args.nodes - half).await?;
    let rss_after = server.rss_bytes();
    register.elapsed += second.elapsed;
    register.merge(second);
    // The three figures with ratio targets are measured in slices interleaved with slices of
    // the baseline (`paired`): their ratios compare the same stretch of time.
    let heartbeats = paired(&ctx, workers, duration, |d, from| {
        phases::heartbeats(&ctx, workers, d, from)
    })
    .await?;
    let telemetry = phases::telemetry_pushes(&ctx, workers, duration).await;
    phases::deploy(&ctx, "sim-hello", 1, 0).await?;
    let plans = paired(&ctx, workers, duration, |d, from| {
        phases::plan_polls(&ctx, workers, Stop::After(d), from)
    })
    .await?;
    // Every node learns its revision (a plan poll each) before the 304 phase.
    phases::plan_polls(&ctx, workers, Stop::Count(args.nodes), 0).await;
    let calls_before = phases::store_calls(&ctx).await?;
    let not_modified = paired(&ctx, workers, duration, |d, from| {
        phases::not_modified_polls(&ctx, workers, d, from)
    })
    .await?;
    let calls_after = phases::store_calls(&ctx).await?;
    let converge_n = args.converge_nodes.min(args.nodes as usize);
    let converged = phases::convergence(&ctx, converge_n).await?;
    let notified = match &args.mqtt {
        Some(url) => Some(phases::convergence_notified(&ctx, converge_n, url).await?),
        None => None,
    };
    let cycles = phases::sync_cycles(&ctx, workers, duration).await;
    let cadence = phases::Cadence {
        heartbeat_s: args.heartbeat_every,
        poll_s: args.poll_every,
        telemetry_s: args.telemetry_every,
    };
    let steady = phases::steady_fleet(&ctx, workers, duration, cadence).await;
    let restart = if args.no_restart {
        None
    } else {
        phases::restart(&ctx, &mut server).await?
    };
    let rss_restarted = restart
        .as_ref()
        .and_then(|_| Some((server.rss_bytes()?, server.peak_rss_bytes()?)));
    let hello_last = phases::hello(&ctx, workers, duration).await?.rate();
    let baseline = hello_first.max(hello_last);

    println!(
        "\nedgesync-sim report — {} nodes, {workers} connections, {} s phases",
        args.nodes, args.duration
    );
    println!(
        "{:<34} {:>9.0}/s  (the baseline: a trivial route of the same server, same run; the faster \
         of {hello_first:.0}/s at the start and {hello_last:.0}/s at the end)",
        "baseline GET /bench/hello", baseline
    );
    line("registrations", &register, baseline, "");
    paired_line("authenticated heartbeats", &heartbeats, "target ≥ 0.70×");
    line(
        &format!("telemetry batches ({} samples)", phases::TELEMETRY_SAMPLES),
        &telemetry,
        baseline,
        "",
    );
    paired_line(
        "sync polls answered 304",
        &not_modified,
        "target ≥ 0.90×, p99 < 5 ms",
    );
    // Calls by the requests' own tasks are the polls'; the jobs' and write-behind's are listed
    // apart (telemetry retention, say, may run during the phase).
    let operations = |calls: Vec<(String, f64)>| {
        calls
            .iter()
            .map(|(op, n)| format!("{op} {n}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let (by_requests, request_ops) = calls_after.since(&calls_before, "request");
    let (by_jobs, job_ops) = calls_after.since(&calls_before, "background");
    println!(
        "{:<34} {by_requests}{}{}",
        "  store calls by the 304 polls",
        if request_ops.is_empty() {
            String::new()
        } else {
            format!(" ({})", operations(request_ops))
        },
        if by_jobs > 0.0 {
            format!(
                "   (by the server's background work meanwhile: {by_jobs}: {})",
                operations(job_ops)
            )
        } else {
            String::new()
        }
    );
    paired_line("sync polls returning a plan", &plans, "target ≥ 0.30×");
    if converge_n > 0 {
        convergence_line(
            "convergence after a deploy (long poll)",
            &converged,
            converge_n,
            None,
        );
    }
    if let Some(notified) = notified.as_ref().filter(|_| converge_n > 0) {
        convergence_line(
            "convergence after a deploy (MQTT)",
            notified,
            converge_n,
            Some(&converged),
        );
    }
    line("sync cycles (plan + durable ack)", &cycles, baseline, "");
    println!(
        "steady fleet: every node heartbeats every {} s, polls every {} s, sends telemetry every {} s",
        args.heartbeat_every, args.poll_every, args.telemetry_every
    );
    paced_line("  heartbeats", &steady.heartbeats);
    paced_line("  conditional polls", &steady.polls);
    paced_line("  telemetry batches", &steady.telemetry);
    if let Some(r) = &restart {
        println!(
            "{:<34} ready in {:.2} s, serving polls in {:.2} s with {} nodes   target: serving ≤ 10 s",
            "cold restart after SIGKILL",
            r.ready.as_secs_f64(),
            r.serving.as_secs_f64(),
            args.nodes,
        );
        println!(
            "{:<34} {}",
            "  heartbeat 1.2 s before the kill",
            if r.heartbeat_durable {
                "survived (durable within 1 s)"
            } else {
                "LOST"
            }
        );
    }
    if let (Some(before), Some(mid), Some(after)) = (rss_before, rss_half, rss_after) {
        let per_node = after.saturating_sub(before) as f64 / args.nodes.max(1) as f64;
        println!(
            "{:<34} {:.0} bytes per node ({:.1} MiB for {} nodes)",
            "memory (server RSS growth)",
            per_node,
            after.saturating_sub(before) as f64 / 1048576.0,
            args.nodes
        );
        let second_half = (args.nodes - half).max(1) as f64;
        println!(
            "{:<34} {:.0} bytes per node (RSS growth over the second {} registrations)   target ≤ 4096",
            "  … marginal",
            after.saturating_sub(mid) as f64 / second_half,
            args.nodes - half,
        );
        if let Some((restarted, peak)) = rss_restarted {
            println!(
                "{:<34} {:.0} bytes per node (RSS {:.1} MiB, {:.1} MiB at most while loading; an empty server measured {:.1} MiB)",
                "  … after the cold restart",
                restarted.saturating_sub(before) as f64 / args.nodes.max(1) as f64,
                restarted as f64 / 1048576.0,
                peak as f64 / 1048576.0,
                before as f64 / 1048576.0,
            );
        }
    }
    if let Some(dir) = server.data_dir() {
        eprintln!(
            "(spawned server's data directory: {}; removed on exit)",
            dir.display()
        );
    }
    Ok(())
}
