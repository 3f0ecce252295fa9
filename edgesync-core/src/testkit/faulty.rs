//! A `Store` wrapper that fails on demand: for proving that errors roll everything back.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use async_trait::async_trait;

use crate::error::{Error, Result};
use crate::store::{ListQuery, Page, RecordKey, Store, Stored, UniqueIndex, Write};

/// Forwards to an inner store, except that the next `n` commits fail (as if the database went
/// away mid-request) after `fail_commits(n)`.
#[derive(Debug)]
pub struct FaultyStore {
    inner: Arc<dyn Store>,
    failing_commits: AtomicUsize,
}

impl FaultyStore {
    /// Wraps a store.
    pub fn new(inner: Arc<dyn Store>) -> Self {
        Self {
            inner,
            failing_commits: AtomicUsize::new(0),
        }
    }

    /// Makes the next `n` commits fail with a retryable `store_unavailable`.
    pub fn fail_commits(&self, n: usize) {
        self.failing_commits.store(n, Ordering::SeqCst);
    }
}

#[async_trait]
impl Store for FaultyStore {
    async fn get(&self, key: &RecordKey) -> Result<Option<Stored>> {
        self.inner.get(key).await
    }

    async fn get_unique(&self, index: UniqueIndex, value: &str) -> Result<Option<Stored>> {
        self.inner.get_unique(index, value).await
    }

    async fn list(&self, query: &ListQuery) -> Result<Page> {
        self.inner.list(query).await
    }

    async fn commit(&self, writes: &[Write]) -> Result<Vec<u64>> {
        let failing = self
            .failing_commits
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok();
        if failing {
            return Err(Error::store_unavailable(std::io::Error::other(
                "injected failure",
            )));
        }
        self.inner.commit(writes).await
    }

    async fn check(&self) -> Result<()> {
        self.inner.check().await
    }
}
