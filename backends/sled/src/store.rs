//! [`SledStore`]: the [`Store`] port on an embedded sled database.

use std::ops::Bound;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use async_trait::async_trait;
use edgesync_core::store::{
    Kind, ListQuery, Order, Page, RecordKey, SYNC_INTERVAL, Stored, UniqueIndex, Write,
    validate_commit,
};
use edgesync_core::{Error, ErrorCode, Result, Store};
use tokio::sync::RwLock;

use crate::codec;
use crate::commit;
use crate::error::{from_open, from_sled};
use crate::group_commit::GroupCommit;
use crate::layout::{Trees, prefix_end};

/// sled's page cache unless configured otherwise: 64 MiB.
pub const DEFAULT_CACHE_BYTES: u64 = 64 << 20;

/// A [`Store`] in one sled database directory: a single-binary deployment's storage.
///
/// - Commits apply atomically and serializably: one at a time, each a sled transaction over
///   every tree, or one `sled::Batch` when it writes one tree without unique values.
/// - A commit returns once it is on disk; concurrent commits share one flush (group commit).
/// - Listings and unique lookups never see a commit half-applied: commits hold a store-wide lock
///   exclusively while they apply (sled serializes transactions anyway), readers that look at
///   more than one key hold it shared.
///
/// A commit becomes visible to readers when its transaction applies, a flush (at most about a
/// millisecond plus one `fsync`) before it is acknowledged; a crash in that window loses it
/// although a reader may have seen it. Nothing acknowledged is ever lost. An unsynced commit
/// returns once applied and is durable with the next durable commit or sled's next background
/// flush ([`SYNC_INTERVAL`]).
///
/// One process at a time may open a directory. Dropping the store waits for a flush in progress.
pub struct SledStore {
    db: sled::Db,
    path: Option<PathBuf>,
    trees: Trees,
    /// Commits take it exclusively while their transaction applies; multi-key readers shared.
    applying: Arc<RwLock<()>>,
    group: GroupCommit,
}

impl SledStore {
    /// Opens (creating when missing) the store in directory `path`, with a page cache of
    /// [`DEFAULT_CACHE_BYTES`].
    ///
    /// Fails with `store_unavailable` when another process has the directory open.
    pub fn open(path: impl AsRef<Path>) -> Result<Self> {
        Self::open_with_cache(path, DEFAULT_CACHE_BYTES)
    }

    /// [`open`](Self::open) with a page cache of `cache_bytes`. The control plane keeps what
    /// its hot paths read in its own tables, so sled's cache only has to hold the pages being
    /// written and the occasional read (history, listings); sled's own default, 1 GiB, would
    /// hold a copy of every record of a large fleet.
    pub fn open_with_cache(path: impl AsRef<Path>, cache_bytes: u64) -> Result<Self> {
        let path = path.as_ref();
        let db = sled::Config::new()
            .path(path)
            .cache_capacity(cache_bytes)
            .flush_every_ms(Some(sync_interval_ms()))
            .open()
            .map_err(from_open)?;
        Self::from_db(db, Some(path.to_owned()))
    }

    /// A store in a fresh temporary directory, deleted when the store is dropped (for tests).
    pub fn temporary() -> Result<Self> {
        let db = sled::Config::new()
            .temporary(true)
            .flush_every_ms(Some(sync_interval_ms()))
            .open()
            .map_err(from_open)?;
        Self::from_db(db, None)
    }

    fn from_db(db: sled::Db, path: Option<PathBuf>) -> Result<Self> {
        let trees = Trees::open(&db)?;
        crate::upgrade::run(&db, &trees)?;
        let group = GroupCommit::start(db.clone())?;
        Ok(Self {
            db,
            path,
            trees,
            applying: Arc::new(RwLock::new(())),
            group,
        })
    }

    /// Applies a commit under the commit lock, on the blocking pool. It runs to its end even if
    /// the caller's future is dropped, and keeps the lock until then.
    async fn apply(&self, prepared: Vec<commit::Prepared>) -> Result<Vec<u64>> {
        let applying = self.applying.clone().write_owned().await;
        let trees = self.trees.clone();
        blocking(move || {
            let _applying = applying;
            commit::apply(&trees, &prepared)
        })
        .await
    }

    /// How many times this store has flushed to disk since it was opened. Fewer than the number
    /// of commits when commits overlap (for tests and metrics).
    pub fn flush_count(&self) -> u64 {
        self.group.flush_count()
    }
}

impl std::fmt::Debug for SledStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SledStore")
            .field("path", &self.path)
            .field("flushes", &self.flush_count())
            .finish_non_exhaustive()
    }
}

#[async_trait]
impl Store for SledStore {
    async fn get(&self, key: &RecordKey) -> Result<Option<Stored>> {
        // One key: sled reads it atomically, no lock needed.
        let tree = self.trees.kind(key.kind()).clone();
        let enc = key.encode();
        blocking(move || {
            tree.get(enc)
                .map_err(from_sled)?
                .map(|v| codec::decode(&v))
                .transpose()
        })
        .await
    }

    async fn get_unique(&self, index: UniqueIndex, value: &str) -> Result<Option<Stored>> {
        let applying = self.applying.clone().read_owned().await;
        let holders = self.trees.unique(index).clone();
        let records = self.trees.kind(index.kind()).clone();
        let value = value.to_owned();
        blocking(move || {
            let _applying = applying;
            let Some(holder) = holders.get(value.as_bytes()).map_err(from_sled)? else {
                return Ok(None);
            };
            match records.get(&holder).map_err(from_sled)? {
                Some(v) => codec::decode(&v).map(Some),
                None => Err(Error::new(
                    ErrorCode::CorruptRecord,
                    format!(
                        "{} {value:?} points at a record that does not exist",
                        index.as_str()
                    ),
                )),
            }
        })
        .await
    }

    async fn list(&self, query: &ListQuery) -> Result<Page> {
        let applying = self.applying.clone().read_owned().await;
        let tree = self.trees.kind(query.collection.kind()).clone();
        let query = query.clone();
        blocking(move || {
            let _applying = applying;
            scan(&tree, &query)
        })
        .await
    }

    async fn commit(&self, writes: &[Write]) -> Result<Vec<u64>> {
        validate_commit(writes)?;
        if writes.is_empty() {
            return Ok(Vec::new());
        }
        let prepared = commit::prepare(writes)?;
        let in_flight = self.group.begin();
        let revisions = self.apply(prepared).await?;
        let ticket = in_flight.register();
        self.group.wait(ticket).await?;
        Ok(revisions)
    }

    /// Applied like [`Store::commit`], without waiting for a flush: durable with the next
    /// durable commit (sled recovers a prefix of its log) or sled's own flush, at most
    /// [`SYNC_INTERVAL`] later.
    async fn commit_unsynced(&self, writes: &[Write]) -> Result<Vec<u64>> {
        validate_commit(writes)?;
        if writes.is_empty() {
            return Ok(Vec::new());
        }
        let prepared = commit::prepare(writes)?;
        self.apply(prepared).await
    }

    async fn check(&self) -> Result<()> {
        let db = self.db.clone();
        let tree = self.trees.kind(Kind::Setting).clone();
        blocking(move || {
            // Fails when the directory is gone or sled has hit an I/O error.
            db.size_on_disk().map_err(from_sled)?;
            tree.first().map_err(from_sled)?;
            Ok(())
        })
        .await
    }
}

/// sled's background flush interval: what makes an unsynced commit durable by itself.
fn sync_interval_ms() -> u64 {
    u64::try_from(SYNC_INTERVAL.as_millis()).unwrap_or(u64::MAX)
}

/// Runs sled calls on the blocking pool: they are mostly fast, but any of them can wait for a
/// flush (sled keeps transactions, and readers queued behind them, out while it syncs).
async fn blocking<T, F>(f: F) -> Result<T>
where
    T: Send + 'static,
    F: FnOnce() -> Result<T> + Send + 'static,
{
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| Error::internal("a store task failed").with_source(e))?
}

/// One page of a collection: a range scan of its key prefix in the kind's tree.
fn scan(tree: &sled::Tree, query: &ListQuery) -> Result<Page> {
    let prefix = query.collection.key_prefix();
    let limit = query.clamped_limit();
    let after = query.after.as_ref().map(RecordKey::encode);
    let end = prefix_end(&prefix);
    let mut lower = Bound::Included(prefix.clone());
    let mut upper = end.clone().map_or(Bound::Unbounded, Bound::Excluded);
    match (query.order, after) {
        (_, None) => {}
        (Order::Ascending, Some(a)) => {
            if a >= prefix {
                lower = Bound::Excluded(a);
            }
        }
        (Order::Descending, Some(a)) => {
            if end.as_ref().is_none_or(|e| a < *e) {
                upper = Bound::Excluded(a);
            }
        }
    }
    if is_empty(&lower, &upper) {
        return Ok(Page::default());
    }
    let range = tree.range::<Vec<u8>, _>((lower, upper));
    let entries: Box<dyn Iterator<Item = sled::Result<(sled::IVec, sled::IVec)>>> =
        match query.order {
            Order::Ascending => Box::new(range),
            Order::Descending => Box::new(range.rev()),
        };
    let mut items = Vec::with_capacity(limit.min(64));
    for entry in entries.take(limit) {
        let (_, value) = entry.map_err(from_sled)?;
        items.push(codec::decode(&value)?);
    }
    let next = if items.len() == limit {
        items.last().map(|s| s.record.key())
    } else {
        None
    };
    Ok(Page { items, next })
}

/// Whether a range holds no key (sled's `range` expects `lower <= upper`).
fn is_empty(lower: &Bound<Vec<u8>>, upper: &Bound<Vec<u8>>) -> bool {
    match (lower, upper) {
        (Bound::Included(l), Bound::Included(u)) => l > u,
        (Bound::Included(l) | Bound::Excluded(l), Bound::Excluded(u))
        | (Bound::Excluded(l), Bound::Included(u)) => l >= u,
        _ => false,
    }
}
