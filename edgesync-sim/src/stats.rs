//! Latency and throughput of one phase.

use std::time::Duration;

/// What one phase measured.
#[derive(Clone, Debug, Default)]
pub(crate) struct Stats {
    /// Successful operations.
    pub(crate) ok: u64,
    /// Failed operations.
    pub(crate) errors: u64,
    /// Wall time of the phase.
    pub(crate) elapsed: Duration,
    /// Latency of each successful operation, in microseconds.
    pub(crate) latencies_us: Vec<u32>,
}

impl Stats {
    /// Successful operations per second.
    pub(crate) fn rate(&self) -> f64 {
        self.ok as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }

    /// The `q` quantile of latency (0.0–1.0), in milliseconds.
    pub(crate) fn quantile_ms(&self, q: f64) -> f64 {
        if self.latencies_us.is_empty() {
            return 0.0;
        }
        let mut v = self.latencies_us.clone();
        v.sort_unstable();
        let idx = ((v.len() - 1) as f64 * q).round() as usize;
        f64::from(v[idx]) / 1000.0
    }

    /// Merges another worker's figures.
    pub(crate) fn merge(&mut self, other: Stats) {
        self.ok += other.ok;
        self.errors += other.errors;
        self.latencies_us.extend(other.latencies_us);
    }
}
