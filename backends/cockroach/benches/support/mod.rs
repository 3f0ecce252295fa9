//! What the SQL benches share: a throw-away database per run, medians and one-value queries.

use std::error::Error;
use std::future::Future;
use std::time::Duration;

use sqlx::postgres::PgPoolOptions;
use sqlx::{AssertSqlSafe, Executor, PgPool};

/// The benches' error type: anything, reported by `main`.
pub(crate) type BoxResult<T> = Result<T, Box<dyn Error>>;

/// `EDGESYNC_TEST_POSTGRES_URL`, or `None` after printing why the bench `name` is skipped.
pub(crate) fn database_url(name: &str) -> Option<String> {
    let url = std::env::var("EDGESYNC_TEST_POSTGRES_URL")
        .ok()
        .filter(|u| !u.trim().is_empty());
    if url.is_none() {
        println!(
            "SKIPPED: the {name} bench needs EDGESYNC_TEST_POSTGRES_URL (e.g. \
             postgresql://postgres@127.0.0.1:5432/test, a user that may create databases)"
        );
    }
    url
}

/// The bench's numeric arguments (`cargo bench … -- 500 5`), in order.
pub(crate) fn numeric_args() -> Vec<usize> {
    std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect()
}

/// Runs `bench` against a fresh database `edgesync_bench_<random>` on the server at `url`
/// (default isolation SERIALIZABLE, as on CockroachDB and in the tests), dropped afterwards
/// whatever happened, so a bench never touches what tests use.
pub(crate) fn in_fresh_database<F, Fut>(url: &str, bench: F) -> BoxResult<()>
where
    F: FnOnce(String) -> Fut,
    Fut: Future<Output = BoxResult<()>>,
{
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    rt.block_on(async {
        let admin = PgPoolOptions::new().max_connections(1).connect(url).await?;
        let name = format!(
            "edgesync_bench_{}",
            &uuid::Uuid::new_v4().simple().to_string()[..16]
        );
        admin
            .execute(AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .await?;
        admin
            .execute(AssertSqlSafe(format!(
                "ALTER DATABASE {name} SET default_transaction_isolation TO 'serializable'"
            )))
            .await?;
        let mut db_url = url::Url::parse(url)?;
        db_url.set_path(&format!("/{name}"));

        let outcome = bench(db_url.to_string()).await;

        // Dropped whatever happened (FORCE ends connections a failed run left open).
        admin
            .execute(AssertSqlSafe(format!(
                "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
            )))
            .await?;
        admin.close().await;
        outcome
    })
}

/// The middle sample.
pub(crate) fn median(mut v: Vec<Duration>) -> Duration {
    v.sort_unstable();
    v[v.len() / 2]
}

/// One text value from the server.
pub(crate) async fn scalar(pool: &PgPool, sql: &'static str) -> BoxResult<String> {
    Ok(sqlx::query_scalar(sql).fetch_one(pool).await?)
}

/// The server's version and durability settings and whether connections use TLS, which bound
/// every figure (over TLS, sqlx 0.9 stalls 40 ms on a message above 16 KiB: `commit_sql.rs`).
pub(crate) async fn describe_server(pool: &PgPool) -> BoxResult<String> {
    let tls = scalar(
        pool,
        "SELECT CASE WHEN ssl THEN 'TLS' ELSE 'plain TCP' END FROM pg_stat_ssl \
         WHERE pid = pg_backend_pid()",
    )
    .await
    .unwrap_or_else(|_| "a Unix socket".to_owned());
    Ok(format!(
        "server: {}, fsync = {}, synchronous_commit = {}, wal_sync_method = {}; connections: {tls}",
        scalar(pool, "SELECT version()").await?,
        scalar(pool, "SHOW fsync").await?,
        scalar(pool, "SHOW synchronous_commit").await?,
        scalar(pool, "SHOW wal_sync_method").await?,
    ))
}
