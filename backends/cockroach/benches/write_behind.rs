//! The heartbeat write-behind path on the SQL store, as throughput ratios against raw SQL on the
//! same server, with the same payload, measured in the same run.
//!
//! ```text
//! EDGESYNC_TEST_POSTGRES_URL=postgresql://postgres@127.0.0.1:5432/test \
//!     cargo bench -p edgesync-cockroach --bench write_behind              # N = 2000, 3 rounds
//! EDGESYNC_TEST_POSTGRES_URL=... cargo bench -p edgesync-cockroach --bench write_behind -- 500 5
//! ```
//!
//! Without `EDGESYNC_TEST_POSTGRES_URL` it says so and exits successfully. The URL's user must
//! be allowed to create databases: the bench creates a fresh one (`edgesync_bench_<random>`,
//! default isolation SERIALIZABLE like CockroachDB, as the tests set theirs up), migrates the
//! store into it, and drops it at the end, so it never touches what tests use.
//!
//! Heartbeats only touch in-memory presence; `EdgeSync::flush_node_states` later commits the
//! dirty `Record::NodeState`s in batches of 500. N nodes are stored first (both sides), then
//! each round rewrites all N of them, the steady state of write-behind. Rounds run interleaved
//! (a warm-up round first, discarded) and each row reports its median:
//!
//! * `(a)` baseline: a raw single-row `UPDATE … SET body = $2 WHERE node_id = $1` per node,
//!   autocommit, one connection, through sqlx, on a plain table `(node_id UUID PRIMARY KEY,
//!   body JSONB)` holding the same JSON the store keeps in `node_states.body`;
//! * `(a')` raw too, the same single-row `UPDATE`s in transactions of 500: as many commits as
//!   `(b)`, one statement (and round trip) per row;
//! * `(a'')` raw too, one set-based `UPDATE … FROM unnest($1::uuid[], $2::jsonb[])` of 500 rows
//!   per transaction: as many commits and about as many statements as `(b)`, so `(b)` against
//!   `(a'')` is what the store itself costs;
//! * `(b)` ours: `CockroachStore::commit` of the N records, 500 `Write::put` per commit, one
//!   commit after the other (per commit `DELETE … RETURNING` and `INSERT` of the 500 rows, with
//!   the copied columns and the status index, in statements of at most 12 KiB of parameters:
//!   `commit_sql.rs`).
//!
//! Over TLS (`sslmode=prefer`, the default, picks it when the server offers it), sqlx 0.9 sends
//! a message above 16 KiB in several writes with Nagle's algorithm on, and the last one waits
//! 40 ms for a delayed ACK: `(a'')`'s 500-row statements pay that, the store's do not. The
//! header line says which the run used; `?sslmode=disable` in the URL compares without it.
//!
//! Every transaction runs SERIALIZABLE (the database's default). Ratios are throughput ratios
//! against `(a)`, `t_a / t_row`: 1.00 is as fast as one raw `UPDATE` per node; above 1 faster
//! (mostly because a transaction of 500 rows shares one WAL flush).

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod support;

use std::time::{Duration, Instant};

use edgesync_cockroach::{CockroachConfig, CockroachStore};
use edgesync_core::model::{FunctionId, NodeState, Timestamp};
use edgesync_core::store::{Record, Store, Write};
use edgesync_core::testkit::fixtures::heartbeat_state;
use sqlx::postgres::PgPoolOptions;
use sqlx::{Executor, PgPool};
use support::{BoxResult, describe_server, median, scalar};

/// Writes per commit in `flush_node_states` (`FLUSH_BATCH` in `control/maintenance.rs`).
const FLUSH_BATCH: usize = 500;
const UPDATE: &str = "UPDATE raw_node_states SET body = $2 WHERE node_id = $1";

/// `flush_node_states`: the states in batches of 500, one durable commit after the other.
async fn commit_batched(store: &CockroachStore, states: &[NodeState]) -> BoxResult<()> {
    for batch in states.chunks(FLUSH_BATCH) {
        let writes: Vec<Write> = batch
            .iter()
            .map(|s| Write::put(Record::NodeState(s.clone())))
            .collect();
        store.commit(&writes).await?;
    }
    Ok(())
}

/// The raw table's rows: the node's id and the JSON the store keeps as `body`.
fn raw_rows(states: &[NodeState]) -> BoxResult<Vec<(uuid::Uuid, serde_json::Value)>> {
    states
        .iter()
        .map(|s| Ok((*s.node_id.as_uuid(), serde_json::to_value(s)?)))
        .collect()
}

/// One autocommitted `UPDATE` per row.
async fn update_each(pool: &PgPool, rows: &[(uuid::Uuid, serde_json::Value)]) -> BoxResult<()> {
    for (id, body) in rows {
        let done = sqlx::query(UPDATE)
            .bind(id)
            .bind(body)
            .execute(pool)
            .await?;
        assert_eq!(done.rows_affected(), 1);
    }
    Ok(())
}

/// The same `UPDATE`s, 500 per transaction.
async fn update_batched(pool: &PgPool, rows: &[(uuid::Uuid, serde_json::Value)]) -> BoxResult<()> {
    for chunk in rows.chunks(FLUSH_BATCH) {
        let mut tx = pool.begin().await?;
        for (id, body) in chunk {
            let done = sqlx::query(UPDATE)
                .bind(id)
                .bind(body)
                .execute(&mut *tx)
                .await?;
            assert_eq!(done.rows_affected(), 1);
        }
        tx.commit().await?;
    }
    Ok(())
}

/// One set-based `UPDATE` of 500 rows per transaction.
async fn update_unnest(pool: &PgPool, rows: &[(uuid::Uuid, serde_json::Value)]) -> BoxResult<()> {
    for chunk in rows.chunks(FLUSH_BATCH) {
        let (ids, bodies): (Vec<uuid::Uuid>, Vec<serde_json::Value>) =
            chunk.iter().cloned().unzip();
        let done = sqlx::query(
            "UPDATE raw_node_states AS r SET body = u.body \
             FROM unnest($1::uuid[], $2::jsonb[]) AS u (node_id, body) WHERE r.node_id = u.node_id",
        )
        .bind(ids)
        .bind(bodies)
        .execute(pool)
        .await?;
        assert_eq!(done.rows_affected(), chunk.len() as u64);
    }
    Ok(())
}

/// The benchmark proper, in the fresh database at `url`.
async fn run(url: &str, n: usize, rounds: usize) -> BoxResult<()> {
    let store = CockroachStore::connect(url, CockroachConfig::default()).await?;
    store.migrate().await?;
    let raw = PgPoolOptions::new().max_connections(1).connect(url).await?;
    raw.execute("CREATE TABLE raw_node_states (node_id UUID PRIMARY KEY, body JSONB NOT NULL)")
        .await?;

    // N nodes on both sides before the clock starts.
    let functions: Vec<FunctionId> = (0..3).map(|_| FunctionId::random()).collect();
    let t0 = 1_767_225_600_000;
    let mut states: Vec<NodeState> = (0..n).map(|i| heartbeat_state(i, &functions, t0)).collect();
    commit_batched(&store, &states).await?;
    let mut tx = raw.begin().await?;
    for (id, body) in raw_rows(&states)? {
        sqlx::query("INSERT INTO raw_node_states (node_id, body) VALUES ($1, $2)")
            .bind(id)
            .bind(body)
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await?;

    let json_len = serde_json::to_vec(&states[0])?.len();
    let ours_size = scalar(
        &raw,
        "SELECT round(avg(pg_column_size(body)))::text FROM node_states",
    )
    .await?;
    let raw_size = scalar(
        &raw,
        "SELECT round(avg(pg_column_size(body)))::text FROM raw_node_states",
    )
    .await?;
    println!(
        "write-behind on SQL: N = {n} node states ({json_len} B of JSON each; stored body {ours_size} B \
         in node_states, {raw_size} B in the raw table), {rounds} rounds + 1 warm-up, interleaved, \
         median of each"
    );
    println!("{}", describe_server(&raw).await?);

    let mut times: [Vec<Duration>; 4] = Default::default();
    for round in 0..=rounds {
        let seen = t0 + 1000 * (round as i64 + 1);
        for s in &mut states {
            s.last_seen_at = Some(Timestamp::from_unix_millis(seen));
        }
        let rows = raw_rows(&states)?;

        let start = Instant::now();
        update_each(&raw, &rows).await?;
        let ta = start.elapsed();

        let start = Instant::now();
        update_batched(&raw, &rows).await?;
        let ta2 = start.elapsed();

        let start = Instant::now();
        update_unnest(&raw, &rows).await?;
        let ta3 = start.elapsed();

        let start = Instant::now();
        commit_batched(&store, &states).await?;
        let tb = start.elapsed();

        // Round 0 warms the caches, the connections and the prepared statements up.
        if round > 0 {
            for (samples, t) in times.iter_mut().zip([ta, ta2, ta3, tb]) {
                samples.push(t);
            }
        }
    }
    let [a, a2, a3, b] = times.map(median);

    println!(
        "{:<62} {:>7} {:>10} {:>10} {:>7}",
        "row", "records", "median", "records/s", "ratio"
    );
    let row = |name: &str, t: Duration, ratio: Option<f64>| {
        let ratio = ratio.map_or_else(|| "base".to_owned(), |r| format!("{r:.2}"));
        println!(
            "{name:<62} {n:>7} {:>7.1} ms {:>10.0} {ratio:>7}",
            t.as_secs_f64() * 1e3,
            n as f64 / t.as_secs_f64(),
        );
    };
    let ratio = |t: Duration| Some(a.as_secs_f64() / t.as_secs_f64());
    row(
        "(a)  raw UPDATE per node, autocommit, 1 connection",
        a,
        None,
    );
    row(
        "(a') raw UPDATE per node, 500 per transaction",
        a2,
        ratio(a2),
    );
    row(
        "(a'') raw UPDATE … FROM unnest(…), 500 rows per statement",
        a3,
        ratio(a3),
    );
    row("(b)  CockroachStore::commit, 500 per commit", b, ratio(b));
    println!(
        "(b) against (a''), the same {} commits of set-based statements: {:.2} (the store's own \
         cost: DELETE … RETURNING + INSERT instead of UPDATE, copied columns, the status index, \
         statements of at most 12 KiB)",
        n.div_ceil(FLUSH_BATCH),
        a3.as_secs_f64() / b.as_secs_f64(),
    );
    println!(
        "ratio = records/s of the row / records/s of (a) on the same server and payload in this \
         run: 1.00 = as fast as one raw UPDATE per node, above 1 = faster"
    );

    store.close().await;
    raw.close().await;
    Ok(())
}

fn main() -> BoxResult<()> {
    let Some(url) = support::database_url("write-behind SQL") else {
        return Ok(());
    };
    let numbers = support::numeric_args();
    let n = numbers.first().copied().unwrap_or(2_000).max(1);
    let rounds = numbers.get(1).copied().unwrap_or(3).max(1);
    support::in_fresh_database(&url, |db_url| async move { run(&db_url, n, rounds).await })
}
