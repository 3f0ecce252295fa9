//! Atomic commits: one SERIALIZABLE transaction per attempt.
//!
//! An attempt
//! 1. locks and reads the revision of every key the commit touches
//!    (`SELECT key…, revision … WHERE (key…) IN (…) FOR UPDATE`, one statement per table);
//! 2. checks every write's `Expect`, and the unique values the commit's own puts claim, in write
//!    order, exactly as the memory store does (`plan`);
//! 3. deletes every existing row the commit touches, then inserts every put with its new
//!    revision (old + 1, or 1). Deleting first means a unique value released by one write can be
//!    claimed by another write of the same commit (a rename and a create, even a swap), as the
//!    contract says, with constraints that are checked per statement (CockroachDB has no
//!    deferrable constraints); a value held by a record the commit does not touch violates the
//!    constraint on insert (SQLSTATE 23505 → `unique_violation`);
//! 4. commits.
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
use crate::errors::{Failure, classify_commit, unique_violation};
use crate::retry::Retrier;
use crate::schema::{self, Table};

/// Bind parameters per statement, well under PostgreSQL's limit of 65,535.
const MAX_PARAMS: usize = 30_000;

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
    // 1. Lock and read the current revisions.
    let mut current: Vec<Option<u64>> = vec![None; p.writes.len()];
    for (kind, indexes) in &p.by_kind {
        let table = schema::table(*kind);
        for chunk in indexes.chunks(rows_per_statement(table.key.len())) {
            let by_key: HashMap<String, usize> =
                chunk.iter().map(|&i| (key_id(&p.keys[i]), i)).collect();
            let sql = format!(
                "SELECT {}, revision FROM {} WHERE {} FOR UPDATE",
                key_columns(table),
                table.name,
                key_in(table, chunk.len())
            );
            let rows = codec::statement(&sql, chunk.iter().flat_map(|&i| &p.keys[i]))
                .fetch_all(&mut **tx)
                .await?;
            for row in rows {
                let key = codec::read_key(&row, table.key)?;
                let revision: i64 = row.try_get(table.key.len())?;
                let revision = u64::try_from(revision).map_err(|e| {
                    Error::corrupt(format!("{} row (revision {revision})", table.name), e)
                })?;
                if let Some(&i) = by_key.get(&key_id(&key)) {
                    current[i] = Some(revision);
                }
            }
        }
    }

    // 2. Preconditions and the commit's own unique claims.
    let revisions = plan(p.writes, &current)?;

    // 3. Remove every existing row the commit touches.
    for (kind, indexes) in &p.by_kind {
        let table = schema::table(*kind);
        let existing: Vec<usize> = indexes
            .iter()
            .copied()
            .filter(|&i| current[i].is_some())
            .collect();
        for chunk in existing.chunks(rows_per_statement(table.key.len())) {
            let sql = format!(
                "DELETE FROM {} WHERE {}",
                table.name,
                key_in(table, chunk.len())
            );
            codec::statement(&sql, chunk.iter().flat_map(|&i| &p.keys[i]))
                .execute(&mut **tx)
                .await?;
        }
    }

    // 4. Insert every put at its new revision.
    let revision_values: Vec<Value> = revisions
        .iter()
        .map(|&r| Value::Int8(i64::try_from(r).unwrap_or(i64::MAX)))
        .collect();
    for (kind, indexes) in &p.by_kind {
        let table = schema::table(*kind);
        let puts: Vec<usize> = indexes
            .iter()
            .copied()
            .filter(|&i| matches!(p.writes[i], Write::Put { .. }))
            .collect();
        let width = table.key.len() + table.columns.len() + 2;
        for chunk in puts.chunks(rows_per_statement(width)) {
            let sql = insert_sql(table, chunk.len());
            let args = chunk.iter().flat_map(|&i| {
                let (body, columns) = p.rows[i].split_last().unzip();
                p.keys[i]
                    .iter()
                    .chain(columns.into_iter().flatten())
                    .chain(iter::once(&revision_values[i]))
                    .chain(body)
            });
            codec::statement(&sql, args).execute(&mut **tx).await?;
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

fn rows_per_statement(params_per_row: usize) -> usize {
    (MAX_PARAMS / params_per_row.max(1)).max(1)
}

/// A hashable identity of key values (keys hold no floats, so `Debug` is exact).
fn key_id(values: &[Value]) -> String {
    format!("{values:?}")
}

fn key_columns(table: &Table) -> String {
    table
        .key
        .iter()
        .map(|(name, _)| *name)
        .collect::<Vec<_>>()
        .join(", ")
}

/// `(k1, k2) IN (($1, $2), ($3, $4), …)` for `rows` keys.
fn key_in(table: &Table, rows: usize) -> String {
    format!(
        "({}) IN ({})",
        key_columns(table),
        tuples(table.key.len(), rows)
    )
}

/// `($1, $2), ($3, $4), …`: `rows` tuples of `width` placeholders.
fn tuples(width: usize, rows: usize) -> String {
    (0..rows)
        .map(|r| {
            let params: Vec<String> = (1..=width).map(|c| format!("${}", r * width + c)).collect();
            format!("({})", params.join(", "))
        })
        .collect::<Vec<_>>()
        .join(", ")
}

fn insert_sql(table: &Table, rows: usize) -> String {
    let columns: Vec<&str> = table
        .key
        .iter()
        .map(|(name, _)| *name)
        .chain(table.columns.iter().copied())
        .chain(["revision", "body"])
        .collect();
    format!(
        "INSERT INTO {} ({}) VALUES {}",
        table.name,
        columns.join(", "),
        tuples(columns.len(), rows)
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use edgesync_core::ErrorCode;
    use edgesync_core::store::{Record, RecordKey};
    use edgesync_core::testkit::fixtures;

    #[test]
    fn statements_have_one_placeholder_per_value() {
        let table = schema::table(Kind::FunctionVersion);
        assert_eq!(
            key_in(table, 2),
            "(function_id, version) IN (($1, $2), ($3, $4))"
        );
        assert_eq!(
            insert_sql(schema::table(Kind::Setting), 1),
            "INSERT INTO settings (name, revision, body) VALUES ($1, $2, $3)"
        );
        assert!(rows_per_statement(16) * 16 <= MAX_PARAMS);
    }

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
