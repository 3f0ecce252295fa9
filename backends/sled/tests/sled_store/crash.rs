//! Kill a committing process with SIGKILL; every commit it acknowledged must survive.
//!
//! The parent re-runs this test binary, filtered to `crash_child`, with `CHILD_DIR` set. The
//! child commits from several tasks and prints `ACK <node id> <name> END` after each commit
//! returns `Ok`; the parent kills it at a random moment, reopens the directory and looks.
//!
//! Before each durable commit the child makes an unsynced one (the node's state: one tree, no
//! unique index, so one `sled::Batch`): it must survive whenever the durable commit after it
//! does, since sled recovers a prefix of its log.

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader, Write as _};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::mpsc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use edgesync_core::model::{NodeId, NodeState};
use edgesync_core::store::{Collection, Record, RecordKey, Store, StoreExt, UniqueIndex, Write};
use edgesync_core::testkit::fixtures;
use edgesync_sled::SledStore;

const CHILD_DIR: &str = "EDGESYNC_SLED_CRASH_DIR";
const CHILD_ROUND: &str = "EDGESYNC_SLED_CRASH_ROUND";
const ROUNDS: u32 = 5;

/// The child: does nothing unless run by `acknowledged_commits_survive_sigkill`.
#[test]
fn crash_child() {
    let Some(dir) = std::env::var_os(CHILD_DIR) else {
        return;
    };
    let round = std::env::var(CHILD_ROUND).unwrap();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(4)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async move {
        let store = Arc::new(SledStore::open(dir).unwrap());
        let deadline = Instant::now() + Duration::from_secs(15);
        let mut tasks = Vec::new();
        for t in 0..8 {
            let store = store.clone();
            let round = round.clone();
            tasks.push(tokio::spawn(async move {
                let mut i = 0u64;
                while Instant::now() < deadline {
                    // A node and a function of one name: two kinds, two unique indexes.
                    let name = format!("r{round}-t{t}-{i}");
                    let node = fixtures::node(&name);
                    let function = fixtures::function(&name, 0);
                    store
                        .commit_unsynced(&[Write::create(Record::NodeState(NodeState::new(
                            node.id,
                        )))])
                        .await
                        .unwrap();
                    store
                        .commit(&[
                            Write::create(Record::Node(node.clone())),
                            Write::create(Record::Function(function)),
                        ])
                        .await
                        .unwrap();
                    let mut out = std::io::stdout().lock();
                    writeln!(out, "ACK {} {name} END", node.id).unwrap();
                    out.flush().unwrap();
                    i += 1;
                }
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
    });
}

#[test]
fn acknowledged_commits_survive_sigkill() {
    if std::env::var_os(CHILD_DIR).is_some() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let exe = std::env::current_exe().unwrap();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let mut total = 0;
    for round in 0..ROUNDS {
        let mut child = Command::new(&exe)
            .args(["crash::crash_child", "--exact", "--nocapture"])
            .env(CHILD_DIR, dir.path())
            .env(CHILD_ROUND, round.to_string())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel();
        let reader = std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        // Let it start committing, then kill it at a random moment.
        let mut lines: Vec<String> = Vec::new();
        loop {
            let line = rx
                .recv_timeout(Duration::from_secs(20))
                .expect("the child acknowledged nothing");
            let acked = line.starts_with("ACK ");
            lines.push(line);
            if acked {
                break;
            }
        }
        std::thread::sleep(Duration::from_millis(random_below(400)));
        child.kill().unwrap();
        child.wait().unwrap();
        reader.join().unwrap();
        lines.extend(rx.try_iter());

        let acked: Vec<(NodeId, String)> = lines
            .iter()
            .filter_map(|l| {
                let mut parts = l.split(' ');
                match (parts.next(), parts.next(), parts.next(), parts.next()) {
                    (Some("ACK"), Some(id), Some(name), Some("END")) => {
                        Some((id.parse().unwrap(), name.to_owned()))
                    }
                    _ => None,
                }
            })
            .collect();
        total += acked.len();
        rt.block_on(verify(dir.path(), &acked));
    }
    eprintln!("{total} acknowledged commits survived {ROUNDS} kills");
}

async fn verify(dir: &std::path::Path, acked: &[(NodeId, String)]) {
    let store = SledStore::open(dir).unwrap();
    for (id, name) in acked {
        let node = store
            .get_node(*id)
            .await
            .unwrap()
            .unwrap_or_else(|| panic!("acknowledged node {name} was lost"));
        assert_eq!(node.value.name, *name);
        let by_name = store
            .get_unique(UniqueIndex::NodeName, name)
            .await
            .unwrap()
            .unwrap_or_else(|| panic!("the name of acknowledged node {name} was lost"));
        assert_eq!(by_name.record.key(), Record::Node(node.value).key());
        assert!(
            store
                .get(&RecordKey::NodeState { node_id: *id })
                .await
                .unwrap()
                .is_some(),
            "the unsynced state written before acknowledged commit {name} was lost"
        );
        assert!(
            store
                .get_unique(UniqueIndex::FunctionName, name)
                .await
                .unwrap()
                .is_some(),
            "the function of acknowledged commit {name} was lost"
        );
    }
    // Acknowledged or not, no commit is half there.
    let names = |records: Vec<edgesync_core::store::Stored>| -> BTreeSet<String> {
        records
            .into_iter()
            .map(|s| match s.record {
                Record::Node(n) => n.name,
                Record::Function(f) => f.name,
                other => panic!("unexpected {other:?}"),
            })
            .collect()
    };
    let nodes = names(store.list_all(Collection::Nodes).await.unwrap());
    let functions = names(store.list_all(Collection::Functions).await.unwrap());
    assert_eq!(nodes, functions, "a commit was recovered half-applied");
}

fn random_below(max_ms: u64) -> u64 {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    u64::from(nanos) % max_ms
}
