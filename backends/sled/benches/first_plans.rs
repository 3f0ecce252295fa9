//! What a node's first plan writes on sled, as throughput ratios against raw sled writing the
//! same bytes under the same keys, measured in the same run.
//!
//! ```text
//! cargo bench -p edgesync-sled --bench first_plans              # N = 100000
//! cargo bench -p edgesync-sled --bench first_plans -- 30000     # N = 30000
//! ```
//!
//! After a deploy to N nodes, each node's first poll issues its plan and stores its history
//! record (`SyncRecord`, pending, keyed by node then plan) in an unsynced commit; a plan that
//! retries a failed install also stores the node's deployment state (`NodeDeployment`,
//! installing) in the same commit, which makes it a sled transaction over two trees. (Until
//! 2026-11-30 every first plan stored both.) The server's `BatchingStore` merges the commits of
//! concurrent polls into one. Each row
//! starts from a database holding N node states (what a registered fleet holds) and empty
//! history and deployment trees, and reports its rate over the whole run and over its first and
//! last tenth (the trees grow from 0 to N records):
//!
//! * `(a)` baseline: raw `Tree::insert` of the same 2N keys and values, one writer, in the
//!   order the plans are issued (what sled itself costs, without transactions or checks);
//! * `(b)` ours: N retry commits (history record + deployment state), unsynced, from 64 tasks
//!   through a `BatchingStore` over a `SledStore`, as the server wires it;
//! * `(b')` ours: N first plans, the history record alone (one tree: a `sled::Batch` per
//!   merged commit, not a transaction).
//!
//! Ratios are records/s of the row over records/s of `(a)`.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use edgesync_core::model::*;
use edgesync_core::store::batching::BatchingStore;
use edgesync_core::store::{Record, Store, Write};
use edgesync_core::testkit::fixtures::heartbeat_state;
use edgesync_sled::SledStore;
use support::stored;

mod support;

/// Concurrent pollers (the simulator's connections).
const TASKS: usize = 64;

/// A plan's records: its history record (all a first plan stores) and the node's deployment
/// state, which a plan that retries a failed install stores with it.
fn first_plan(
    state: &NodeState,
    deployment_id: DeploymentId,
    function_id: FunctionId,
) -> [Record; 2] {
    let plan_id = PlanId::ordered();
    let now = Timestamp::now_utc();
    let install = PlanAction {
        id: 1,
        action: Action::InstallFunction(InstallFunction {
            function_id,
            name: "sim-hello".into(),
            version: 1,
            deployment_id,
            sha256: "ab".repeat(32),
            size: 120,
            entrypoint: "_start".into(),
            memory_pages: 1,
            max_execution_ms: 1000,
            max_concurrency: 16,
        }),
    };
    [
        Record::SyncRecord(SyncRecord {
            id: SyncRecordId::from_uuid(*plan_id.as_uuid()),
            node_id: state.node_id,
            plan_id,
            revision: "0123456789abcdef".into(),
            base: state.reported.clone(),
            actions: vec![install],
            results: Vec::new(),
            status: SyncStatus::Pending,
            planned_at: now,
            acked_at: None,
        }),
        Record::NodeDeployment(NodeDeployment {
            deployment_id,
            node_id: state.node_id,
            state: NodeDeploymentState::Installing,
            error: None,
            error_code: None,
            attempts: 0,
            updated_at: now,
        }),
    ]
}

/// A store holding `states`, as a registered fleet's database does.
async fn fleet_store(dir: &std::path::Path, states: &[NodeState]) -> Arc<SledStore> {
    let store = Arc::new(SledStore::open(dir).unwrap());
    for chunk in states.chunks(500) {
        let writes: Vec<Write> = chunk
            .iter()
            .map(|s| Write::create(Record::NodeState(s.clone())))
            .collect();
        store.commit(&writes).await.unwrap();
    }
    store
}

/// Elapsed time at every tenth of `n` operations.
struct Laps {
    start: Instant,
    marks: Vec<Duration>,
}

impl Laps {
    fn new() -> Self {
        Self {
            start: Instant::now(),
            marks: Vec::new(),
        }
    }

    fn total(&self) -> Duration {
        *self.marks.last().unwrap()
    }

    /// Rate (per second) of `per_tenth` operations over the first and the last tenth.
    fn ends(&self, per_tenth: f64) -> (f64, f64) {
        let first = self.marks[0];
        let last = self.marks[9] - self.marks[8];
        (
            per_tenth / first.as_secs_f64(),
            per_tenth / last.as_secs_f64(),
        )
    }
}

/// `(a)`: the records' keys and values straight into sled's trees, one writer.
fn raw(n: usize, states: &[NodeState]) -> Laps {
    let dir = tempfile::tempdir().unwrap();
    let db = sled::Config::new()
        .path(dir.path())
        .cache_capacity(edgesync_sled::DEFAULT_CACHE_BYTES)
        .open()
        .unwrap();
    let fleet = db.open_tree("node_states").unwrap();
    for s in states {
        let (k, v) = stored(&Record::NodeState(s.clone()));
        fleet.insert(k, v).unwrap();
    }
    let history = db.open_tree("sync_records").unwrap();
    let deployments = db.open_tree("node_deployments").unwrap();
    let (deployment_id, function_id) = (DeploymentId::random(), FunctionId::random());
    let mut laps = Laps::new();
    for (i, s) in states.iter().enumerate() {
        let [h, d] = first_plan(s, deployment_id, function_id).map(|r| stored(&r));
        history.insert(h.0, h.1).unwrap();
        deployments.insert(d.0, d.1).unwrap();
        if (i + 1) % (n / 10) == 0 {
            laps.marks.push(laps.start.elapsed());
        }
    }
    laps
}

/// `(b)` and `(b')`: plan commits from [`TASKS`] tasks through a `BatchingStore`.
async fn ours(n: usize, states: Arc<Vec<NodeState>>, history_only: bool) -> Laps {
    let dir = tempfile::tempdir().unwrap();
    let sled = fleet_store(dir.path(), &states).await;
    let store: Arc<dyn Store> = Arc::new(BatchingStore::new(sled));
    let (deployment_id, function_id) = (DeploymentId::random(), FunctionId::random());
    let next = Arc::new(AtomicUsize::new(0));
    let done = Arc::new(AtomicUsize::new(0));
    let laps = Arc::new(std::sync::Mutex::new(Laps::new()));
    let tasks: Vec<_> = (0..TASKS)
        .map(|_| {
            let (store, states, next, done, laps) = (
                store.clone(),
                states.clone(),
                next.clone(),
                done.clone(),
                laps.clone(),
            );
            tokio::spawn(async move {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(s) = states.get(i) else { break };
                    let [h, d] = first_plan(s, deployment_id, function_id);
                    let writes = if history_only {
                        vec![Write::create(h)]
                    } else {
                        vec![Write::create(h), Write::create(d)]
                    };
                    store.commit_unsynced(&writes).await.unwrap();
                    if (done.fetch_add(1, Ordering::Relaxed) + 1) % (n / 10) == 0 {
                        let mut laps = laps.lock().unwrap();
                        let at = laps.start.elapsed();
                        laps.marks.push(at);
                    }
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
    Arc::try_unwrap(laps).ok().unwrap().into_inner().unwrap()
}

fn main() {
    let n = std::env::args()
        .skip(1)
        .find_map(|a| a.parse::<usize>().ok())
        .unwrap_or(100_000)
        .max(10);
    let n = n - n % 10;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let states: Arc<Vec<NodeState>> =
        Arc::new((0..n).map(|i| heartbeat_state(i, &[], 0)).collect());
    println!(
        "first plans on sled: N = {n} nodes, {TASKS} pollers, sled cache {} MiB",
        edgesync_sled::DEFAULT_CACHE_BYTES >> 20
    );
    let a = raw(n, &states);
    let b = rt.block_on(ours(n, states.clone(), false));
    let b1 = rt.block_on(ours(n, states, true));

    println!(
        "{:<62} {:>8} {:>10} {:>11} {:>11} {:>11} {:>6}",
        "row", "records", "time", "records/s", "first 10%", "last 10%", "ratio"
    );
    let base = (2 * n) as f64 / a.total().as_secs_f64();
    let row = |name: &str, records: usize, laps: &Laps| {
        let rate = records as f64 / laps.total().as_secs_f64();
        let (first, last) = laps.ends(records as f64 / 10.0);
        println!(
            "{name:<62} {records:>8} {:>7.2} s {rate:>11.0} {first:>11.0} {last:>11.0} {:>6.2}",
            laps.total().as_secs_f64(),
            rate / base,
        );
    };
    row(
        "(a)  raw Tree::insert of the same keys and values, 1 writer",
        2 * n,
        &a,
    );
    row(
        "(b)  retries: history + deployment state, BatchingStore",
        2 * n,
        &b,
    );
    row("(b') first plans: the history record (sled::Batch)", n, &b1);
    println!(
        "plans/s: (b) {:.0} retries, (b') {:.0} first plans; ratio = records/s of the row / records/s of (a) in this run",
        n as f64 / b.total().as_secs_f64(),
        n as f64 / b1.total().as_secs_f64()
    );
}
