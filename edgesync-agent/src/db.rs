//! The node's local database: a SQLite file (`<data-dir>/local.db`) that schema migrations from
//! the control plane are applied to, in order, each in its own transaction, with a ledger
//! table recording what ran.
//!
//! Ledger `_edgesync_migrations(version, name, checksum, applied_at, dirty)`: a row is written
//! `dirty = 1` before a migration runs (in its own committed transaction), and the migration's
//! SQL plus `dirty = 0` commit together. A failed or interrupted migration therefore leaves its
//! effects rolled back and its row dirty, and is retried when planned again. A version already
//! applied with another checksum is refused: migrations are immutable.

use std::path::Path;
use std::sync::{Arc, Mutex, PoisonError};

use rusqlite::{Connection, OptionalExtension, params};
use serde::Serialize;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::error::{AgentError, Result};

/// File name under the data directory.
const FILE: &str = "local.db";

const LEDGER: &str = "CREATE TABLE IF NOT EXISTS _edgesync_migrations (
    version    INTEGER PRIMARY KEY,
    name       TEXT    NOT NULL,
    checksum   TEXT    NOT NULL,
    applied_at TEXT    NOT NULL,
    dirty      INTEGER NOT NULL DEFAULT 0
)";

/// One row of the ledger.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub(crate) struct LedgerEntry {
    /// Migration version.
    pub(crate) version: u64,
    /// Its name.
    pub(crate) name: String,
    /// Its checksum as the control plane computed it.
    pub(crate) checksum: String,
    /// When it was applied (or last attempted, while dirty), RFC 3339.
    pub(crate) applied_at: String,
    /// Attempted but not applied (failed or interrupted).
    pub(crate) dirty: bool,
}

/// Why a migration was not applied.
#[derive(Debug, thiserror::Error)]
pub(crate) enum MigrationError {
    /// The version was applied before with other content.
    #[error("migration {version} was applied with checksum {applied}, the plan has {planned}")]
    ChecksumMismatch {
        /// The version.
        version: u64,
        /// The checksum in the ledger.
        applied: String,
        /// The checksum in the plan.
        planned: String,
    },
    /// The SQL failed; its effects were rolled back.
    #[error("migration {version} failed: {message}")]
    Failed {
        /// The version.
        version: u64,
        /// SQLite's message.
        message: String,
    },
    /// The database itself failed.
    #[error(transparent)]
    Database(#[from] AgentError),
}

impl MigrationError {
    /// The error code reported in the ack.
    pub(crate) fn code(&self) -> &'static str {
        match self {
            MigrationError::ChecksumMismatch { .. } => "migration_checksum_mismatch",
            MigrationError::Failed { .. } => "migration_failed",
            MigrationError::Database(_) => "local_database_error",
        }
    }
}

/// The local database (one connection, used from blocking tasks).
#[derive(Clone, Debug)]
pub(crate) struct LocalDb {
    conn: Arc<Mutex<Connection>>,
}

impl LocalDb {
    /// Opens (or creates) `<data_dir>/local.db` and its ledger.
    pub(crate) fn open(data_dir: &Path) -> Result<Self> {
        let path = data_dir.join(FILE);
        let conn = Connection::open(&path)?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.execute_batch(LEDGER)?;
        Ok(Self {
            conn: Arc::new(Mutex::new(conn)),
        })
    }

    async fn with<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Connection) -> std::result::Result<T, MigrationError> + Send + 'static,
    ) -> std::result::Result<T, MigrationError> {
        let conn = self.conn.clone();
        tokio::task::spawn_blocking(move || {
            let mut conn = conn.lock().unwrap_or_else(PoisonError::into_inner);
            f(&mut conn)
        })
        .await
        .map_err(|e| AgentError::Internal(format!("database task failed: {e}")))?
    }

    /// Applies a migration, or confirms it was applied with the same checksum. Returns whether
    /// it ran now.
    pub(crate) async fn apply(
        &self,
        version: u64,
        name: String,
        up_sql: String,
        checksum: String,
    ) -> std::result::Result<bool, MigrationError> {
        self.with(move |conn| apply_blocking(conn, version, &name, &up_sql, &checksum))
            .await
    }

    /// The highest version applied cleanly (0 when none).
    pub(crate) async fn schema_version(&self) -> Result<u64> {
        self.with(|conn| {
            let v: Option<i64> = conn
                .query_row(
                    "SELECT MAX(version) FROM _edgesync_migrations WHERE dirty = 0",
                    [],
                    |r| r.get(0),
                )
                .map_err(AgentError::from)?;
            Ok(u64::try_from(v.unwrap_or(0)).unwrap_or(0))
        })
        .await
        .map_err(|e| match e {
            MigrationError::Database(e) => e,
            other => AgentError::Internal(other.to_string()),
        })
    }

    /// The ledger, ascending by version.
    pub(crate) async fn ledger(&self) -> Result<Vec<LedgerEntry>> {
        self.with(|conn| Ok(ledger_blocking(conn).map_err(AgentError::from)?))
            .await
            .map_err(|e| match e {
                MigrationError::Database(e) => e,
                other => AgentError::Internal(other.to_string()),
            })
    }
}

fn now() -> String {
    OffsetDateTime::now_utc()
        .format(&Rfc3339)
        .unwrap_or_default()
}

fn apply_blocking(
    conn: &mut Connection,
    version: u64,
    name: &str,
    up_sql: &str,
    checksum: &str,
) -> std::result::Result<bool, MigrationError> {
    let db = |e: rusqlite::Error| MigrationError::Database(e.into());
    let version_i = i64::try_from(version).map_err(|_| MigrationError::Failed {
        version,
        message: "version out of range".into(),
    })?;
    let existing: Option<(String, bool)> = conn
        .query_row(
            "SELECT checksum, dirty FROM _edgesync_migrations WHERE version = ?1",
            params![version_i],
            |r| Ok((r.get(0)?, r.get::<_, i64>(1)? != 0)),
        )
        .optional()
        .map_err(db)?;
    match existing {
        Some((applied, _)) if applied != checksum => {
            return Err(MigrationError::ChecksumMismatch {
                version,
                applied,
                planned: checksum.to_owned(),
            });
        }
        Some((_, false)) => return Ok(false),
        _ => {}
    }
    // Mark the attempt first: a crash mid-migration leaves a dirty row, never a silent gap.
    conn.execute(
        "INSERT INTO _edgesync_migrations (version, name, checksum, applied_at, dirty)
         VALUES (?1, ?2, ?3, ?4, 1)
         ON CONFLICT(version) DO UPDATE SET name = ?2, applied_at = ?4, dirty = 1",
        params![version_i, name, checksum, now()],
    )
    .map_err(db)?;
    let tx = conn.transaction().map_err(db)?;
    let ran = tx.execute_batch(up_sql).and_then(|()| {
        tx.execute(
            "UPDATE _edgesync_migrations SET dirty = 0, applied_at = ?2 WHERE version = ?1",
            params![version_i, now()],
        )
    });
    match ran {
        Ok(_) => {
            tx.commit().map_err(|e| MigrationError::Failed {
                version,
                message: e.to_string(),
            })?;
            Ok(true)
        }
        Err(e) => {
            // Dropping the transaction rolls the migration back; the row stays dirty.
            drop(tx);
            Err(MigrationError::Failed {
                version,
                message: e.to_string(),
            })
        }
    }
}

fn ledger_blocking(conn: &Connection) -> rusqlite::Result<Vec<LedgerEntry>> {
    let mut stmt = conn.prepare(
        "SELECT version, name, checksum, applied_at, dirty FROM _edgesync_migrations ORDER BY version",
    )?;
    let rows = stmt.query_map([], |r| {
        Ok(LedgerEntry {
            version: u64::try_from(r.get::<_, i64>(0)?).unwrap_or(0),
            name: r.get(1)?,
            checksum: r.get(2)?,
            applied_at: r.get(3)?,
            dirty: r.get::<_, i64>(4)? != 0,
        })
    })?;
    rows.collect()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[tokio::test]
    async fn migrations_apply_once_in_transactions_with_a_ledger() {
        let dir = tempfile::tempdir().unwrap();
        let db = LocalDb::open(dir.path()).unwrap();
        assert_eq!(db.schema_version().await.unwrap(), 0);
        let create = "CREATE TABLE kv (k TEXT PRIMARY KEY, v TEXT);".to_owned();
        assert!(
            db.apply(1, "kv".into(), create.clone(), "c1".into())
                .await
                .unwrap()
        );
        // Again with the same checksum: nothing runs.
        assert!(
            !db.apply(1, "kv".into(), create.clone(), "c1".into())
                .await
                .unwrap()
        );
        // Another checksum for an applied version is refused.
        let err = db
            .apply(1, "kv".into(), create, "c2".into())
            .await
            .unwrap_err();
        assert_eq!(err.code(), "migration_checksum_mismatch");

        // A failing migration rolls back all of its statements and stays dirty.
        let bad = "CREATE TABLE t2 (x); INSERT INTO nope VALUES (1);".to_owned();
        let err = db
            .apply(2, "bad".into(), bad, "c3".into())
            .await
            .unwrap_err();
        assert_eq!(err.code(), "migration_failed");
        assert_eq!(db.schema_version().await.unwrap(), 1);
        let ledger = db.ledger().await.unwrap();
        assert_eq!(ledger.len(), 2);
        assert!(!ledger[0].dirty);
        assert!(ledger[1].dirty);
        let conn = Connection::open(dir.path().join(FILE)).unwrap();
        let t2: i64 = conn
            .query_row(
                "SELECT COUNT(*) FROM sqlite_master WHERE name = 't2'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(t2, 0, "the failed migration's table was rolled back");

        // Fixed and retried under the same version and checksum: applies.
        let good = "CREATE TABLE t2 (x);".to_owned();
        assert!(db.apply(2, "bad".into(), good, "c3".into()).await.unwrap());
        assert_eq!(db.schema_version().await.unwrap(), 2);
    }
}
