//! The schema: embedded migrations (`migrations/`), run by sqlx without advisory locks, and
//! serialized between concurrent migrators by a lock row.
//!
//! CockroachDB has no advisory locks, so sqlx's own locking is off (`set_locking(false)`).
//! Instead a migrator claims the single row of `edgesync_migration_lock`:
//!
//! ```sql
//! INSERT INTO edgesync_migration_lock (id, holder, locked_until) VALUES (1, $me, now() + lease)
//! ON CONFLICT (id) DO UPDATE SET holder = excluded.holder, locked_until = excluded.locked_until
//! WHERE edgesync_migration_lock.locked_until < now()
//! RETURNING holder
//! ```
//!
//! It gets a row back only when the lock was free or its lease had expired. While migrating it
//! renews the lease; afterwards it deletes the row. A migrator that died releases the lock when
//! its lease runs out ([`LEASE`]). Others poll until they get the lock, then find nothing left to
//! do.

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use edgesync_core::{Error, ErrorCode, Result};
use sqlx::migrate::{MigrateError, Migrator};
use sqlx::{PgPool, Row};
use uuid::Uuid;

use crate::errors::Failure;

/// How long a claim of the migration lock lasts unless renewed.
pub const LEASE: Duration = Duration::from_secs(60);
/// How often a holder renews its claim.
const RENEW_EVERY: Duration = Duration::from_secs(15);
/// How often a waiting migrator tries again.
const POLL_EVERY: Duration = Duration::from_millis(100);
/// How long a migrator waits for the lock before giving up.
const WAIT_AT_MOST: Duration = Duration::from_secs(180);

/// The migrations compiled into this binary, with sqlx's advisory locking off.
fn migrator() -> Migrator {
    let mut m = sqlx::migrate!("./migrations");
    m.set_locking(false);
    m
}

/// How a database's schema compares with the migrations this binary knows.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SchemaState {
    /// Every known migration is applied, nothing else: ready to serve.
    UpToDate {
        /// The latest applied version.
        version: i64,
    },
    /// Some known migrations are not applied yet (an empty database has none applied): run
    /// `migrate` first.
    NeedsMigration {
        /// The latest applied version, if any.
        current: Option<i64>,
        /// The versions still to apply, ascending.
        pending: Vec<i64>,
    },
    /// The database has migrations this binary does not know: a newer EdgeSync migrated it.
    /// Serving could misread its data; upgrade this binary.
    NewerThanBinary {
        /// The versions the database has and this binary does not know.
        unknown: Vec<i64>,
        /// The latest version this binary knows.
        known: i64,
    },
    /// An applied migration differs from this binary's (another checksum) or failed halfway:
    /// an operator must look at it.
    Inconsistent {
        /// The migration in question.
        version: i64,
        /// What is wrong with it.
        reason: String,
    },
}

impl SchemaState {
    /// Whether the store can serve with this schema.
    pub fn is_up_to_date(&self) -> bool {
        matches!(self, SchemaState::UpToDate { .. })
    }
}

impl fmt::Display for SchemaState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SchemaState::UpToDate { version } => {
                write!(f, "the database schema is up to date (version {version})")
            }
            SchemaState::NeedsMigration { current, pending } => write!(
                f,
                "the database schema needs migrating: at {}, {} migration(s) pending ({pending:?}); run the migrations first",
                current.map_or_else(|| "no version".to_owned(), |v| format!("version {v}")),
                pending.len()
            ),
            SchemaState::NewerThanBinary { unknown, known } => write!(
                f,
                "the database schema is newer than this binary: it has migration(s) {unknown:?}, this binary knows up to {known}; upgrade EdgeSync"
            ),
            SchemaState::Inconsistent { version, reason } => write!(
                f,
                "database migration {version} is inconsistent ({reason}); an operator must repair it"
            ),
        }
    }
}

/// Applies every pending migration, holding the migration lock.
pub(crate) async fn migrate(pool: &PgPool) -> Result<()> {
    ensure_lock_table(pool).await?;
    let me = Uuid::new_v4();
    acquire(pool, me).await?;
    let renewer = tokio::spawn(renew(pool.clone(), me));
    let outcome = migrator().run(pool).await;
    renewer.abort();
    let released = release(pool, me).await;
    outcome.map_err(from_migrate)?;
    released
}

/// Compares the applied migrations with the ones this binary knows.
pub(crate) async fn check_schema(pool: &PgPool) -> Result<SchemaState> {
    let known: BTreeMap<i64, Vec<u8>> = migrator()
        .iter()
        .filter(|m| m.migration_type.is_up_migration())
        .map(|m| (m.version, m.checksum.to_vec()))
        .collect();
    let latest_known = known.keys().next_back().copied().unwrap_or(0);

    let exists: bool = sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM information_schema.tables \
         WHERE table_schema = current_schema() AND table_name = '_sqlx_migrations')",
    )
    .fetch_one(pool)
    .await
    .map_err(db_error)?;
    let applied: Vec<(i64, bool, Vec<u8>)> = if exists {
        sqlx::query("SELECT version, success, checksum FROM _sqlx_migrations ORDER BY version")
            .fetch_all(pool)
            .await
            .map_err(db_error)?
            .iter()
            .map(|r| Ok((r.try_get(0)?, r.try_get(1)?, r.try_get(2)?)))
            .collect::<sqlx::Result<_>>()
            .map_err(db_error)?
    } else {
        Vec::new()
    };
    Ok(compare(&known, latest_known, &applied))
}

fn compare(
    known: &BTreeMap<i64, Vec<u8>>,
    latest_known: i64,
    applied: &[(i64, bool, Vec<u8>)],
) -> SchemaState {
    let unknown: Vec<i64> = applied
        .iter()
        .map(|(v, _, _)| *v)
        .filter(|v| !known.contains_key(v))
        .collect();
    if !unknown.is_empty() {
        return SchemaState::NewerThanBinary {
            unknown,
            known: latest_known,
        };
    }
    for (version, success, checksum) in applied {
        if !success {
            return SchemaState::Inconsistent {
                version: *version,
                reason: "it failed partway (dirty)".to_owned(),
            };
        }
        if known.get(version).is_some_and(|k| k != checksum) {
            return SchemaState::Inconsistent {
                version: *version,
                reason: "its checksum differs from this binary's migration".to_owned(),
            };
        }
    }
    let pending: Vec<i64> = known
        .keys()
        .copied()
        .filter(|v| !applied.iter().any(|(a, _, _)| a == v))
        .collect();
    if pending.is_empty() {
        SchemaState::UpToDate {
            version: latest_known,
        }
    } else {
        SchemaState::NeedsMigration {
            current: applied.iter().map(|(v, _, _)| *v).max(),
            pending,
        }
    }
}

async fn ensure_lock_table(pool: &PgPool) -> Result<()> {
    const CREATE: &str = "CREATE TABLE IF NOT EXISTS edgesync_migration_lock (\
        id INT4 NOT NULL PRIMARY KEY, \
        holder UUID NOT NULL, \
        locked_until TIMESTAMPTZ NOT NULL)";
    // Two first migrators can race to create it; PostgreSQL then reports a duplicate type
    // (23505) or table (42P07) to one of them, which just tries once more.
    for attempt in 0..3 {
        match sqlx::query(CREATE).execute(pool).await {
            Ok(_) => return Ok(()),
            Err(e) if attempt < 2 && is_creation_race(&e) => {
                tokio::time::sleep(POLL_EVERY).await;
            }
            Err(e) => return Err(db_error(e)),
        }
    }
    Ok(())
}

fn is_creation_race(e: &sqlx::Error) -> bool {
    e.as_database_error()
        .and_then(|d| d.code())
        .is_some_and(|c| c == "23505" || c == "42P07")
}

async fn acquire(pool: &PgPool, me: Uuid) -> Result<()> {
    let started = tokio::time::Instant::now();
    loop {
        let got: Option<Uuid> = sqlx::query_scalar(
            "INSERT INTO edgesync_migration_lock (id, holder, locked_until) \
             VALUES (1, $1, now() + $2 * INTERVAL '1 millisecond') \
             ON CONFLICT (id) DO UPDATE \
             SET holder = excluded.holder, locked_until = excluded.locked_until \
             WHERE edgesync_migration_lock.locked_until < now() \
             RETURNING holder",
        )
        .bind(me)
        .bind(lease_millis())
        .fetch_optional(pool)
        .await
        .or_else(|e| match Failure::from(e) {
            // Two claims at once: one of them serializes after the other; look again.
            Failure::Retry(_) => Ok(None),
            Failure::Final(e) => Err(e),
        })?;
        if got == Some(me) {
            return Ok(());
        }
        if started.elapsed() > WAIT_AT_MOST {
            return Err(Error::new(
                ErrorCode::StoreUnavailable,
                format!(
                    "another process has been migrating the database for over {} s; \
                     if none is, delete the row of edgesync_migration_lock",
                    WAIT_AT_MOST.as_secs()
                ),
            ));
        }
        tokio::time::sleep(POLL_EVERY).await;
    }
}

async fn renew(pool: PgPool, me: Uuid) {
    loop {
        tokio::time::sleep(RENEW_EVERY).await;
        let renewed = sqlx::query(
            "UPDATE edgesync_migration_lock \
             SET locked_until = now() + $2 * INTERVAL '1 millisecond' \
             WHERE id = 1 AND holder = $1",
        )
        .bind(me)
        .bind(lease_millis())
        .execute(&pool)
        .await;
        if let Err(e) = renewed {
            tracing::warn!(error = %e, "could not renew the migration lock");
        }
    }
}

async fn release(pool: &PgPool, me: Uuid) -> Result<()> {
    sqlx::query("DELETE FROM edgesync_migration_lock WHERE id = 1 AND holder = $1")
        .bind(me)
        .execute(pool)
        .await
        .map_err(db_error)?;
    Ok(())
}

fn lease_millis() -> i64 {
    i64::try_from(LEASE.as_millis()).unwrap_or(i64::MAX)
}

fn db_error(e: sqlx::Error) -> Error {
    match Failure::from(e) {
        Failure::Retry(e) => Error::store_unavailable(e),
        Failure::Final(e) => e,
    }
}

fn from_migrate(e: MigrateError) -> Error {
    match e {
        MigrateError::Execute(e) => db_error(e),
        MigrateError::ExecuteMigration(e, version) => {
            Error::internal(format!("database migration {version} failed: {e}")).with_source(e)
        }
        MigrateError::VersionMissing(version) => Error::new(
            ErrorCode::Internal,
            format!(
                "the database has migration {version}, which this binary does not know; upgrade EdgeSync"
            ),
        ),
        other => Error::internal(format!("database migration: {other}")).with_source(other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn states_from_applied_migrations() {
        let known = BTreeMap::from([(1, vec![1u8]), (2, vec![2u8])]);
        assert_eq!(
            compare(&known, 2, &[]),
            SchemaState::NeedsMigration {
                current: None,
                pending: vec![1, 2]
            }
        );
        assert_eq!(
            compare(&known, 2, &[(1, true, vec![1])]),
            SchemaState::NeedsMigration {
                current: Some(1),
                pending: vec![2]
            }
        );
        let all = [(1, true, vec![1]), (2, true, vec![2])];
        assert_eq!(
            compare(&known, 2, &all),
            SchemaState::UpToDate { version: 2 }
        );
        let newer = [(1, true, vec![1]), (2, true, vec![2]), (3, true, vec![3])];
        assert_eq!(
            compare(&known, 2, &newer),
            SchemaState::NewerThanBinary {
                unknown: vec![3],
                known: 2
            }
        );
        assert!(matches!(
            compare(&known, 2, &[(1, true, vec![9])]),
            SchemaState::Inconsistent { version: 1, .. }
        ));
        assert!(matches!(
            compare(&known, 2, &[(1, false, vec![1])]),
            SchemaState::Inconsistent { version: 1, .. }
        ));
    }

    #[test]
    fn the_embedded_migrations_are_known() {
        let m = migrator();
        assert!(!m.locking, "CockroachDB has no advisory locks");
        assert!(m.iter().count() >= 1);
    }

    #[test]
    fn states_explain_themselves() {
        let s = SchemaState::NewerThanBinary {
            unknown: vec![9],
            known: 1,
        };
        assert!(s.to_string().contains("upgrade EdgeSync"));
        assert!(!s.is_up_to_date());
    }
}
