//! Plan acknowledgements on the SQL store, as throughput ratios against a bare single-row
//! `UPDATE` loop on the same server, measured in the same run.
//!
//! ```text
//! EDGESYNC_TEST_POSTGRES_URL=postgresql://postgres@127.0.0.1:5432/test \
//!     cargo bench -p edgesync-cockroach --bench acks              # N = 500 nodes, 3 rounds
//! EDGESYNC_TEST_POSTGRES_URL=... cargo bench -p edgesync-cockroach --bench acks -- 200 5
//! ```
//!
//! Without `EDGESYNC_TEST_POSTGRES_URL` it says so and exits successfully. It runs in a fresh
//! database (see `support`), dropped at the end.
//!
//! A real control plane (`EdgeSync` on `CockroachStore`) holds N registered nodes. Every round
//! uploads a new version of one function and deploys it to all of them; every node then polls
//! (untimed: that issues and stores its plan) and the timed part acknowledges all N plans through
//! `EdgeSync::ack_plan`, exactly what `POST /api/v1/nodes/{id}/sync/ack` runs: one SERIALIZABLE
//! transaction that completes the plan's history entry and writes the node's state and its
//! per-deployment states (one `DELETE … RETURNING` and one `INSERT` for the three tables, retried
//! on 40001), through the `BatchingStore` the server puts in front of the SQL store. Rows, each
//! the median of the rounds (a warm-up round first, discarded):
//!
//! * `(a)` baseline: a bare single-row `UPDATE raw_acks SET body = $2 WHERE id = $1` per node,
//!   autocommit, one connection, on a plain table `(id UUID PRIMARY KEY, body JSONB)`, with the
//!   JSON of the node's ack (results and state) as the body;
//! * `(b)` ours: one `ack_plan` after the other;
//! * `(a')` the same `UPDATE`s, 8 at a time on 8 connections;
//! * `(b')` ours, 8 acks at a time (the pool holds 10 connections, the server's default), as a
//!   fleet acks: many nodes at once, which lets PostgreSQL share WAL flushes between them.
//!
//! Ratios are throughput ratios against `(a)`, `t_a / t_row`: the goal of the acks is ≥ 0.5, half
//! the rate of one bare `UPDATE` per ack, on one connection (`(b)`).

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use edgesync_cockroach::{CockroachConfig, CockroachStore};
use edgesync_core::control::{Ack, Config, NewDeployment, ServedPlan};
use edgesync_core::model::{FunctionId, FunctionSpec, NodeId, PlanAction};
use edgesync_core::selector::Selector;
use edgesync_core::store::batching::BatchingStore;
use edgesync_core::testkit::sim::{SimNode, all_succeeded};
use edgesync_core::testkit::{MemArtifacts, wasm_fixtures};
use edgesync_core::{EdgeSync, planner};
use futures::StreamExt;
use sqlx::postgres::PgPoolOptions;
use sqlx::{Executor, PgPool};
use support::{BoxResult, describe_server, median};

/// Acks (and raw `UPDATE`s) in flight at once in the concurrent rows.
const IN_FLIGHT: usize = 8;
const UPDATE: &str = "UPDATE raw_acks SET body = $2 WHERE id = $1";

/// A node's ack of its plan: every action succeeded, and the state that leaves it in.
fn ack_for(node: &SimNode, plan: &ServedPlan) -> Ack {
    let results = all_succeeded(plan);
    let actions: Vec<PlanAction> = plan.actions.iter().map(|a| a.action.clone()).collect();
    let state = planner::apply(&node.state, &actions, &results, &plan.revision);
    Ack {
        plan_id: plan.plan_id,
        results,
        state: Some(state),
    }
}

/// Uploads version `n` of the function "bench" and deploys it to every node, above the last.
async fn deploy_version(es: &EdgeSync, n: u32) -> BoxResult<FunctionId> {
    let body = futures::stream::iter([Ok(Bytes::from(wasm_fixtures::numbered(n)))]).boxed();
    let spec = FunctionSpec {
        name: "bench".into(),
        entrypoint: "_start".into(),
        memory_pages: 4,
        max_execution_ms: 50,
        max_concurrency: 2,
        description: String::new(),
    };
    let (function, version) = es.upload_function(spec, body).await?;
    es.create_deployment(NewDeployment {
        name: String::new(),
        function_id: function.id,
        version: version.version,
        selector: Selector::parse("")?,
        pop: None,
        priority: n as i32,
        allow_breaking: false,
        strategy: Default::default(),
    })
    .await?;
    Ok(function.id)
}

/// Every node polls once (issuing and storing its plan); their acks, ready to send.
async fn poll_all(es: &EdgeSync, nodes: &[SimNode]) -> BoxResult<Vec<(NodeId, Ack)>> {
    let mut acks = Vec::with_capacity(nodes.len());
    for node in nodes {
        let plan = es.sync_plan(node.id).await?;
        assert!(!plan.actions.is_empty(), "every node has something to do");
        acks.push((node.id, ack_for(node, &plan)));
    }
    Ok(acks)
}

/// The raw table's rows: the node's id and its ack as JSON.
fn raw_rows(acks: &[(NodeId, Ack)]) -> BoxResult<Vec<(uuid::Uuid, serde_json::Value)>> {
    acks.iter()
        .map(|(id, ack)| {
            let body = serde_json::json!({"results": ack.results, "state": ack.state});
            Ok((*id.as_uuid(), body))
        })
        .collect()
}

/// Raw `UPDATE`s run again after a serialization failure (the store retries its own too).
static RAW_RETRIES: AtomicUsize = AtomicUsize::new(0);

/// One autocommitted `UPDATE`, run again on SQLSTATE 40001: SERIALIZABLE (the database's
/// default, as for the store) can fail concurrent updates of different rows too.
async fn update_one(pool: &PgPool, id: uuid::Uuid, body: serde_json::Value) -> BoxResult<()> {
    loop {
        match sqlx::query(UPDATE).bind(id).bind(&body).execute(pool).await {
            Ok(done) => {
                assert_eq!(done.rows_affected(), 1);
                return Ok(());
            }
            Err(sqlx::Error::Database(e)) if e.code().as_deref() == Some("40001") => {
                RAW_RETRIES.fetch_add(1, Ordering::Relaxed);
            }
            Err(e) => return Err(e.into()),
        }
    }
}

/// The raw `UPDATE`s, `in_flight` at a time; how long they took.
async fn time_updates(
    pool: &PgPool,
    rows: Vec<(uuid::Uuid, serde_json::Value)>,
    in_flight: usize,
) -> BoxResult<Duration> {
    let start = Instant::now();
    let outcomes: Vec<BoxResult<()>> = futures::stream::iter(rows)
        .map(|(id, body)| update_one(pool, id, body))
        .buffer_unordered(in_flight)
        .collect()
        .await;
    let elapsed = start.elapsed();
    outcomes.into_iter().collect::<BoxResult<Vec<()>>>()?;
    Ok(elapsed)
}

/// The acks, `in_flight` at a time; how long they took. Updates the simulated nodes' state.
async fn time_acks(
    es: &EdgeSync,
    nodes: &mut [SimNode],
    acks: Vec<(NodeId, Ack)>,
    in_flight: usize,
) -> BoxResult<Duration> {
    for ((node_id, ack), node) in acks.iter().zip(nodes.iter_mut()) {
        assert_eq!(*node_id, node.id);
        node.state = ack.state.clone().unwrap_or_default();
    }
    let start = Instant::now();
    let outcomes: Vec<_> = futures::stream::iter(acks)
        .map(|(node_id, ack)| es.ack_plan(node_id, ack))
        .buffer_unordered(in_flight)
        .collect()
        .await;
    let elapsed = start.elapsed();
    for outcome in outcomes {
        assert!(outcome?.applied, "every ack is applied once");
    }
    Ok(elapsed)
}

/// The benchmark proper, in the fresh database at `url`.
async fn run(url: &str, n: usize, rounds: usize) -> BoxResult<()> {
    let store = CockroachStore::connect(url, CockroachConfig::default()).await?;
    store.migrate().await?;
    // As the server wires it: concurrent commits share transactions.
    let es = EdgeSync::builder()
        .store(Arc::new(BatchingStore::new(Arc::new(store.clone()))))
        .artifacts(Arc::new(MemArtifacts::default()))
        // Refresh secrets are hashed once per registration, outside the timed part.
        .config(Config {
            bcrypt_cost: 4,
            ..Config::default()
        })
        .build()
        .await?;
    let raw = PgPoolOptions::new()
        .max_connections(IN_FLIGHT as u32)
        .connect(url)
        .await?;
    raw.execute("CREATE TABLE raw_acks (id UUID PRIMARY KEY, body JSONB NOT NULL)")
        .await?;

    let mut nodes = Vec::with_capacity(n);
    for i in 0..n {
        let labels = [("region".to_owned(), ["eu", "us"][i % 2].to_owned())].into();
        nodes.push(SimNode::register(&es, &format!("bench-{i:05}"), "fra", labels).await?);
    }
    let mut version = 0;
    deploy_version(&es, version).await?;
    let first = poll_all(&es, &nodes).await?;
    let mut tx = raw.begin().await?;
    for (id, body) in raw_rows(&first)? {
        sqlx::query("INSERT INTO raw_acks (id, body) VALUES ($1, $2)")
            .bind(id)
            .bind(body)
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await?;
    time_acks(&es, &mut nodes, first, 1).await?;

    println!(
        "acks on SQL: N = {n} nodes, each acking one plan (install the new version, remove the \
         old) per row, {rounds} rounds + 1 warm-up, interleaved, median of each"
    );
    println!("{}", describe_server(&raw).await?);

    let mut times: [Vec<Duration>; 4] = Default::default();
    for round in 0..=rounds {
        let mut measured = [Duration::ZERO; 4];
        for (row, in_flight) in [(0, 1), (2, IN_FLIGHT)] {
            version += 1;
            deploy_version(&es, version).await?;
            let acks = poll_all(&es, &nodes).await?;
            let rows = raw_rows(&acks)?;
            measured[row] = time_updates(&raw, rows, in_flight).await?;
            measured[row + 1] = time_acks(&es, &mut nodes, acks, in_flight).await?;
        }
        // Round 0 warms the caches, the connections and the prepared statements up.
        if round > 0 {
            for (samples, t) in times.iter_mut().zip(measured) {
                samples.push(t);
            }
        }
    }
    let [a, b, a_par, b_par] = times.map(median);

    println!(
        "{:<58} {:>6} {:>10} {:>9} {:>7}",
        "row", "acks", "median", "per s", "ratio"
    );
    let row = |name: &str, t: Duration, base: bool| {
        let ratio = if base {
            "base".to_owned()
        } else {
            format!("{:.2}", a.as_secs_f64() / t.as_secs_f64())
        };
        println!(
            "{name:<58} {n:>6} {:>7.1} ms {:>9.0} {ratio:>7}",
            t.as_secs_f64() * 1e3,
            n as f64 / t.as_secs_f64(),
        );
    };
    row("(a)  bare single-row UPDATE per ack, 1 connection", a, true);
    row("(b)  EdgeSync::ack_plan, one after the other", b, false);
    row(
        &format!("(a') bare UPDATE, {IN_FLIGHT} in flight"),
        a_par,
        false,
    );
    row(
        &format!("(b') EdgeSync::ack_plan, {IN_FLIGHT} in flight"),
        b_par,
        false,
    );
    println!(
        "ratio = acks/s of the row / UPDATEs/s of (a) on the same server in this run; goal for \
         (b): >= 0.50. (b') against (a'), both {IN_FLIGHT} in flight: {:.2}",
        a_par.as_secs_f64() / b_par.as_secs_f64(),
    );
    println!(
        "transactions run again after SQLSTATE 40001, over all rounds and set-up: raw UPDATEs {}, \
         the store's commits {}",
        RAW_RETRIES.load(Ordering::Relaxed),
        store.retries(),
    );
    raw.close().await;
    Ok(())
}

fn main() -> BoxResult<()> {
    let Some(url) = support::database_url("acks SQL") else {
        return Ok(());
    };
    let numbers = support::numeric_args();
    let n = numbers.first().copied().unwrap_or(500).max(1);
    let rounds = numbers.get(1).copied().unwrap_or(3).max(1);
    support::in_fresh_database(&url, |db_url| async move { run(&db_url, n, rounds).await })
}
