//! Atomic commits: one SERIALIZABLE transaction per attempt.
//!
//! An attempt
//! 1. deletes every row the commit touches, which locks it, and reads its revision back
//!    (`DELETE … WHERE (key…) IN (…) RETURNING key…, revision`, one CTE per table, one
//!    statement for all of them: `commit_sql`);
//! 2. checks every write's `Expect`, and the unique values the commit's own puts claim, in write
//!    order, exactly as the memory store does (`plan`); a failure rolls the deletes back;
//! 3. inserts every put with its new revision (old + 1, or 1), again one statement for every
//!    table. Deleting first means a unique value released by one write can be claimed by
//!    another write of the same commit (a rename and a create, even a swap), as the contract
//!    says, with constraints that are checked per statement (CockroachDB has no deferrable
//!    constraints); a value held by a record the commit does not touch violates the constraint
//!    on insert (SQLSTATE 23505 → `unique_violation`);
//! 4. commits.
//!
//! `BEGIN`, two statements and `COMMIT`: four round trips, however many tables a commit touches.
//!
//! Any failure rolls the transaction back, so nothing changes. Transient failures (40001, a lost
//! connection before `COMMIT`, a concurrent insert of the same key) run the attempt again through
//! the [`Retrier`].

use std::collections::{BTreeMap, HashMap};
use std::iter;

use edgesync_core::store::memory::check_expect;
use edgesync_core::store::{Expect, Kind, UniqueIndex, Write, validate_commit};
use edgesync_core::{Error, Result};
use sqlx::{PgPool, Postgres, Row, Transaction};

use crate::codec::{self, Value};
use crate::commit_sql::{self, Part};
use crate::errors::{Failure, classify_commit, unique_violation};
use crate::retry::Retrier;
use crate::schema;

/// A commit's writes with their SQL values, computed once for all attempts.
struct Prepared<'a> {
    writes: &'a [Write],
    /// Key column values, per write.
    keys: Vec<Vec<Value>>,
    /// Copied columns then the body, per write (empty for deletes).
    rows: Vec<Vec<Value>>,
    /// Write indexes by kind; kinds in a fixed order, so transactions lock tables alike.
    by_kind: BTreeMap<Kind, Vec<usize>>,
}

impl<'a> Prepared<'a> {
    fn new(writes: &'a [Write]) -> Result<Self> {
        let mut keys = Vec::with_capacity(writes.len());
        let mut rows = Vec::with_capacity(writes.len());
        let mut by_kind: BTreeMap<Kind, Vec<usize>> = BTreeMap::new();
        for (i, w) in writes.iter().enumerate() {
            let key = w.key();
            let values = codec::key_values(&key).ok_or_else(|| {
                Error::invalid(format!(
                    "{key:?} cannot be stored: the version exceeds 2^63-1"
                ))
            })?;
            keys.push(values);
            rows.push(match w {
                Write::Put { record, .. } => {
                    let mut row = codec::columns(record);
                    row.push(Value::Json(codec::body(record)?));
                    row
                }
                Write::Delete { .. } => Vec::new(),
            });
            by_kind.entry(key.kind()).or_default().push(i);
        }
        Ok(Self {
            writes,
            keys,
            rows,
            by_kind,
        })
    }
}

/// Applies `writes` atomically (see the module docs).
pub(crate) async fn commit(pool: &PgPool, retrier: &Retrier, writes: &[Write]) -> Result<Vec<u64>> {
    validate_commit(writes)?;
    if writes.is_empty() {
        return Ok(Vec::new());
    }
    let prepared = Prepared::new(writes)?;
    let prepared = &prepared;
    retrier
        .run("commit", || async move {
            let mut tx = pool
                .begin_with("BEGIN TRANSACTION ISOLATION LEVEL SERIALIZABLE")
                .await?;
            match apply(&mut tx, prepared).await {
                Ok(revisions) => {
                    tx.commit().await.map_err(classify_commit)?;
                    Ok(revisions)
                }
                Err(failure) => {
                    // Best effort: a broken connection is discarded by the pool anyway.
                    let _ = tx.rollback().await;
                    Err(failure)
                }
            }
        })
        .await
}

async fn apply(
    tx: &mut Transaction<'static, Postgres>,
    p: &Prepared<'_>,
) -> Result<Vec<u64>, Failure> {
    // 1. Remove every row the commit touches, which locks it, and read its revision.
    let mut current: Vec<Option<u64>> = vec![None; p.writes.len()];
    let touched: Vec<Part> = p
        .by_kind
        .iter()
        .map(|(kind, indexes)| (schema::table(*kind), indexes.clone()))
        .collect();
    let key_bytes = |i: usize| p.keys[i].iter().map(Value::wire_len).sum();
    for parts in commit_sql::pack(touched, |t| t.key.len(), key_bytes) {
        let by_key: HashMap<(usize, String), usize> = parts
            .iter()
            .enumerate()
            .flat_map(|(n, (_, rows))| rows.iter().map(move |&i| (n, i)))
            .map(|(n, i)| ((n, commit_sql::key_text(&p.keys[i])), i))
            .collect();
        let args = parts
            .iter()
            .flat_map(|(_, rows)| rows)
            .flat_map(|&i| &p.keys[i]);
        let rows = codec::statement(&commit_sql::delete_returning(&parts), args)
            .fetch_all(&mut **tx)
            .await?;
        let width = parts.iter().map(|(t, _)| t.key.len()).max().unwrap_or(0);
        for row in rows {
            let part: i64 = row.try_get(0)?;
            let (table, _) = usize::try_from(part)
                .ok()
                .and_then(|n| parts.get(n))
                .ok_or_else(|| Error::internal("a deleted row names no part of the statement"))?;
            let mut key = Vec::with_capacity(table.key.len());
            for c in 0..table.key.len() {
                key.push(row.try_get::<String, _>(1 + c)?);
            }
            let revision: i64 = row.try_get(1 + width)?;
            let revision = u64::try_from(revision).map_err(|e| {
                Error::corrupt(format!("{} row (revision {revision})", table.name), e)
            })?;
            if let Some(&i) = by_key.get(&(part as usize, key.join("\u{0}"))) {
                current[i] = Some(revision);
            }
        }
    }

    // 2. Preconditions and the commit's own unique claims; a failure rolls the deletes back.
    let revisions = plan(p.writes, &current)?;

    // 3. Insert every put at its new revision.
    let revision_values: Vec<Value> = revisions
        .iter()
        .map(|&r| Value::Int8(i64::try_from(r).unwrap_or(i64::MAX)))
        .collect();
    let puts: Vec<Part> = p
        .by_kind
        .iter()
        .map(|(kind, indexes)| {
            let puts = indexes
                .iter()
                .copied()
                .filter(|&i| matches!(p.writes[i], Write::Put { .. }))
                .collect();
            (schema::table(*kind), puts)
        })
        .filter(|(_, puts): &Part| !puts.is_empty())
        .collect();
    let row_bytes = |i: usize| {
        let row: usize = p.rows[i].iter().map(Value::wire_len).sum();
        key_bytes(i) + row + 12
    };
    for parts in commit_sql::pack(puts, commit_sql::insert_width, row_bytes) {
        let expected: usize = parts.iter().map(|(_, rows)| rows.len()).sum();
        let args = parts
            .iter()
            .flat_map(|(table, rows)| rows.iter().map(move |&i| (table.computed_key, i)))
            .flat_map(|(computed, i)| {
                let (body, columns) = p.rows[i].split_last().unzip();
                p.keys[i][computed..]
                    .iter()
                    .chain(columns.into_iter().flatten())
                    .chain(iter::once(&revision_values[i]))
                    .chain(body)
            });
        let inserted: i64 = codec::statement(&commit_sql::insert_counting(&parts), args)
            .fetch_one(&mut **tx)
            .await?
            .try_get(0)?;
        if usize::try_from(inserted).ok() != Some(expected) {
            return Err(Error::internal(format!(
                "a commit inserted {inserted} rows instead of {expected}"
            ))
            .into());
        }
    }
    Ok(revisions)
}

/// Checks each write's precondition against the current revisions and the unique values the
/// commit's puts claim among themselves, in write order (the memory store's order, so both
/// report the same first failure); returns the revision of each write.
fn plan(writes: &[Write], current: &[Option<u64>]) -> Result<Vec<u64>> {
    let mut claimed: HashMap<(UniqueIndex, String), usize> = HashMap::new();
    let mut revisions = Vec::with_capacity(writes.len());
    for (i, w) in writes.iter().enumerate() {
        let expect: Expect = match w {
            Write::Put { expect, .. } | Write::Delete { expect, .. } => *expect,
        };
        check_expect(&w.key(), current[i], expect)?;
        match w {
            Write::Put { record, .. } => {
                for value in record.unique_values() {
                    if claimed.get(&value).is_some_and(|&holder| holder != i) {
                        return Err(unique_violation(value.0));
                    }
                    claimed.insert(value, i);
                }
                revisions.push(current[i].map_or(1, |r| r + 1));
            }
            Write::Delete { .. } => revisions.push(0),
        }
    }
    Ok(revisions)
}

#[cfg(test)]
mod tests {
    use super::*;
    use edgesync_core::ErrorCode;
    use edgesync_core::store::{Record, RecordKey};
    use edgesync_core::testkit::fixtures;

    #[test]
    fn plan_checks_in_write_order_like_the_memory_store() {
        let (a, b) = (fixtures::node("same"), fixtures::node("same"));
        let stale = fixtures::node("other");
        let writes = [
            Write::create(Record::Node(a)),
            Write::create(Record::Node(b)),
            Write::update(Record::Node(stale), 7),
        ];
        let err = plan(&writes, &[None, None, None]).unwrap_err();
        assert_eq!(err.code(), ErrorCode::UniqueViolation);

        let n = fixtures::node("n");
        let writes = [
            Write::put(Record::Node(n.clone())),
            Write::delete(RecordKey::Function {
                id: fixtures::function("f", 0).id,
            }),
        ];
        assert_eq!(plan(&writes, &[Some(4), None]).unwrap(), vec![5, 0]);
        assert_eq!(
            plan(&[Write::create(Record::Node(n))], &[Some(1)])
                .unwrap_err()
                .code(),
            ErrorCode::AlreadyExists
        );
    }
}
