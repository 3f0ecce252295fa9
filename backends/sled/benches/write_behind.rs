//! The heartbeat write-behind path on sled, as throughput ratios against raw sled on the same
//! bytes, measured in the same run (so the figures mean something on any machine).
//!
//! ```text
//! cargo bench -p edgesync-sled --bench write_behind              # N = 10000, 5 rounds
//! cargo bench -p edgesync-sled --bench write_behind -- 2000 3    # N = 2000, 3 rounds
//! ```
//!
//! Heartbeats only touch in-memory presence; `EdgeSync::flush_node_states` later commits the
//! dirty `Record::NodeState`s in batches of 500, each commit durable on return. The rounds run
//! interleaved (a warm-up round first, discarded) so that drift hits every row alike, and each
//! row reports its median:
//!
//! * `(a)` baseline: one raw `sled::Batch` of N values into a fresh tree, then `Db::flush`
//!   (durable). Keys and values are byte for byte what the store writes (the encoded
//!   `RecordKey`, a 9-byte header and the record's JSON), serialized before the clock starts;
//! * `(a')` raw too, but one `sled::Batch` of 500 then `Db::flush`, N/500 times: the same
//!   number of durable points as `(b)`, so `(b)` against `(a')` is what the store itself costs;
//! * `(b)` ours: `SledStore::commit` of N new `NodeState` records, 500 writes per commit, one
//!   commit after the other (what `flush_node_states` does on the first pass), including the
//!   JSON serialization and the revision check of each record (node states have no unique
//!   index, so each commit is one `sled::Batch`, not a transaction over every tree);
//! * `(b')` the same with the N records already stored (the steady state: every pass rewrites
//!   the states of nodes that heartbeated, so each write also reads the old revision);
//! * `(d)` baseline: one raw `Tree::insert` then `Db::flush` per record, one writer, of M
//!   records (M = min(N, 1000): one `fsync` each is slow);
//! * `(c')` ours: `SledStore::commit` of one record per commit, one task, M records;
//! * `(c)` ours: `SledStore::commit` of one record per commit from 64 concurrent tasks, M
//!   records: group commit lets concurrent commits share a flush.
//! * `(c'')` the same through a `BatchingStore` in front of the `SledStore`, as the server
//!   wires it: commits that queue while one is in flight share the next transaction as well.
//! * `(e)` ours: the sightings of the same N nodes as `(b')` (time and resource usage) as
//!   presence buckets, `PRESENCE_BUCKETS` records of about N / 1,024 nodes each, 128 per
//!   commit: what a server running alone writes when its nodes heartbeat with nothing new.
//!   Against `(a)` like the others, and against `(b')`, the same sightings written as states.
//!
//! Ratios are throughput ratios against the row's baseline, `t_baseline / t_row` for the same
//! records: 1.00 is as fast as raw sled, 0.50 half as fast. `(a')`, `(b)` and `(b')` compare
//! with `(a)`, `(c')`, `(c)` and `(c'')` with `(d)`.
//!
//! sled's `Db::flush` on Linux ends in `sync_file_range`, not `fsync` (its background thread
//! runs `fsync` every 500 ms): both sides of every ratio get the same durability, but absolute
//! figures are not comparable with a database that `fsync`s each commit.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use edgesync_core::model::{
    FunctionId, NodeState, PRESENCE_BUCKETS, PresenceBucket, PresenceEntry, Timestamp,
    presence_bucket,
};
use edgesync_core::store::batching::BatchingStore;
use edgesync_core::store::{Record, Store, Write};
use edgesync_core::testkit::fixtures::heartbeat_state;
use edgesync_sled::SledStore;

mod support;

/// Writes per commit in `flush_node_states` (`FLUSH_BATCH` in `control/maintenance.rs`).
const FLUSH_BATCH: usize = 500;
/// Concurrent committers of row (c).
const TASKS: usize = 64;
/// Most records of the one-`fsync`-per-record rows.
const MAX_SINGLE: usize = 1000;
/// Buckets per commit in `flush_presence` (`PRESENCE_BATCH` in `control/maintenance.rs`).
const PRESENCE_BATCH: usize = 128;

fn fleet(n: usize, functions: &[FunctionId], seen_ms: i64) -> Vec<NodeState> {
    (0..n)
        .map(|i| heartbeat_state(i, functions, seen_ms))
        .collect()
}

/// The stored key and value of a state, as the store lays them out.
fn raw_entry(state: &NodeState) -> (Vec<u8>, Vec<u8>) {
    support::stored(&Record::NodeState(state.clone()))
}

/// `flush_node_states`: the states in batches of 500, one durable commit after the other.
async fn commit_batched(store: &SledStore, states: &[NodeState]) {
    for batch in states.chunks(FLUSH_BATCH) {
        let writes: Vec<Write> = batch
            .iter()
            .map(|s| Write::put(Record::NodeState(s.clone())))
            .collect();
        store.commit(&writes).await.unwrap();
    }
}

/// The presence buckets of `states`, as `flush_presence` builds them from the fleet.
fn presence_of(states: &[NodeState]) -> Vec<PresenceBucket> {
    let mut buckets: Vec<PresenceBucket> = (0..PRESENCE_BUCKETS)
        .map(|bucket| PresenceBucket {
            bucket,
            entries: Vec::new(),
        })
        .collect();
    for s in states {
        buckets[usize::from(presence_bucket(s.node_id))]
            .entries
            .push(PresenceEntry {
                node_id: s.node_id,
                last_seen_at: s.last_seen_at.unwrap(),
                resources: s.reported.resources.clone(),
            });
    }
    buckets
}

/// `flush_presence`: the buckets, 128 per commit, one durable commit after the other.
async fn commit_presence(store: &SledStore, buckets: &[PresenceBucket]) {
    for batch in buckets.chunks(PRESENCE_BATCH) {
        let writes: Vec<Write> = batch
            .iter()
            .map(|b| Write::put(Record::Presence(b.clone())))
            .collect();
        store.commit(&writes).await.unwrap();
    }
}

/// One record per commit, from `TASKS` tasks at once.
async fn commit_concurrently(store: &Arc<dyn Store>, states: &Arc<Vec<NodeState>>) {
    let per_task = states.len().div_ceil(TASKS);
    let handles: Vec<_> = (0..TASKS)
        .map(|t| {
            let (store, states) = (store.clone(), states.clone());
            tokio::spawn(async move {
                let end = ((t + 1) * per_task).min(states.len());
                for s in states.get(t * per_task..end).unwrap_or_default() {
                    store
                        .commit(&[Write::put(Record::NodeState(s.clone()))])
                        .await
                        .unwrap();
                }
            })
        })
        .collect();
    for h in handles {
        h.await.unwrap();
    }
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort_unstable();
    v[v.len() / 2]
}

fn main() {
    let numbers: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let n = numbers.first().copied().unwrap_or(10_000).max(1);
    let rounds = numbers.get(1).copied().unwrap_or(5).max(1);
    let m = n.min(MAX_SINGLE);

    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let raw = sled::Config::new()
        .path(dir.path().join("raw"))
        .open()
        .unwrap();
    let store = Arc::new(SledStore::open(dir.path().join("ours")).unwrap());
    let plain: Arc<dyn Store> = store.clone();
    // Its committer task starts with the first commit, inside the runtime.
    let batching: Arc<dyn Store> = Arc::new(BatchingStore::new(plain.clone()));
    let functions: Vec<FunctionId> = (0..3).map(|_| FunctionId::random()).collect();
    let t0 = 1_767_225_600_000;

    // The steady-state fleet of (b'), stored once before the clock starts.
    let mut steady = fleet(n, &functions, t0);
    rt.block_on(commit_batched(&store, &steady));
    let (sample_key, sample_value) = raw_entry(&steady[0]);
    println!(
        "write-behind on sled: N = {n} node states ({} B key + {} B value each), M = {m}, \
         {rounds} rounds + 1 warm-up, interleaved, median of each",
        sample_key.len(),
        sample_value.len(),
    );

    let mut times: [Vec<Duration>; 9] = Default::default();
    let (mut b_flushes, mut c_flushes, mut c2_flushes) = (0, 0, 0);
    for round in 0..=rounds {
        let seen = t0 + 1000 * (round as i64 + 1);

        // (a) raw batch into a fresh tree + flush.
        let entries: Vec<(Vec<u8>, Vec<u8>)> =
            fleet(n, &functions, seen).iter().map(raw_entry).collect();
        let tree = raw.open_tree(format!("batch_{round}")).unwrap();
        let start = Instant::now();
        let mut batch = sled::Batch::default();
        for (k, v) in &entries {
            batch.insert(k.clone(), v.clone());
        }
        tree.apply_batch(batch).unwrap();
        raw.flush().unwrap();
        let ta = start.elapsed();

        // (a') raw batches of 500, each flushed.
        let entries: Vec<(Vec<u8>, Vec<u8>)> =
            fleet(n, &functions, seen).iter().map(raw_entry).collect();
        let tree = raw.open_tree(format!("batches_{round}")).unwrap();
        let start = Instant::now();
        for chunk in entries.chunks(FLUSH_BATCH) {
            let mut batch = sled::Batch::default();
            for (k, v) in chunk {
                batch.insert(k.clone(), v.clone());
            }
            tree.apply_batch(batch).unwrap();
            raw.flush().unwrap();
        }
        let ta2 = start.elapsed();

        // (b) ours, new records, 500 per commit.
        let fresh = fleet(n, &functions, seen);
        let flushes = store.flush_count();
        let start = Instant::now();
        rt.block_on(commit_batched(&store, &fresh));
        let tb = start.elapsed();
        let fb = store.flush_count() - flushes;

        // (b') ours, rewriting the stored records, 500 per commit.
        for s in &mut steady {
            s.last_seen_at = Some(Timestamp::from_unix_millis(seen));
        }
        let start = Instant::now();
        rt.block_on(commit_batched(&store, &steady));
        let tb2 = start.elapsed();

        // (e) ours, the same sightings as presence buckets.
        let buckets = presence_of(&steady);
        let start = Instant::now();
        rt.block_on(commit_presence(&store, &buckets));
        let te = start.elapsed();

        // (d) raw insert + flush per record, one writer.
        let entries: Vec<(Vec<u8>, Vec<u8>)> =
            fleet(m, &functions, seen).iter().map(raw_entry).collect();
        let tree = raw.open_tree(format!("single_{round}")).unwrap();
        let start = Instant::now();
        for (k, v) in &entries {
            tree.insert(k.clone(), v.clone()).unwrap();
            raw.flush().unwrap();
        }
        let td = start.elapsed();

        // (c') ours, one record per commit, one task.
        let serial = fleet(m, &functions, seen);
        let start = Instant::now();
        rt.block_on(async {
            for s in &serial {
                store
                    .commit(&[Write::put(Record::NodeState(s.clone()))])
                    .await
                    .unwrap();
            }
        });
        let tc1 = start.elapsed();

        // (c) ours, one record per commit, TASKS tasks.
        let singles = Arc::new(fleet(m, &functions, seen));
        let flushes = store.flush_count();
        let start = Instant::now();
        rt.block_on(commit_concurrently(&plain, &singles));
        let tc = start.elapsed();
        let fc = store.flush_count() - flushes;

        // (c'') the same through the BatchingStore.
        let singles = Arc::new(fleet(m, &functions, seen + 500));
        let flushes = store.flush_count();
        let start = Instant::now();
        rt.block_on(commit_concurrently(&batching, &singles));
        let tc2 = start.elapsed();
        let fc2 = store.flush_count() - flushes;

        // Round 0 warms caches, allocators and the files up.
        if round > 0 {
            for (samples, t) in times
                .iter_mut()
                .zip([ta, ta2, tb, tb2, te, td, tc1, tc, tc2])
            {
                samples.push(t);
            }
            b_flushes += fb;
            c_flushes += fc;
            c2_flushes += fc2;
        }
    }
    let [a, a2, b, b2, e, d, c1, c, c2] = times.map(median);

    println!(
        "{:<58} {:>7} {:>10} {:>12} {:>7}",
        "row", "records", "median", "records/s", "ratio"
    );
    let row = |name: &str, records: usize, t: Duration, baseline: Option<Duration>| {
        let ratio = baseline.map_or_else(
            || "base".to_owned(),
            |base| format!("{:.2}", base.as_secs_f64() / t.as_secs_f64()),
        );
        println!(
            "{name:<58} {records:>7} {:>7.1} ms {:>12.0} {ratio:>7}",
            t.as_secs_f64() * 1e3,
            records as f64 / t.as_secs_f64(),
        );
    };
    row(
        "(a)  raw sled::Batch into a fresh tree + Db::flush",
        n,
        a,
        None,
    );
    row(
        &format!(
            "(a') raw sled::Batch of 500 + Db::flush, {} times",
            n.div_ceil(FLUSH_BATCH)
        ),
        n,
        a2,
        Some(a),
    );
    row(
        "(b)  SledStore::commit, 500 per commit, new records",
        n,
        b,
        Some(a),
    );
    row(
        "(b') SledStore::commit, 500 per commit, rewriting them",
        n,
        b2,
        Some(a),
    );
    row(
        &format!("(e)  the same sightings as {PRESENCE_BUCKETS} presence buckets"),
        n,
        e,
        Some(a),
    );
    row(
        "(d)  raw Tree::insert + Db::flush per record, 1 writer",
        m,
        d,
        None,
    );
    row(
        "(c') SledStore::commit, 1 per commit, 1 task",
        m,
        c1,
        Some(d),
    );
    row(
        &format!("(c)  SledStore::commit, 1 per commit, {TASKS} tasks"),
        m,
        c,
        Some(d),
    );
    row(
        &format!("(c'') BatchingStore over it, 1 per commit, {TASKS} tasks"),
        m,
        c2,
        Some(d),
    );
    println!(
        "flushes per round: (b) {:.1} for {} commits, (c) {:.1} and (c'') {:.1} for {m} commits",
        b_flushes as f64 / rounds as f64,
        n.div_ceil(FLUSH_BATCH),
        c_flushes as f64 / rounds as f64,
        c2_flushes as f64 / rounds as f64,
    );
    println!(
        "(b) against (a'), the same {} flushes: {:.2} (the store's own cost: JSON, revision \
         checks, blocking-pool hops)",
        n.div_ceil(FLUSH_BATCH),
        a2.as_secs_f64() / b.as_secs_f64(),
    );
    println!(
        "(e) against (b'), the same nodes' sightings: {:.2} (buckets instead of one state per node)",
        b2.as_secs_f64() / e.as_secs_f64(),
    );
    println!(
        "ratio = records/s of the row / records/s of its raw-sled baseline on the same bytes in \
         this run ((a'), (b), (b') against (a); (c'), (c), (c'') against (d)): 1.00 = as fast as raw sled, \
         0.50 = half as fast"
    );
}
