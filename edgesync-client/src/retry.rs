//! When a failed request is repeated, and how long to wait first.

use std::time::Duration;

use edgesync_wire::Problem;
use rand::Rng;

/// Longest `Retry-After` the client honours; beyond it, it gives up instead of sleeping.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(60);

/// How failed requests are retried.
///
/// A request is repeated only when both hold:
///
/// * **the failure is transient**: a problem answer with `retryable: true` (`rate_limited`,
///   `store_unavailable`, `service_unavailable`, …), or a transport failure (connection
///   refused or reset, timeout);
/// * **repeating it is safe**: `GET`, `PUT`, `DELETE`, and the `POST`s the API makes
///   idempotent (heartbeats, sync acks — idempotent per plan id —, token refreshes, schema
///   registration, which answers 200 for a repeat). `POST`s that create something (nodes,
///   deployments, routes, API keys, uploads, rotations) are repeated only when the connection
///   could not be established, i.e. the request never left.
///
/// A conditional request (`If-Match`) that failed with `revision_conflict` is not repeated: it
/// would fail the same way; read the record again instead.
///
/// Waits grow exponentially from `base_delay` up to `max_delay`, each with random jitter (half
/// to all of the step), and a `Retry-After` header (up to 60 s) is honoured.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Retries after the first attempt (0 disables retries).
    pub max_retries: u32,
    /// The wait before the first retry (before jitter).
    pub base_delay: Duration,
    /// The longest wait between two attempts (before jitter).
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    /// Two retries, waiting about 100 ms then 200 ms, never more than 5 s.
    fn default() -> Self {
        Self {
            max_retries: 2,
            base_delay: Duration::from_millis(100),
            max_delay: Duration::from_secs(5),
        }
    }
}

impl RetryPolicy {
    /// No retries at all.
    pub fn none() -> Self {
        Self {
            max_retries: 0,
            ..Self::default()
        }
    }

    /// The wait before retry number `retry` (0-based), with jitter, honouring `retry_after`.
    pub(crate) fn delay(&self, retry: u32, retry_after: Option<Duration>) -> Duration {
        let step = self
            .base_delay
            .saturating_mul(2u32.saturating_pow(retry.min(31)))
            .min(self.max_delay);
        let nanos = u64::try_from(step.as_nanos()).unwrap_or(u64::MAX);
        let jittered = if nanos < 2 {
            step
        } else {
            Duration::from_nanos(rand::rng().random_range(nanos / 2..=nanos))
        };
        match retry_after {
            Some(after) => jittered.max(after.min(MAX_RETRY_AFTER)),
            None => jittered,
        }
    }
}

/// Whether repeating a request is safe.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Idempotency {
    /// Repeating it has the effect of sending it once.
    Idempotent,
    /// It creates something: repeat only when it certainly never reached the server.
    NotIdempotent,
}

/// Whether a problem answer should be retried.
pub(crate) fn retry_problem(
    problem: &Problem,
    idempotency: Idempotency,
    conditional: bool,
) -> bool {
    problem.retryable
        && idempotency == Idempotency::Idempotent
        && !(conditional && problem.code == "revision_conflict")
}

/// Whether a transport failure should be retried.
pub(crate) fn retry_transport(err: &reqwest::Error, idempotency: Idempotency) -> bool {
    if err.is_builder() || err.is_body() || err.is_decode() || err.is_redirect() {
        return false;
    }
    match idempotency {
        // Refused, reset, timed out, closed before the answer: all safe to repeat.
        Idempotency::Idempotent => err.is_connect() || err.is_timeout() || err.is_request(),
        // Only a failed connect proves the request never left.
        Idempotency::NotIdempotent => err.is_connect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn problem(code: &str, retryable: bool) -> Problem {
        Problem {
            problem_type: String::new(),
            title: String::new(),
            status: 503,
            detail: String::new(),
            code: code.into(),
            retryable,
            request_id: String::new(),
        }
    }

    #[test]
    fn delays_grow_with_jitter_and_are_capped() {
        let p = RetryPolicy {
            max_retries: 10,
            base_delay: Duration::from_millis(100),
            max_delay: Duration::from_secs(1),
        };
        for retry in 0..10 {
            let step = Duration::from_millis(100 * 2u64.pow(retry)).min(Duration::from_secs(1));
            let d = p.delay(retry, None);
            assert!(
                d >= step / 2 && d <= step,
                "retry {retry}: {d:?} vs {step:?}"
            );
        }
        assert!(p.delay(0, Some(Duration::from_secs(3))) >= Duration::from_secs(3));
        assert!(p.delay(0, Some(Duration::from_secs(3600))) <= Duration::from_secs(60));
        assert_eq!(
            RetryPolicy {
                base_delay: Duration::ZERO,
                ..p
            }
            .delay(3, None),
            Duration::ZERO
        );
    }

    #[test]
    fn which_problems_are_retried() {
        use Idempotency::*;
        assert!(retry_problem(
            &problem("store_unavailable", true),
            Idempotent,
            false
        ));
        assert!(!retry_problem(
            &problem("store_unavailable", true),
            NotIdempotent,
            false
        ));
        assert!(!retry_problem(
            &problem("internal", false),
            Idempotent,
            false
        ));
        assert!(retry_problem(
            &problem("revision_conflict", true),
            Idempotent,
            false
        ));
        assert!(!retry_problem(
            &problem("revision_conflict", true),
            Idempotent,
            true
        ));
    }
}
