//! One atomic commit: preconditions, unique indexes and revisions, in a sled transaction or,
//! when the commit stays within one tree that has no unique index, in one `sled::Batch`.
//!
//! The rules are those of `edgesync_core::store::memory::MemoryStore::commit`, step for step, so
//! both stores answer every commit the same way (a property test holds this).

use std::collections::{HashMap, HashSet};

use edgesync_core::store::memory::check_expect;
use edgesync_core::store::{Expect, Kind, RecordKey, UniqueIndex, Write};
use edgesync_core::{Error, ErrorCode, Result};
use sled::IVec;
use sled::transaction::{
    ConflictableTransactionError, ConflictableTransactionResult, TransactionError, Transactional,
    TransactionalTree,
};

use crate::codec;
use crate::error::from_sled;
use crate::layout::{Trees, kind_slot, unique_slot};

/// A write with its key encoded and its record serialized, ready for the transaction.
#[derive(Debug)]
pub(crate) struct Prepared {
    key: RecordKey,
    enc: Vec<u8>,
    kind: Kind,
    expect: Expect,
    put: Option<PreparedPut>,
}

#[derive(Debug)]
struct PreparedPut {
    body: Vec<u8>,
    unique: Vec<(UniqueIndex, String)>,
}

/// Encodes keys and serializes records outside the transaction.
pub(crate) fn prepare(writes: &[Write]) -> Result<Vec<Prepared>> {
    writes
        .iter()
        .map(|w| {
            let key = w.key();
            let (expect, put) = match w {
                Write::Put { record, expect } => (
                    *expect,
                    Some(PreparedPut {
                        body: codec::encode_body(record)?,
                        unique: record.unique_values(),
                    }),
                ),
                Write::Delete { expect, .. } => (*expect, None),
            };
            Ok(Prepared {
                enc: key.encode(),
                kind: key.kind(),
                key,
                expect,
                put,
            })
        })
        .collect()
}

/// Applies the writes atomically; returns the new revisions. The caller holds the store's
/// commit lock, so no other write comes in between.
///
/// A commit confined to one kind without unique values (the write-behind flush of node states,
/// most of what the store writes) is checked with plain reads and applied as one `sled::Batch`,
/// which sled applies atomically, also across a crash. Any other commit is a sled transaction
/// over every tree, whose bookkeeping costs several times as much per write.
pub(crate) fn apply(trees: &Trees, writes: &[Prepared]) -> Result<Vec<u64>> {
    match single_plain_kind(writes) {
        Some(kind) => apply_batch(trees.kind(kind), writes),
        None => apply_transaction(trees, writes),
    }
}

/// The kind every write of the commit is on, when that kind has no unique index.
fn single_plain_kind(writes: &[Prepared]) -> Option<Kind> {
    let kind = writes.first()?.kind;
    (!has_unique_index(kind) && writes.iter().all(|w| w.kind == kind)).then_some(kind)
}

/// The same rules as [`apply_in`] for writes on one tree without unique values: every
/// precondition holds or nothing is written. Keys are distinct within a commit
/// (`validate_commit`), so each read sees the revision before the commit.
fn apply_batch(tree: &sled::Tree, writes: &[Prepared]) -> Result<Vec<u64>> {
    let mut batch = sled::Batch::default();
    let mut revisions = Vec::with_capacity(writes.len());
    for w in writes {
        let old = tree.get(&w.enc).map_err(from_sled)?;
        let old_revision = old.as_deref().map(codec::decode_revision).transpose()?;
        check_expect(&w.key, old_revision, w.expect)?;
        match &w.put {
            Some(put) => {
                let revision = old_revision.map_or(1, |r| r + 1);
                batch.insert(w.enc.as_slice(), codec::encode_value(revision, &put.body));
                revisions.push(revision);
            }
            None => {
                if old.is_some() {
                    batch.remove(w.enc.as_slice());
                }
                revisions.push(0);
            }
        }
    }
    tree.apply_batch(batch).map_err(from_sled)?;
    Ok(revisions)
}

/// Applies the writes in a sled transaction over every tree of the layout.
fn apply_transaction(trees: &Trees, writes: &[Prepared]) -> Result<Vec<u64>> {
    let result = <[sled::Tree] as Transactional<Error>>::transaction(trees.all(), |view| {
        apply_in(view, writes)
    });
    match result {
        Ok(revisions) => Ok(revisions),
        Err(TransactionError::Abort(e)) => Err(e),
        Err(TransactionError::Storage(e)) => Err(from_sled(e)),
    }
}

type TxResult<T> = ConflictableTransactionResult<T, Error>;

fn abort_on<T>(r: Result<T>) -> TxResult<T> {
    r.map_err(ConflictableTransactionError::Abort)
}

/// The transaction body; sled may run it more than once, so it keeps no state outside.
fn apply_in(view: &[TransactionalTree], writes: &[Prepared]) -> TxResult<Vec<u64>> {
    // Check every precondition, then the unique values as they would be afterwards: a value may
    // be claimed by one record of the commit, and only from a holder this commit rewrites.
    let touched: HashSet<&[u8]> = writes.iter().map(|w| w.enc.as_slice()).collect();
    let mut claimed: HashMap<(UniqueIndex, &str), &[u8]> = HashMap::new();
    let mut current: Vec<(Option<IVec>, Option<u64>)> = Vec::with_capacity(writes.len());
    for w in writes {
        let old = view[kind_slot(w.kind)].get(&w.enc)?;
        let revision = abort_on(old.as_deref().map(codec::decode_revision).transpose())?;
        abort_on(check_expect(&w.key, revision, w.expect))?;
        if let Some(put) = &w.put {
            for (index, value) in &put.unique {
                let uv = (*index, value.as_str());
                if claimed.get(&uv).is_some_and(|holder| *holder != w.enc) {
                    return abort_on(Err(unique_violation(*index, value)));
                }
                claimed.insert(uv, &w.enc);
            }
        }
        current.push((old, revision));
    }
    for ((index, value), enc) in &claimed {
        if let Some(existing) = view[unique_slot(*index)].get(value.as_bytes())?
            && existing != *enc
            && !touched.contains(existing.as_ref())
        {
            return abort_on(Err(unique_violation(*index, value)));
        }
    }

    // Apply.
    let mut revisions = Vec::with_capacity(writes.len());
    for (w, (old, old_revision)) in writes.iter().zip(current) {
        let records = &view[kind_slot(w.kind)];
        if let Some(old) = &old
            && has_unique_index(w.kind)
        {
            let old = abort_on(codec::decode(old))?;
            for (index, value) in old.record.unique_values() {
                let holders = &view[unique_slot(index)];
                if holders.get(value.as_bytes())?.as_deref() == Some(w.enc.as_slice()) {
                    holders.remove(value.as_bytes())?;
                }
            }
        }
        match &w.put {
            Some(put) => {
                let revision = old_revision.map_or(1, |r| r + 1);
                records.insert(w.enc.as_slice(), codec::encode_value(revision, &put.body))?;
                for (index, value) in &put.unique {
                    view[unique_slot(*index)].insert(value.as_bytes(), w.enc.as_slice())?;
                }
                revisions.push(revision);
            }
            None => {
                if old.is_some() {
                    records.remove(w.enc.as_slice())?;
                }
                revisions.push(0);
            }
        }
    }
    Ok(revisions)
}

fn has_unique_index(kind: Kind) -> bool {
    UniqueIndex::ALL.iter().any(|i| i.kind() == kind)
}

fn unique_violation(index: UniqueIndex, value: &str) -> Error {
    Error::new(
        ErrorCode::UniqueViolation,
        format!("{} {value:?} is already taken", index.as_str()),
    )
}
