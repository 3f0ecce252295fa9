//! Upgrades of a database written by an earlier EdgeSync, run when the store opens.
//!
//! - Telemetry keyed node first (tree `telemetry`, from before the sample's hour led the key)
//!   moves to its new tree, re-keyed, one batch per transaction; the old tree is dropped once
//!   empty. A crash midway loses nothing: each batch moves atomically, and the next open carries
//!   on where this one stopped.

use edgesync_core::store::Kind;
use edgesync_core::{Error, Result};
use sled::IVec;
use sled::transaction::{ConflictableTransactionError, TransactionError, Transactional};

use crate::codec;
use crate::error::from_sled;
use crate::layout::Trees;

/// The tree that held telemetry keyed node first.
const NODE_FIRST_TELEMETRY: &str = "telemetry";
/// Samples moved per transaction.
const BATCH: usize = 1_000;
/// How often (in samples moved) the upgrade logs its progress.
const PROGRESS_EVERY: usize = 100_000;

/// Runs every upgrade the database needs; a no-op on a current one.
pub(crate) fn run(db: &sled::Db, trees: &Trees) -> Result<()> {
    rekey_telemetry(db, trees)
}

fn rekey_telemetry(db: &sled::Db, trees: &Trees) -> Result<()> {
    let exists = db
        .tree_names()
        .iter()
        .any(|name| name.as_ref() == NODE_FIRST_TELEMETRY.as_bytes());
    if !exists {
        return Ok(());
    }
    let old = db.open_tree(NODE_FIRST_TELEMETRY).map_err(from_sled)?;
    let new = trees.kind(Kind::Telemetry);
    let total = old.len();
    if total > 0 {
        tracing::info!(samples = total, "re-keying stored telemetry by hour");
    }
    let mut moved = 0;
    loop {
        let batch = old
            .iter()
            .take(BATCH)
            .map(|entry| {
                let (key, value) = entry.map_err(from_sled)?;
                let new_key = codec::decode(&value)?.record.key().encode();
                Ok((key, new_key, value))
            })
            .collect::<Result<Vec<(IVec, Vec<u8>, IVec)>>>()?;
        if batch.is_empty() {
            break;
        }
        move_batch(&old, new, &batch)?;
        let before = moved;
        moved += batch.len();
        if moved / PROGRESS_EVERY > before / PROGRESS_EVERY {
            tracing::info!(moved, of = total, "re-keying stored telemetry by hour");
        }
    }
    db.flush().map_err(from_sled)?;
    db.drop_tree(NODE_FIRST_TELEMETRY).map_err(from_sled)?;
    if moved > 0 {
        tracing::info!(moved, "stored telemetry re-keyed by hour");
    }
    Ok(())
}

/// Inserts each value under its new key and removes the old one, atomically.
fn move_batch(old: &sled::Tree, new: &sled::Tree, batch: &[(IVec, Vec<u8>, IVec)]) -> Result<()> {
    let result = (old, new).transaction(|(old, new)| {
        for (key, new_key, value) in batch {
            new.insert(new_key.as_slice(), value.clone())?;
            old.remove(key.clone())?;
        }
        Ok::<_, ConflictableTransactionError<Error>>(())
    });
    match result {
        Ok(()) => Ok(()),
        Err(TransactionError::Abort(e)) => Err(e),
        Err(TransactionError::Storage(e)) => Err(from_sled(e)),
    }
}
