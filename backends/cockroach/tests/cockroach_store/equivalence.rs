//! Random commits give the same answers from `CockroachStore` as from the reference
//! `MemoryStore`: results, error codes, listings (both orders, paged) and unique lookups.

use edgesync_core::ErrorCode;
use edgesync_core::model::{CommandId, FunctionId, NodeId, Timestamp};
use edgesync_core::store::memory::MemoryStore;
use edgesync_core::store::{
    Collection, Expect, ListQuery, Order, Page, Record, RecordKey, Store, UniqueIndex, Write,
    telemetry_hour,
};
use edgesync_core::testkit::fixtures;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};

use crate::support::{SKIPPED, TestDbs};

const SLOTS: u8 = 3;
const NAMES: [&str; 3] = ["a", "b", "c"];
/// Metrics whose bytewise order ("B" < "a" < "a2" < "é") differs from most locales'.
const METRICS: [&str; 3] = ["a", "B", "é"];

#[derive(Clone, Copy, Debug)]
enum Kind {
    Node,
    Function,
    Command,
    Telemetry,
}

#[derive(Clone, Debug)]
enum Op {
    Put {
        kind: Kind,
        slot: u8,
        name: usize,
        expect: Expect,
    },
    Delete {
        kind: Kind,
        slot: u8,
        expect: Expect,
    },
}

fn kind() -> impl Strategy<Value = Kind> {
    prop_oneof![
        Just(Kind::Node),
        Just(Kind::Function),
        Just(Kind::Command),
        Just(Kind::Telemetry)
    ]
}

fn expect() -> impl Strategy<Value = Expect> {
    prop_oneof![
        3 => Just(Expect::Any),
        1 => Just(Expect::Absent),
        1 => (0u64..4).prop_map(Expect::Revision),
    ]
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => (kind(), 0..SLOTS, 0..NAMES.len(), expect())
            .prop_map(|(kind, slot, name, expect)| Op::Put { kind, slot, name, expect }),
        1 => (kind(), 0..SLOTS, expect())
            .prop_map(|(kind, slot, expect)| Op::Delete { kind, slot, expect }),
    ]
}

fn uuid(slot: u8) -> uuid::Uuid {
    format!("00000000-0000-4000-8000-0000000000{slot:02x}")
        .parse()
        .unwrap()
}

/// Commands and telemetry belong to one of two nodes.
fn owner(slot: u8) -> NodeId {
    NodeId::from_uuid(uuid(0x10 + slot % 2))
}

/// Telemetry: slots 0 and 1 ("a", "B") share a node, so their metrics' order shows.
fn sensor(slot: u8) -> NodeId {
    NodeId::from_uuid(uuid(0x10 + slot / 2))
}

fn ts(slot: u8) -> Timestamp {
    Timestamp::from_unix_millis(1_767_225_600_000 - i64::from(slot) * 1000)
}

fn hour_of(slot: u8) -> i64 {
    telemetry_hour(i64::try_from(ts(slot).unix_nanos()).unwrap())
}

fn key(kind: Kind, slot: u8) -> RecordKey {
    match kind {
        Kind::Node => RecordKey::Node {
            id: NodeId::from_uuid(uuid(slot)),
        },
        Kind::Function => RecordKey::Function {
            id: FunctionId::from_uuid(uuid(slot)),
        },
        Kind::Command => RecordKey::Command {
            node_id: owner(slot),
            id: CommandId::from_uuid(uuid(slot)),
        },
        Kind::Telemetry => RecordKey::Telemetry {
            node_id: sensor(slot),
            metric: METRICS[usize::from(slot) % METRICS.len()].to_owned(),
            ts_nanos: i64::try_from(ts(slot).unix_nanos()).unwrap(),
            seq: 0,
        },
    }
}

fn record(kind: Kind, slot: u8, name: usize) -> Record {
    match kind {
        Kind::Node => {
            let mut n = fixtures::node(NAMES[name]);
            n.id = NodeId::from_uuid(uuid(slot));
            Record::Node(n)
        }
        Kind::Function => {
            let mut f = fixtures::function(NAMES[name], 0);
            f.id = FunctionId::from_uuid(uuid(slot));
            Record::Function(f)
        }
        Kind::Command => {
            let mut c = match fixtures::one_of_each()
                .into_iter()
                .find(|r| matches!(r, Record::Command(_)))
            {
                Some(Record::Command(c)) => c,
                _ => unreachable!(),
            };
            c.id = CommandId::from_uuid(uuid(slot));
            c.node_id = owner(slot);
            c.idempotency_key = (name > 0).then(|| format!("k{name}"));
            Record::Command(c)
        }
        Kind::Telemetry => Record::Telemetry(edgesync_core::model::TelemetryPoint {
            node_id: sensor(slot),
            metric: METRICS[usize::from(slot) % METRICS.len()].to_owned(),
            ts: ts(slot),
            seq: 0,
            value: name as f64 + 0.25,
            labels: Default::default(),
        }),
    }
}

fn write(op: &Op) -> Write {
    match *op {
        Op::Put {
            kind,
            slot,
            name,
            expect,
        } => Write::Put {
            record: record(kind, slot, name),
            expect,
        },
        Op::Delete { kind, slot, expect } => Write::Delete {
            key: key(kind, slot),
            expect,
        },
    }
}

/// Every page of a collection, in both orders, in pages of 2.
async fn pages(store: &dyn Store, collection: Collection) -> Vec<Page> {
    let mut out = Vec::new();
    for order in [Order::Ascending, Order::Descending] {
        let mut query = ListQuery {
            collection: collection.clone(),
            after: None,
            limit: 2,
            order,
        };
        loop {
            let page = store.list(&query).await.unwrap();
            let next = page.next.clone();
            out.push(page);
            match next {
                Some(n) => query.after = Some(n),
                None => break,
            }
        }
    }
    out
}

fn collections() -> Vec<Collection> {
    vec![
        Collection::Nodes,
        Collection::Functions,
        Collection::Commands { node_id: None },
        Collection::Commands {
            node_id: Some(owner(0)),
        },
        Collection::ALL_TELEMETRY,
        // Slot 0 is stamped on the hour, the others in the hour before it.
        Collection::Telemetry {
            hour: Some(hour_of(1)),
            node_id: None,
            metric: None,
        },
        Collection::Telemetry {
            hour: Some(hour_of(0)),
            node_id: Some(sensor(0)),
            metric: None,
        },
        Collection::Telemetry {
            hour: Some(hour_of(1)),
            node_id: Some(sensor(0)),
            metric: None,
        },
        Collection::Telemetry {
            hour: Some(hour_of(2)),
            node_id: Some(sensor(2)),
            metric: Some("é".into()),
        },
    ]
}

async fn same_answers(dbs: &TestDbs, commits: &[Vec<Op>]) -> Result<(), TestCaseError> {
    let sql = dbs.store().await;
    let memory = MemoryStore::new();
    for ops in commits {
        let writes: Vec<Write> = ops.iter().map(write).collect();
        let a = sql.commit(&writes).await.map_err(|e| e.code());
        let b = memory.commit(&writes).await.map_err(|e| e.code());
        prop_assert_eq!(&a, &b, "commit {:?}", ops);
        if let Err(code) = a {
            prop_assert!(matches!(
                code,
                ErrorCode::AlreadyExists
                    | ErrorCode::RevisionConflict
                    | ErrorCode::UniqueViolation
                    | ErrorCode::InvalidRequest
            ));
        }
    }
    for collection in collections() {
        prop_assert_eq!(
            pages(&sql, collection.clone()).await,
            pages(&memory, collection.clone()).await,
            "{:?}",
            collection
        );
    }
    let mut lookups: Vec<(UniqueIndex, String)> = Vec::new();
    for name in NAMES {
        lookups.push((UniqueIndex::NodeName, name.into()));
        lookups.push((UniqueIndex::FunctionName, name.into()));
    }
    for slot in 0..2 {
        for k in ["k1", "k2"] {
            lookups.push((
                UniqueIndex::CommandIdempotencyKey,
                format!("{}/{k}", owner(slot)),
            ));
        }
    }
    for (index, value) in lookups {
        prop_assert_eq!(
            sql.get_unique(index, &value).await.unwrap(),
            memory.get_unique(index, &value).await.unwrap(),
            "{:?} {}",
            index,
            value
        );
    }
    sql.close().await;
    Ok(())
}

#[test]
fn cockroach_answers_like_memory() {
    if std::env::var("EDGESYNC_TEST_POSTGRES_URL").is_err() {
        eprintln!("{SKIPPED}");
        return;
    }
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let dbs = rt.block_on(TestDbs::new()).unwrap();
    let config = Config {
        cases: 24,
        failure_persistence: None,
        ..Config::default()
    };
    let cases = config.cases;
    let mut runner = TestRunner::new(config);
    let started = std::time::Instant::now();
    let strategy = prop::collection::vec(prop::collection::vec(op(), 1..4), 1..24);
    let result = runner.run(&strategy, |commits| {
        rt.block_on(same_answers(&dbs, &commits))
    });
    eprintln!("{cases} cases: {:?}", started.elapsed());
    rt.block_on(dbs.cleanup());
    result.unwrap();
}
