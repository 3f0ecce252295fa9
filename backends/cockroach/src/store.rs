//! [`CockroachStore`]: the pool, the retry loop and the `Store` implementation.

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

use async_trait::async_trait;
use edgesync_core::store::{ListQuery, Page, RecordKey, Store, Stored, UniqueIndex, Write};
use edgesync_core::{Error, Result};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{AssertSqlSafe, Executor, PgPool};

use crate::config::{CockroachConfig, DatabaseUrl};
use crate::errors::Failure;
use crate::migrate::{self, SchemaState};
use crate::retry::Retrier;
use crate::{commit, query};

/// A [`Store`] on CockroachDB (or PostgreSQL) through sqlx's Postgres driver.
///
/// Cheap to clone: clones share the pool and the retry counter.
#[derive(Clone)]
pub struct CockroachStore {
    pool: PgPool,
    retrier: Arc<Retrier>,
    url: Option<DatabaseUrl>,
}

impl CockroachStore {
    /// Opens a pool on `url` (`postgresql://`, `postgres://` or `cockroachdb://`) and checks
    /// that one connection works. Does not migrate: call [`migrate`](Self::migrate) or
    /// [`check_schema`](Self::check_schema).
    ///
    /// # Errors
    /// `invalid_request` for a malformed URL; `store_unavailable` when the database cannot be
    /// reached.
    pub async fn connect(url: &str, config: CockroachConfig) -> Result<Self> {
        let url = DatabaseUrl::parse(url)?;
        let options = PgConnectOptions::from_str(url.expose())
            .map_err(|e| {
                Error::invalid(format!("the database URL is not usable: {e}")).with_source(e)
            })?
            .application_name(&config.application_name);
        let set_timeout = config
            .statement_timeout
            .map(|t| format!("SET statement_timeout = '{}ms'", t.as_millis()));
        let pool = PgPoolOptions::new()
            .max_connections(config.max_connections.max(1))
            .acquire_timeout(config.acquire_timeout)
            .after_connect(move |conn, _meta| {
                let set_timeout = set_timeout.clone();
                Box::pin(async move {
                    if let Some(sql) = set_timeout {
                        // The statement holds only a number this crate formatted.
                        conn.execute(AssertSqlSafe(sql)).await?;
                    }
                    Ok(())
                })
            })
            .connect_with(options)
            .await
            .map_err(|e| match Failure::from(e) {
                Failure::Retry(e) => Error::store_unavailable(e),
                Failure::Final(e) => e,
            })?;
        tracing::debug!(url = %url, "connected to the database");
        let mut store = Self::with_pool(pool, config);
        store.url = Some(url);
        Ok(store)
    }

    /// A store on a pool the caller configured (only the retry policy of `config` applies).
    pub fn with_pool(pool: PgPool, config: CockroachConfig) -> Self {
        Self {
            pool,
            retrier: Arc::new(Retrier::new(config.retry)),
            url: None,
        }
    }

    /// Applies the migrations this binary embeds that the database lacks. Safe to run
    /// concurrently from several processes (they queue on a lock row) and to run again (a
    /// no-op).
    ///
    /// # Errors
    /// `store_unavailable` when the database is unreachable or another migrator holds the lock
    /// for minutes; `internal` when a migration fails or the database has migrations this
    /// binary does not know.
    pub async fn migrate(&self) -> Result<()> {
        migrate::migrate(&self.pool).await
    }

    /// How the database's schema compares with this binary's migrations: `serve` should refuse
    /// to start unless it is [`SchemaState::UpToDate`] (its `Display` says what to do).
    pub async fn check_schema(&self) -> Result<SchemaState> {
        migrate::check_schema(&self.pool).await
    }

    /// Transactions (and reads) run again after a transient failure, since this store was
    /// created (for tests and metrics).
    pub fn retries(&self) -> u64 {
        self.retrier.retries()
    }

    /// The pool, for plain SQL next to the store (operators' queries, tests).
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// Closes every connection; later calls fail with `store_unavailable`.
    pub async fn close(&self) {
        self.pool.close().await;
    }
}

impl fmt::Debug for CockroachStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CockroachStore")
            .field("url", &self.url)
            .field("connections", &self.pool.size())
            .field("retries", &self.retries())
            .finish_non_exhaustive()
    }
}

#[async_trait]
impl Store for CockroachStore {
    async fn get(&self, key: &RecordKey) -> Result<Option<Stored>> {
        query::get(&self.pool, &self.retrier, key).await
    }

    async fn get_unique(&self, index: UniqueIndex, value: &str) -> Result<Option<Stored>> {
        query::get_unique(&self.pool, &self.retrier, index, value).await
    }

    async fn list(&self, query: &ListQuery) -> Result<Page> {
        query::list(&self.pool, &self.retrier, query).await
    }

    async fn commit(&self, writes: &[Write]) -> Result<Vec<u64>> {
        commit::commit(&self.pool, &self.retrier, writes).await
    }

    /// A durable commit: a transaction costs the same round trips either way.
    async fn commit_unsynced(&self, writes: &[Write]) -> Result<Vec<u64>> {
        self.commit(writes).await
    }

    async fn check(&self) -> Result<()> {
        query::check(&self.pool).await
    }
}
