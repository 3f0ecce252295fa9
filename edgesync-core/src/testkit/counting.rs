//! A `Store` wrapper that counts calls: for proving that hot paths stay off the store.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use async_trait::async_trait;

use crate::error::Result;
use crate::store::{ListQuery, Page, RecordKey, Store, Stored, UniqueIndex, Write};

/// Forwards every call to an inner store and counts it.
#[derive(Debug)]
pub struct CountingStore {
    inner: Arc<dyn Store>,
    reads: AtomicU64,
    listed: AtomicU64,
    commits: AtomicU64,
    unsynced: AtomicU64,
}

impl CountingStore {
    /// Wraps a store.
    pub fn new(inner: Arc<dyn Store>) -> Self {
        Self {
            inner,
            reads: AtomicU64::new(0),
            listed: AtomicU64::new(0),
            commits: AtomicU64::new(0),
            unsynced: AtomicU64::new(0),
        }
    }

    /// `get`, `get_unique` and `list` calls so far.
    pub fn reads(&self) -> u64 {
        self.reads.load(Ordering::SeqCst)
    }

    /// Records returned by `list` calls so far.
    pub fn listed(&self) -> u64 {
        self.listed.load(Ordering::SeqCst)
    }

    /// `commit` and `commit_unsynced` calls so far.
    pub fn commits(&self) -> u64 {
        self.commits.load(Ordering::SeqCst)
    }

    /// `commit_unsynced` calls so far (also counted in [`Self::commits`]).
    pub fn unsynced_commits(&self) -> u64 {
        self.unsynced.load(Ordering::SeqCst)
    }
}

#[async_trait]
impl Store for CountingStore {
    async fn get(&self, key: &RecordKey) -> Result<Option<Stored>> {
        self.reads.fetch_add(1, Ordering::SeqCst);
        self.inner.get(key).await
    }

    async fn get_unique(&self, index: UniqueIndex, value: &str) -> Result<Option<Stored>> {
        self.reads.fetch_add(1, Ordering::SeqCst);
        self.inner.get_unique(index, value).await
    }

    async fn list(&self, query: &ListQuery) -> Result<Page> {
        self.reads.fetch_add(1, Ordering::SeqCst);
        let page = self.inner.list(query).await?;
        self.listed
            .fetch_add(page.items.len() as u64, Ordering::SeqCst);
        Ok(page)
    }

    async fn commit(&self, writes: &[Write]) -> Result<Vec<u64>> {
        self.commits.fetch_add(1, Ordering::SeqCst);
        self.inner.commit(writes).await
    }

    async fn commit_unsynced(&self, writes: &[Write]) -> Result<Vec<u64>> {
        self.commits.fetch_add(1, Ordering::SeqCst);
        self.unsynced.fetch_add(1, Ordering::SeqCst);
        self.inner.commit_unsynced(writes).await
    }

    async fn check(&self) -> Result<()> {
        self.inner.check().await
    }
}
