//! An in-memory [`Store`]: for tests, examples and embedders that keep nothing on disk.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::ops::Bound;

use async_trait::async_trait;
use tokio::sync::RwLock;

use super::{
    Expect, ListQuery, Order, Page, RecordKey, Store, Stored, UniqueIndex, Write, validate_commit,
};
use crate::error::{Error, ErrorCode, Result};

#[derive(Debug, Default)]
struct State {
    records: BTreeMap<Vec<u8>, Stored>,
    unique: HashMap<(UniqueIndex, String), Vec<u8>>,
}

/// A [`Store`] that keeps everything in process memory, behind one lock.
#[derive(Debug, Default)]
pub struct MemoryStore {
    state: RwLock<State>,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }
}

/// Checks one write's precondition against the current record (shared by in-process backends).
pub fn check_expect(key: &RecordKey, current: Option<u64>, expect: Expect) -> Result<()> {
    match (expect, current) {
        (Expect::Any, _) | (Expect::Absent, None) => Ok(()),
        (Expect::Absent, Some(_)) => Err(Error::new(
            ErrorCode::AlreadyExists,
            format!("{key:?} already exists"),
        )),
        (Expect::Revision(want), Some(have)) if want == have => Ok(()),
        (Expect::Revision(want), have) => Err(Error::new(
            ErrorCode::RevisionConflict,
            format!(
                "{key:?} is at revision {}, the write expected {want}",
                have.map_or_else(|| "none (missing)".to_owned(), |h| h.to_string())
            ),
        )),
    }
}

#[async_trait]
impl Store for MemoryStore {
    async fn get(&self, key: &RecordKey) -> Result<Option<Stored>> {
        Ok(self.state.read().await.records.get(&key.encode()).cloned())
    }

    async fn get_unique(&self, index: UniqueIndex, value: &str) -> Result<Option<Stored>> {
        let state = self.state.read().await;
        Ok(state
            .unique
            .get(&(index, value.to_owned()))
            .and_then(|k| state.records.get(k))
            .cloned())
    }

    async fn list(&self, query: &ListQuery) -> Result<Page> {
        let state = self.state.read().await;
        let prefix = query.collection.key_prefix();
        let limit = query.clamped_limit();
        let after = query.after.as_ref().map(RecordKey::encode);
        let in_range = |k: &Vec<u8>| k.starts_with(&prefix);
        let items: Vec<Stored> = match query.order {
            Order::Ascending => {
                let start = match &after {
                    Some(a) => Bound::Excluded(a.clone()),
                    None => Bound::Included(prefix.clone()),
                };
                state
                    .records
                    .range((start, Bound::Unbounded))
                    .skip_while(|(k, _)| !in_range(k) && k.as_slice() < prefix.as_slice())
                    .take_while(|(k, _)| in_range(k))
                    .take(limit)
                    .map(|(_, v)| v.clone())
                    .collect()
            }
            // A cursor before the collection leaves nothing to list backwards.
            Order::Descending if after.as_ref().is_some_and(|a| a < &prefix) => Vec::new(),
            Order::Descending => {
                let end = match &after {
                    Some(a) => Bound::Excluded(a.clone()),
                    None => Bound::Unbounded,
                };
                state
                    .records
                    .range((Bound::Included(prefix.clone()), end))
                    .rev()
                    .filter(|(k, _)| in_range(k))
                    .take(limit)
                    .map(|(_, v)| v.clone())
                    .collect()
            }
        };
        let next = if items.len() == limit {
            items.last().map(|s| s.record.key())
        } else {
            None
        };
        Ok(Page { items, next })
    }

    async fn commit(&self, writes: &[Write]) -> Result<Vec<u64>> {
        validate_commit(writes)?;
        let mut state = self.state.write().await;

        // Check every precondition, then the unique values as they would be afterwards: a value
        // may be claimed by one record of the commit, and only from a holder this commit rewrites.
        let touched: HashSet<Vec<u8>> = writes.iter().map(|w| w.key().encode()).collect();
        let mut claimed: HashMap<(UniqueIndex, String), Vec<u8>> = HashMap::new();
        for w in writes {
            let key = w.key();
            let enc = key.encode();
            let expect = match w {
                Write::Put { expect, .. } | Write::Delete { expect, .. } => *expect,
            };
            check_expect(&key, state.records.get(&enc).map(|s| s.revision), expect)?;
            if let Write::Put { record, .. } = w {
                for uv in record.unique_values() {
                    if claimed.get(&uv).is_some_and(|holder| holder != &enc) {
                        return Err(unique_violation(&uv));
                    }
                    claimed.insert(uv, enc.clone());
                }
            }
        }
        for (uv, enc) in &claimed {
            if let Some(existing) = state.unique.get(uv)
                && existing != enc
                && !touched.contains(existing)
            {
                return Err(unique_violation(uv));
            }
        }

        // Apply.
        let mut revisions = Vec::with_capacity(writes.len());
        for w in writes {
            let enc = w.key().encode();
            if let Some(old) = state.records.remove(&enc) {
                for uv in old.record.unique_values() {
                    if state.unique.get(&uv) == Some(&enc) {
                        state.unique.remove(&uv);
                    }
                }
                if let Write::Put { record, .. } = w {
                    let revision = old.revision + 1;
                    insert(&mut state, enc, record.clone(), revision);
                    revisions.push(revision);
                } else {
                    revisions.push(0);
                }
            } else if let Write::Put { record, .. } = w {
                insert(&mut state, enc, record.clone(), 1);
                revisions.push(1);
            } else {
                revisions.push(0);
            }
        }
        Ok(revisions)
    }

    /// The same as [`Store::commit`]: nothing here is ever on disk.
    async fn commit_unsynced(&self, writes: &[Write]) -> Result<Vec<u64>> {
        self.commit(writes).await
    }

    async fn check(&self) -> Result<()> {
        Ok(())
    }
}

fn insert(state: &mut State, enc: Vec<u8>, record: super::Record, revision: u64) {
    for uv in record.unique_values() {
        state.unique.insert(uv, enc.clone());
    }
    state.records.insert(enc, Stored { revision, record });
}

fn unique_violation(uv: &(UniqueIndex, String)) -> Error {
    Error::new(
        ErrorCode::UniqueViolation,
        format!("{} {:?} is already taken", uv.0.as_str(), uv.1),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn memory_store_passes_the_conformance_suite() {
        crate::testkit::store_suite::run_all(&|| async { MemoryStore::new() }).await;
    }
}
