//! A `Store` wrapper that fails or slows down on demand: for proving that errors roll everything
//! back, that outages answer retryable errors, and that the system recovers without a restart.
//!
//! [`Faults`] is the schedule every fault-injecting wrapper of the testkit shares (this one,
//! [`FaultyArtifacts`](super::faulty_artifacts::FaultyArtifacts) and
//! [`FaultyNotifier`](super::faulty_notifier::FaultyNotifier)): an outage switch, the next `n`
//! calls, every `n`-th call, and a delay, all changeable while the system runs.

use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use async_trait::async_trait;

use crate::error::{Error, ErrorCode, Result};
use crate::store::{ListQuery, Page, RecordKey, Store, Stored, UniqueIndex, Write};

/// A fault schedule: which calls fail, and how long each call waits first.
///
/// A call fails when the schedule is [down](Faults::set_down), when it is one of the next
/// [`fail_next`](Faults::fail_next) calls, or when it is every [`fail_every`](Faults::fail_every)-th
/// call. Every call (failing or not) first waits for the [`delay`](Faults::set_delay).
#[derive(Debug, Default)]
pub struct Faults {
    down: AtomicBool,
    fail_next: AtomicUsize,
    fail_every: AtomicUsize,
    delay_ms: AtomicU64,
    calls: AtomicU64,
    injected: AtomicU64,
    error: Mutex<Option<ErrorCode>>,
}

impl Faults {
    /// A schedule that injects nothing.
    pub fn new() -> Self {
        Self::default()
    }

    /// Every call fails while `down` (an outage); `false` ends it.
    pub fn set_down(&self, down: bool) {
        self.down.store(down, Ordering::SeqCst);
    }

    /// Whether the schedule is down.
    pub fn is_down(&self) -> bool {
        self.down.load(Ordering::SeqCst)
    }

    /// The next `n` calls fail.
    pub fn fail_next(&self, n: usize) {
        self.fail_next.store(n, Ordering::SeqCst);
    }

    /// Every `n`-th call fails (counted from now); 0 stops it.
    pub fn fail_every(&self, n: usize) {
        self.calls.store(0, Ordering::SeqCst);
        self.fail_every.store(n, Ordering::SeqCst);
    }

    /// Every call waits this long first (a slow dependency); zero removes the delay.
    pub fn set_delay(&self, delay: Duration) {
        self.delay_ms.store(
            u64::try_from(delay.as_millis()).unwrap_or(u64::MAX),
            Ordering::SeqCst,
        );
    }

    /// The error code injected failures carry (default: the wrapper's "unavailable" code).
    pub fn set_error(&self, code: Option<ErrorCode>) {
        *self
            .error
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = code;
    }

    /// Ends every fault: up, no scheduled failures, no delay, default error.
    pub fn heal(&self) {
        self.set_down(false);
        self.fail_next(0);
        self.fail_every(0);
        self.set_delay(Duration::ZERO);
        self.set_error(None);
    }

    /// Calls seen since the schedule was made (or `fail_every` was last set).
    pub fn calls(&self) -> u64 {
        self.calls.load(Ordering::SeqCst)
    }

    /// Failures injected so far.
    pub fn injected(&self) -> u64 {
        self.injected.load(Ordering::SeqCst)
    }

    /// The delay to wait before this call.
    pub fn delay(&self) -> Duration {
        Duration::from_millis(self.delay_ms.load(Ordering::SeqCst))
    }

    /// Counts one call and decides whether it fails; the error code it fails with, if so.
    pub fn decide(&self, default: ErrorCode) -> Option<ErrorCode> {
        let n = self.calls.fetch_add(1, Ordering::SeqCst) + 1;
        let every = self.fail_every.load(Ordering::SeqCst) as u64;
        let fails = self.is_down()
            || self
                .fail_next
                .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
                .is_ok()
            || (every > 0 && n.is_multiple_of(every));
        if !fails {
            return None;
        }
        self.injected.fetch_add(1, Ordering::SeqCst);
        let code = *self
            .error
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        Some(code.unwrap_or(default))
    }

    /// Waits for the delay, then [`decide`](Self::decide)s: `Err` with an injected error of
    /// `default`'s code (or the [configured](Self::set_error) one) when the call fails.
    pub async fn apply(&self, default: ErrorCode, what: &str) -> Result<()> {
        let delay = self.delay();
        if !delay.is_zero() {
            tokio::time::sleep(delay).await;
        }
        match self.decide(default) {
            None => Ok(()),
            Some(code) => Err(Error::new(code, format!("injected failure: {what}"))
                .with_source(std::io::Error::other("injected failure"))),
        }
    }
}

/// Forwards to an inner store, except where a fault schedule says otherwise: reads
/// ([`reads`](Self::reads)) and commits ([`commits`](Self::commits)) have their own schedule;
/// [`check`](Store::check) fails while either is down. Injected failures are the retryable
/// `store_unavailable`, and a failed commit changes nothing (it never reaches the inner store).
#[derive(Debug)]
pub struct FaultyStore {
    inner: Arc<dyn Store>,
    failing_commits: AtomicUsize,
    reads: Faults,
    commits: Faults,
}

impl FaultyStore {
    /// The faults a commit (durable or unsynced) meets before it reaches the inner store.
    async fn commit_faults(&self) -> Result<()> {
        let failing = self
            .failing_commits
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok();
        if failing {
            return Err(Error::store_unavailable(std::io::Error::other(
                "injected failure",
            )));
        }
        self.commits
            .apply(ErrorCode::StoreUnavailable, "store commit")
            .await
    }

    /// Wraps a store.
    pub fn new(inner: Arc<dyn Store>) -> Self {
        Self {
            inner,
            failing_commits: AtomicUsize::new(0),
            reads: Faults::new(),
            commits: Faults::new(),
        }
    }

    /// Makes the next `n` commits fail with a retryable `store_unavailable`.
    pub fn fail_commits(&self, n: usize) {
        self.failing_commits.store(n, Ordering::SeqCst);
    }

    /// The schedule of `get`, `get_unique` and `list`.
    pub fn reads(&self) -> &Faults {
        &self.reads
    }

    /// The schedule of `commit`.
    pub fn commits(&self) -> &Faults {
        &self.commits
    }

    /// A whole-store outage (reads, commits and `check` fail) while `down`.
    pub fn set_down(&self, down: bool) {
        self.reads.set_down(down);
        self.commits.set_down(down);
    }

    /// Ends every fault.
    pub fn heal(&self) {
        self.fail_commits(0);
        self.reads.heal();
        self.commits.heal();
    }
}

#[async_trait]
impl Store for FaultyStore {
    async fn get(&self, key: &RecordKey) -> Result<Option<Stored>> {
        self.reads
            .apply(ErrorCode::StoreUnavailable, "store get")
            .await?;
        self.inner.get(key).await
    }

    async fn get_unique(&self, index: UniqueIndex, value: &str) -> Result<Option<Stored>> {
        self.reads
            .apply(ErrorCode::StoreUnavailable, "store get_unique")
            .await?;
        self.inner.get_unique(index, value).await
    }

    async fn list(&self, query: &ListQuery) -> Result<Page> {
        self.reads
            .apply(ErrorCode::StoreUnavailable, "store list")
            .await?;
        self.inner.list(query).await
    }

    async fn commit(&self, writes: &[Write]) -> Result<Vec<u64>> {
        self.commit_faults().await?;
        self.inner.commit(writes).await
    }

    async fn commit_unsynced(&self, writes: &[Write]) -> Result<Vec<u64>> {
        self.commit_faults().await?;
        self.inner.commit_unsynced(writes).await
    }

    async fn check(&self) -> Result<()> {
        if self.reads.is_down() || self.commits.is_down() {
            return Err(Error::store_unavailable(std::io::Error::other(
                "injected outage",
            )));
        }
        self.inner.check().await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schedules_fail_the_calls_they_name() {
        let f = Faults::new();
        assert_eq!(f.decide(ErrorCode::StoreUnavailable), None);
        f.fail_next(2);
        assert!(f.decide(ErrorCode::StoreUnavailable).is_some());
        assert!(f.decide(ErrorCode::StoreUnavailable).is_some());
        assert_eq!(f.decide(ErrorCode::StoreUnavailable), None);
        f.fail_every(3);
        let fails: Vec<bool> = (0..6)
            .map(|_| f.decide(ErrorCode::StoreUnavailable).is_some())
            .collect();
        assert_eq!(fails, [false, false, true, false, false, true]);
        f.fail_every(0);
        f.set_down(true);
        f.set_error(Some(ErrorCode::StorageFull));
        assert_eq!(
            f.decide(ErrorCode::StoreUnavailable),
            Some(ErrorCode::StorageFull)
        );
        f.heal();
        assert_eq!(f.decide(ErrorCode::StoreUnavailable), None);
        assert_eq!(f.injected(), 5);
    }
}
