//! Invocation statistics per function: totals since start (for `/_agent/status`) and a window
//! since the last telemetry push (counts and latency percentiles).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use serde::Serialize;
use uuid::Uuid;

/// Most latency samples kept per function and window (later ones replace earlier at random).
const MAX_SAMPLES: usize = 4096;

/// How a request to a function ended, for the counters.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// A response from the function.
    Ok,
    /// The time limit.
    Timeout,
    /// The memory limit.
    MemoryLimit,
    /// Over `max_concurrency`: refused with 503.
    Rejected,
    /// Any other failure (trap, exit status, bad output, module unavailable).
    Error,
}

/// Counters of one function.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub(crate) struct Counters {
    /// Requests routed to it (refused ones included).
    pub(crate) invocations: u64,
    /// Requests that did not get the function's response.
    pub(crate) errors: u64,
    /// Of which: time limit.
    pub(crate) timeouts: u64,
    /// Of which: memory limit.
    pub(crate) memory_limits: u64,
    /// Of which: refused over the concurrency limit.
    pub(crate) rejected: u64,
}

impl Counters {
    fn count(&mut self, outcome: Outcome) {
        self.invocations += 1;
        match outcome {
            Outcome::Ok => return,
            Outcome::Timeout => self.timeouts += 1,
            Outcome::MemoryLimit => self.memory_limits += 1,
            Outcome::Rejected => self.rejected += 1,
            Outcome::Error => {}
        }
        self.errors += 1;
    }
}

/// A function's window since the last push.
#[derive(Clone, Debug, Default)]
pub(crate) struct Window {
    /// The function's name.
    pub(crate) name: String,
    /// The version last seen serving.
    pub(crate) version: u32,
    /// Counts in the window.
    pub(crate) counters: Counters,
    /// Latencies in milliseconds (a sample when there were many).
    pub(crate) latencies_ms: Vec<f64>,
}

impl Window {
    /// The `q` quantile (0–1) of the latencies, if any.
    pub(crate) fn percentile(&self, q: f64) -> Option<f64> {
        let mut sorted = self.latencies_ms.clone();
        if sorted.is_empty() {
            return None;
        }
        sorted.sort_by(f64::total_cmp);
        let rank = (q * (sorted.len() - 1) as f64).round() as usize;
        sorted.get(rank.min(sorted.len() - 1)).copied()
    }
}

#[derive(Debug, Default)]
struct Entry {
    total: Counters,
    window: Window,
    seen: u64,
}

/// Statistics of every function.
#[derive(Debug, Default)]
pub(crate) struct Stats {
    entries: Mutex<HashMap<Uuid, Entry>>,
    /// Artifacts downloaded from the control plane since start.
    pub(crate) artifact_downloads: AtomicU64,
    /// Plans applied since start.
    pub(crate) plans_applied: AtomicU64,
    /// Failed sync round trips since start.
    pub(crate) sync_errors: AtomicU64,
}

impl Stats {
    /// Counts one request.
    pub(crate) fn record(
        &self,
        function_id: Uuid,
        name: &str,
        version: u32,
        outcome: Outcome,
        latency: Duration,
    ) {
        let mut entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        let e = entries.entry(function_id).or_default();
        e.total.count(outcome);
        e.window.counters.count(outcome);
        if e.window.name != name {
            e.window.name = name.to_owned();
        }
        e.window.version = version;
        if outcome != Outcome::Rejected {
            e.seen += 1;
            let ms = latency.as_secs_f64() * 1000.0;
            if e.window.latencies_ms.len() < MAX_SAMPLES {
                e.window.latencies_ms.push(ms);
            } else {
                // Reservoir sampling keeps a uniform sample of the window.
                let slot = (cheap_random() % e.seen) as usize;
                if let Some(s) = e.window.latencies_ms.get_mut(slot) {
                    *s = ms;
                }
            }
        }
    }

    /// Totals since start of one function.
    pub(crate) fn totals(&self, function_id: Uuid) -> Counters {
        self.entries
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&function_id)
            .map(|e| e.total.clone())
            .unwrap_or_default()
    }

    /// Takes every non-empty window, starting new ones.
    pub(crate) fn take_windows(&self) -> Vec<(Uuid, Window)> {
        let mut entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        entries
            .iter_mut()
            .filter(|(_, e)| e.window.counters.invocations > 0)
            .map(|(id, e)| {
                e.seen = 0;
                let fresh = Window {
                    name: e.window.name.clone(),
                    version: e.window.version,
                    ..Window::default()
                };
                (*id, std::mem::replace(&mut e.window, fresh))
            })
            .collect()
    }

    /// Reads a counter.
    pub(crate) fn get(counter: &AtomicU64) -> u64 {
        counter.load(Ordering::Relaxed)
    }

    /// Adds one to a counter.
    pub(crate) fn bump(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }
}

fn cheap_random() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(0);
    h.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_and_windows() {
        let stats = Stats::default();
        let id = Uuid::nil();
        for ms in 1..=100 {
            stats.record(id, "f", 1, Outcome::Ok, Duration::from_millis(ms));
        }
        stats.record(id, "f", 1, Outcome::Timeout, Duration::from_millis(500));
        stats.record(id, "f", 1, Outcome::Rejected, Duration::ZERO);
        let t = stats.totals(id);
        assert_eq!(
            (t.invocations, t.errors, t.timeouts, t.rejected),
            (102, 2, 1, 1)
        );
        let windows = stats.take_windows();
        assert_eq!(windows.len(), 1);
        let w = &windows[0].1;
        assert_eq!(w.latencies_ms.len(), 101);
        let p50 = w.percentile(0.5).unwrap_or_default();
        assert!((50.0..=52.0).contains(&p50), "{p50}");
        assert!(w.percentile(0.99).unwrap_or_default() >= 99.0);
        assert!(stats.take_windows().is_empty(), "the window restarted");
        assert_eq!(stats.totals(id).invocations, 102);
    }
}
