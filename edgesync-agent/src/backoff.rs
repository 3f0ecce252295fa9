//! Exponential backoff with jitter, for retrying the control plane while it is away.

use std::time::Duration;

/// Waits that double from `base` up to `max`, each with random jitter (half to all of the
/// step). [`reset`](Self::reset) after a success.
#[derive(Clone, Debug)]
pub(crate) struct Backoff {
    base: Duration,
    max: Duration,
    attempt: u32,
}

impl Backoff {
    /// A backoff starting at `base`, capped at `max`.
    pub(crate) fn new(base: Duration, max: Duration) -> Self {
        Self {
            base,
            max,
            attempt: 0,
        }
    }

    /// The next wait.
    pub(crate) fn next_delay(&mut self) -> Duration {
        let step = self
            .base
            .saturating_mul(2u32.saturating_pow(self.attempt.min(16)))
            .min(self.max);
        self.attempt = self.attempt.saturating_add(1);
        let jitter = 0.5 + 0.5 * pseudo_random();
        step.mul_f64(jitter)
    }

    /// Sleeps for the next wait.
    pub(crate) async fn wait(&mut self) {
        tokio::time::sleep(self.next_delay()).await;
    }

    /// Back to the first step.
    pub(crate) fn reset(&mut self) {
        self.attempt = 0;
    }

    /// Failures since the last reset.
    pub(crate) fn failures(&self) -> u32 {
        self.attempt
    }
}

/// A number in [0, 1) that differs between calls and processes (jitter only; not for secrets).
fn pseudo_random() -> f64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default(),
    );
    (h.finish() >> 11) as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grows_with_jitter_and_is_capped() {
        let mut b = Backoff::new(Duration::from_millis(100), Duration::from_secs(1));
        for attempt in 0..8u32 {
            let step = Duration::from_millis(100 * 2u64.pow(attempt)).min(Duration::from_secs(1));
            let d = b.next_delay();
            assert!(d >= step / 2 && d <= step, "{attempt}: {d:?}");
        }
        assert_eq!(b.failures(), 8);
        b.reset();
        assert!(b.next_delay() <= Duration::from_millis(100));
    }
}
