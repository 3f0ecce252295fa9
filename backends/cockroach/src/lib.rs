//! # edgesync-cockroach
//!
//! A [`Store`](edgesync_core::Store) on CockroachDB through sqlx's Postgres driver: the storage
//! of an EdgeSync deployment with several server replicas. It also runs on PostgreSQL (the
//! tests do); the SQL keeps to what both accept.
//!
//! ```no_run
//! # async fn run() -> edgesync_core::Result<()> {
//! use edgesync_cockroach::{CockroachConfig, CockroachStore};
//!
//! let store = CockroachStore::connect(
//!     "cockroachdb://edgesync@db:26257/edgesync?sslmode=verify-full",
//!     CockroachConfig::default(),
//! )
//! .await?;
//! store.migrate().await?;
//! assert!(store.check_schema().await?.is_up_to_date());
//! # Ok(()) }
//! ```
//!
//! Layout (`migrations/`, `schema.rs`): one table per record kind, named by
//! `Kind::as_str()`, keyed like `RecordKey` (composite where it is), with a `revision BIGINT`,
//! the queryable fields as real columns and the whole record as `body JSONB` (`codec.rs`).
//! Commits are SERIALIZABLE transactions (`commit.rs`) run, like every read, through one retry
//! loop for SQLSTATE 40001 and lost connections (`retry.rs`); SQLSTATEs map to EdgeSync error
//! codes in `errors.rs`. Migrations are embedded and serialized by a lock row (`migrate.rs`).

mod codec;
mod commit;
mod commit_sql;
mod config;
mod errors;
mod migrate;
mod query;
mod retry;
mod schema;
mod store;

pub use config::{CockroachConfig, DatabaseUrl, RetryPolicy};
pub use migrate::{LEASE as MIGRATION_LOCK_LEASE, SchemaState};
pub use store::CockroachStore;
