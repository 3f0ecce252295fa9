//! The `Store` port: typed records with optimistic concurrency and atomic multi-record writes.
//!
//! The idea is etcd's `Txn` and Kubernetes' `resourceVersion`: every record carries a revision
//! that the store bumps on each write; a write can demand the revision it read, so a stale write
//! fails with a conflict instead of silently overwriting someone else's change; and several writes
//! commit together or not at all.

pub mod batching;
mod ext;
pub mod memory;
mod record;

use std::fmt::Debug;

use async_trait::async_trait;

pub use ext::{StoreExt, Versioned};
pub use record::{
    Collection, Kind, Record, RecordKey, TELEMETRY_HOUR_NANOS, UniqueIndex, telemetry_hour,
};

use crate::error::Result;

/// A record as stored, with its revision.
#[derive(Clone, Debug, PartialEq)]
pub struct Stored {
    /// Bumped by one on every write of this record; 1 after creation.
    pub revision: u64,
    /// The record.
    pub record: Record,
}

/// What a write demands of the record's current state.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Expect {
    /// Nothing: last writer wins.
    Any,
    /// The record must not exist (a create).
    Absent,
    /// The record must exist at exactly this revision (an update of what was read).
    Revision(u64),
}

/// One write of an atomic [`Store::commit`].
// Writes live briefly inside one commit; boxing the record would only add an allocation.
#[derive(Clone, Debug, PartialEq)]
#[allow(clippy::large_enum_variant)]
pub enum Write {
    /// Create or replace a record.
    Put {
        /// The new record; its key says where it goes.
        record: Record,
        /// The precondition.
        expect: Expect,
    },
    /// Remove a record.
    Delete {
        /// The record to remove.
        key: RecordKey,
        /// The precondition.
        expect: Expect,
    },
}

impl Write {
    /// A create: fails if the record exists.
    pub fn create(record: Record) -> Self {
        Write::Put {
            record,
            expect: Expect::Absent,
        }
    }

    /// An update of the revision that was read.
    pub fn update(record: Record, revision: u64) -> Self {
        Write::Put {
            record,
            expect: Expect::Revision(revision),
        }
    }

    /// An unconditional put.
    pub fn put(record: Record) -> Self {
        Write::Put {
            record,
            expect: Expect::Any,
        }
    }

    /// An unconditional delete.
    pub fn delete(key: RecordKey) -> Self {
        Write::Delete {
            key,
            expect: Expect::Any,
        }
    }

    /// The key this write touches.
    pub fn key(&self) -> RecordKey {
        match self {
            Write::Put { record, .. } => record.key(),
            Write::Delete { key, .. } => key.clone(),
        }
    }
}

/// Order of a listing.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Order {
    /// Ascending by key.
    #[default]
    Ascending,
    /// Descending by key (newest first for time-ordered keys).
    Descending,
}

/// The longest an unsynced commit ([`Store::commit_unsynced`]) may stay in memory only.
pub const SYNC_INTERVAL: std::time::Duration = std::time::Duration::from_millis(500);

/// Largest page a store must serve in one call.
pub const MAX_PAGE: usize = 1_000;

/// A page request.
#[derive(Clone, Debug, PartialEq)]
pub struct ListQuery {
    /// What to list.
    pub collection: Collection,
    /// Resume strictly after this key (in the listing's order).
    pub after: Option<RecordKey>,
    /// At most this many records (clamped to `1..=MAX_PAGE`).
    pub limit: usize,
    /// Ascending or descending key order.
    pub order: Order,
}

impl ListQuery {
    /// The first page of a collection, ascending, `MAX_PAGE` records.
    pub fn all(collection: Collection) -> Self {
        Self {
            collection,
            after: None,
            limit: MAX_PAGE,
            order: Order::Ascending,
        }
    }

    /// The effective limit.
    pub fn clamped_limit(&self) -> usize {
        self.limit.clamp(1, MAX_PAGE)
    }
}

/// A page of records.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Page {
    /// The records, in the requested order.
    pub items: Vec<Stored>,
    /// Where the next page starts, when there may be one.
    pub next: Option<RecordKey>,
}

/// Durable storage of the control plane's records.
///
/// Implementations: in-memory ([`memory::MemoryStore`]), sled (single binary) and CockroachDB
/// (SQL). Each runs `edgesync_core::testkit::store_suite`, which is the executable form of the
/// contracts below.
#[async_trait]
pub trait Store: Debug + Send + Sync + 'static {
    /// Reads one record.
    ///
    /// # Behavior
    /// - Returns `Ok(None)` when no record has this key.
    /// - Reflects every commit that returned `Ok` before the call (read-your-writes).
    async fn get(&self, key: &RecordKey) -> Result<Option<Stored>>;

    /// Reads the record holding `value` in a unique index.
    ///
    /// # Behavior
    /// - Returns `Ok(None)` when no record holds the value.
    async fn get_unique(&self, index: UniqueIndex, value: &str) -> Result<Option<Stored>>;

    /// Lists a page of a collection in key order.
    ///
    /// # Behavior
    /// - Returns records whose key lies in the collection, strictly after `after` in the
    ///   requested order, at most `clamped_limit()` of them.
    /// - `next` is the key of the last record returned when the page is full, else `None`.
    /// - A listing never shows a commit half-applied.
    async fn list(&self, query: &ListQuery) -> Result<Page>;

    /// Applies every write atomically, or none of them.
    ///
    /// # Behavior
    /// - Returns the new revision of each write, in order (0 for deletes).
    /// - A `Put` sets the revision to the previous revision + 1, or 1 for a new record.
    /// - `Expect::Absent` on an existing record fails with `already_exists`.
    /// - `Expect::Revision(n)` on a record at another revision, or missing, fails with
    ///   `revision_conflict`.
    /// - A delete of a missing record with `Expect::Any` succeeds (idempotent).
    /// - A value of a unique index held by another record (after this commit) fails with
    ///   `unique_violation`; a record's old values are released when it is updated or deleted.
    /// - Two writes to the same key in one commit fail with `invalid_request`.
    /// - On any failure nothing is changed.
    /// - When it returns `Ok`, the writes are durable: a crash afterwards does not lose them.
    /// - Concurrent commits are serializable: each precondition is checked against the state the
    ///   commit applies to.
    async fn commit(&self, writes: &[Write]) -> Result<Vec<u64>>;

    /// [`commit`](Self::commit) for writes the control plane can afford to lose to a crash,
    /// because it rebuilds them (a sync plan handed out and not yet acknowledged: the node's
    /// ack of a lost plan is refused and it polls again).
    ///
    /// # Behavior
    /// - Everything [`commit`](Self::commit) promises, except that it may return before the
    ///   writes are durable.
    /// - They become durable no later than the next durable commit that returns, and by
    ///   themselves within the store's flush interval (sled: [`SYNC_INTERVAL`]).
    ///
    /// A store whose commits cost no more than this (the SQL store) answers with a durable
    /// commit. No default: a wrapper that forgot to pass this on would quietly make every such
    /// commit wait for the disk.
    async fn commit_unsynced(&self, writes: &[Write]) -> Result<Vec<u64>>;

    /// Checks that the store is reachable and usable (for `/ready`).
    async fn check(&self) -> Result<()>;
}

/// Checks the shape of a commit that every backend rejects the same way.
pub fn validate_commit(writes: &[Write]) -> Result<()> {
    let mut seen = std::collections::HashSet::with_capacity(writes.len());
    for w in writes {
        if !seen.insert(w.key()) {
            return Err(crate::Error::invalid(format!(
                "a commit may write each key once; {:?} appears twice",
                w.key()
            )));
        }
    }
    Ok(())
}
