//! Random commits give the same answers from `SledStore` as from the reference `MemoryStore`:
//! commits on kinds with unique indexes (nodes, functions), which sled applies in a transaction,
//! on node states alone, which it applies as one batch, and on both together.

use edgesync_core::ErrorCode;
use edgesync_core::model::{FunctionId, NodeId, NodeState};
use edgesync_core::store::memory::MemoryStore;
use edgesync_core::store::{
    Collection, Expect, ListQuery, Order, Page, Record, RecordKey, Store, UniqueIndex, Write,
};
use edgesync_core::testkit::fixtures;
use edgesync_sled::SledStore;
use proptest::prelude::*;

const SLOTS: u8 = 3;
const NAMES: [&str; 3] = ["a", "b", "c"];

/// Which kind of record an op writes.
#[derive(Clone, Copy, Debug)]
enum Family {
    Node,
    Function,
    /// A node state: no unique index.
    State,
}

#[derive(Clone, Debug)]
enum Op {
    Put {
        family: Family,
        slot: u8,
        name: usize,
        expect: Expect,
    },
    Delete {
        family: Family,
        slot: u8,
        expect: Expect,
    },
}

fn family() -> impl Strategy<Value = Family> {
    prop_oneof![
        Just(Family::Node),
        Just(Family::Function),
        Just(Family::State)
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
        3 => (family(), 0..SLOTS, 0..NAMES.len(), expect()).prop_map(
            |(family, slot, name, expect)| Op::Put { family, slot, name, expect }
        ),
        1 => (family(), 0..SLOTS, expect())
            .prop_map(|(family, slot, expect)| Op::Delete { family, slot, expect }),
    ]
}

fn uuid(slot: u8) -> String {
    format!("00000000-0000-4000-8000-0000000000{slot:02x}")
}

fn key(family: Family, slot: u8) -> RecordKey {
    match family {
        Family::Node => RecordKey::Node {
            id: uuid(slot).parse::<NodeId>().unwrap(),
        },
        Family::Function => RecordKey::Function {
            id: uuid(slot).parse::<FunctionId>().unwrap(),
        },
        Family::State => RecordKey::NodeState {
            node_id: uuid(slot).parse::<NodeId>().unwrap(),
        },
    }
}

fn write(op: &Op) -> Write {
    match *op {
        Op::Put {
            family,
            slot,
            name,
            expect,
        } => {
            let record = match family {
                Family::Node => {
                    let mut n = fixtures::node(NAMES[name]);
                    n.id = uuid(slot).parse().unwrap();
                    Record::Node(n)
                }
                Family::Function => {
                    let mut f = fixtures::function(NAMES[name], 0);
                    f.id = uuid(slot).parse().unwrap();
                    Record::Function(f)
                }
                Family::State => {
                    let mut s = NodeState::new(uuid(slot).parse().unwrap());
                    s.reported.schema_version = name as u64;
                    Record::NodeState(s)
                }
            };
            Write::Put { record, expect }
        }
        Op::Delete {
            family,
            slot,
            expect,
        } => Write::Delete {
            key: key(family, slot),
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

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn sled_answers_like_memory(commits in prop::collection::vec(prop::collection::vec(op(), 1..4), 1..24)) {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        rt.block_on(async {
            let sled = SledStore::temporary().unwrap();
            let memory = MemoryStore::new();
            for ops in &commits {
                let writes: Vec<Write> = ops.iter().map(write).collect();
                let a = sled.commit(&writes).await.map_err(|e| e.code());
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
            for collection in [Collection::Nodes, Collection::Functions, Collection::NodeStates] {
                prop_assert_eq!(
                    pages(&sled, collection.clone()).await,
                    pages(&memory, collection).await
                );
            }
            for index in [UniqueIndex::NodeName, UniqueIndex::FunctionName] {
                for name in NAMES {
                    prop_assert_eq!(
                        sled.get_unique(index, name).await.unwrap(),
                        memory.get_unique(index, name).await.unwrap()
                    );
                }
            }
            Ok(())
        })?;
    }
}
