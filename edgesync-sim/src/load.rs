//! The load driver: a fixed number of workers with a live progress line. Closed loop (each
//! worker runs operations back to back: the most the server can do) or paced (operations start
//! on a schedule, like a fleet whose nodes heartbeat every few seconds; latency then counts from
//! the scheduled start, so a server falling behind shows in it). Scales to 100k simulated nodes
//! with a few hundred connections: workers pick nodes round-robin; no task per node.

use std::future::Future;
use std::io::Write;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use crate::stats::Stats;

/// Runs `op(i)` for i = 0, 1, 2 … back to back on `workers` workers until `stop`; an op
/// returns whether it succeeded.
pub(crate) async fn run<F, Fut>(label: &str, workers: usize, stop: Stop, op: F) -> Stats
where
    F: Fn(u64) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = bool> + Send,
{
    run_paced(label, workers, stop, None, op).await
}

/// [`run`], but with `per_second` set op `i` starts no earlier than `i / per_second` seconds
/// after the start, and its latency counts from then.
pub(crate) async fn run_paced<F, Fut>(
    label: &str,
    workers: usize,
    stop: Stop,
    per_second: Option<f64>,
    op: F,
) -> Stats
where
    F: Fn(u64) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = bool> + Send,
{
    let op = Arc::new(op);
    let next = Arc::new(AtomicU64::new(0));
    let done = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let progress = {
        let done = done.clone();
        let label = label.to_owned();
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(Duration::from_secs(1)).await;
                let n = done.load(Ordering::Relaxed);
                let secs = start.elapsed().as_secs_f64();
                eprint!(
                    "\r  {label}: {n} done, {:.0}/s, {:.0} s   ",
                    n as f64 / secs,
                    secs
                );
                let _ = std::io::stderr().flush();
            }
        })
    };
    let mut handles = Vec::with_capacity(workers);
    for _ in 0..workers {
        let op = op.clone();
        let next = next.clone();
        let done = done.clone();
        handles.push(tokio::spawn(async move {
            let mut stats = Stats::default();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if stop.reached(i, start) {
                    break;
                }
                let t = match per_second {
                    Some(rate) => {
                        let offset = Duration::from_secs_f64(i as f64 / rate);
                        if stop.deadline().is_some_and(|d| offset >= d) {
                            break;
                        }
                        let due = start + offset;
                        tokio::time::sleep_until(due.into()).await;
                        due
                    }
                    None => Instant::now(),
                };
                if op(i).await {
                    stats.ok += 1;
                    stats
                        .latencies_us
                        .push(u32::try_from(t.elapsed().as_micros()).unwrap_or(u32::MAX));
                } else {
                    stats.errors += 1;
                }
                done.fetch_add(1, Ordering::Relaxed);
            }
            stats
        }));
    }
    let mut total = Stats::default();
    for h in handles {
        if let Ok(s) = h.await {
            total.merge(s);
        }
    }
    total.elapsed = start.elapsed();
    progress.abort();
    eprintln!(
        "\r  {label}: {} ok, {} errors in {:.1} s            ",
        total.ok,
        total.errors,
        total.elapsed.as_secs_f64()
    );
    total
}

/// When a phase ends.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Stop {
    /// After this long.
    After(Duration),
    /// After this many operations.
    Count(u64),
    /// After this many operations or this long, whichever comes first.
    CountOrAfter(u64, Duration),
}

impl Stop {
    /// How long the phase may run, if it is time-limited.
    fn deadline(self) -> Option<Duration> {
        match self {
            Stop::After(d) | Stop::CountOrAfter(_, d) => Some(d),
            Stop::Count(_) => None,
        }
    }

    fn reached(self, i: u64, start: Instant) -> bool {
        match self {
            Stop::After(d) => start.elapsed() >= d,
            Stop::Count(n) => i >= n,
            Stop::CountOrAfter(n, d) => i >= n || start.elapsed() >= d,
        }
    }
}
