//! The one retry loop every database call runs through.
//!
//! CockroachDB aborts a transaction that lost a conflict with SQLSTATE 40001 and expects the
//! client to run it again; PostgreSQL at SERIALIZABLE does the same. Connections also drop (a
//! node restarts, a load balancer times out). Both are retried here with capped exponential
//! backoff and jitter; when the attempts run out the caller gets `store_unavailable`, which is
//! retryable at its level.

use std::future::Future;
use std::hash::{BuildHasher, RandomState};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use edgesync_core::Result;

use crate::config::RetryPolicy;
use crate::errors::{Failure, exhausted};

/// Runs attempts under a [`RetryPolicy`] and counts the retries.
#[derive(Debug)]
pub(crate) struct Retrier {
    policy: RetryPolicy,
    retries: AtomicU64,
}

impl Retrier {
    pub(crate) fn new(policy: RetryPolicy) -> Self {
        Self {
            policy,
            retries: AtomicU64::new(0),
        }
    }

    /// Retries so far (attempts after a transient failure).
    pub(crate) fn retries(&self) -> u64 {
        self.retries.load(Ordering::Relaxed)
    }

    /// Runs `attempt` until it succeeds, fails for good, or the attempts run out.
    pub(crate) async fn run<T, F, Fut>(&self, what: &'static str, mut attempt: F) -> Result<T>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, Failure>>,
    {
        let max = self.policy.max_attempts.max(1);
        let mut failed = 0;
        loop {
            match attempt().await {
                Ok(v) => return Ok(v),
                Err(Failure::Final(e)) => return Err(e),
                Err(Failure::Retry(e)) => {
                    failed += 1;
                    if failed >= max {
                        tracing::warn!(what, attempts = failed, error = %e, "giving up after transient failures");
                        return Err(exhausted(what, failed, e));
                    }
                    self.retries.fetch_add(1, Ordering::Relaxed);
                    let wait = jitter(self.policy.backoff(failed));
                    tracing::debug!(what, attempt = failed, error = %e, ?wait, "retrying");
                    tokio::time::sleep(wait).await;
                }
            }
        }
    }
}

/// A wait between half of `max` and `max` ("equal jitter"): keeps a floor while spreading
/// competing clients apart.
fn jitter(max: Duration) -> Duration {
    let half = max / 2;
    let spread = u64::try_from(half.as_nanos()).unwrap_or(u64::MAX);
    if spread == 0 {
        return max;
    }
    // A randomly keyed hasher is a cheap, dependency-free source of randomness for this.
    let random = RandomState::new().hash_one(std::time::Instant::now());
    half + Duration::from_nanos(random % (spread + 1))
}

#[cfg(test)]
mod tests {
    use super::*;
    use edgesync_core::{Error, ErrorCode};

    fn policy(max_attempts: u32) -> RetryPolicy {
        RetryPolicy {
            max_attempts,
            initial_backoff: Duration::from_millis(1),
            max_backoff: Duration::from_millis(2),
        }
    }

    #[test]
    fn jitter_stays_within_half_and_full() {
        for _ in 0..100 {
            let j = jitter(Duration::from_millis(100));
            assert!(j >= Duration::from_millis(50) && j <= Duration::from_millis(100));
        }
        assert_eq!(jitter(Duration::ZERO), Duration::ZERO);
    }

    #[tokio::test]
    async fn transient_failures_are_retried_and_counted() {
        let r = Retrier::new(policy(5));
        let mut calls = 0;
        let out = r
            .run("test", || {
                calls += 1;
                let n = calls;
                async move {
                    if n < 3 {
                        Err(Failure::Retry(sqlx::Error::PoolTimedOut))
                    } else {
                        Ok(n)
                    }
                }
            })
            .await
            .unwrap();
        assert_eq!((out, r.retries()), (3, 2));
    }

    #[tokio::test]
    async fn running_out_of_attempts_is_unavailable_and_final_errors_are_not_retried() {
        let r = Retrier::new(policy(3));
        let e = r
            .run("test", || async {
                Err::<(), _>(Failure::Retry(sqlx::Error::PoolTimedOut))
            })
            .await
            .unwrap_err();
        assert_eq!(e.code(), ErrorCode::StoreUnavailable);
        assert!(e.retryable());
        assert_eq!(r.retries(), 2);

        let mut calls = 0;
        let e = r
            .run("test", || {
                calls += 1;
                async { Err::<(), _>(Failure::Final(Error::invalid("no"))) }
            })
            .await
            .unwrap_err();
        assert_eq!((e.code(), calls), (ErrorCode::InvalidRequest, 1));
    }
}
