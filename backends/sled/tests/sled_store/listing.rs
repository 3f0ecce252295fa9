//! Listing edge cases the conformance suite does not reach, and undecodable data.

use edgesync_core::ErrorCode;
use edgesync_core::model::FunctionId;
use edgesync_core::store::{Collection, ListQuery, Order, Record, RecordKey, Store, Write};
use edgesync_core::testkit::fixtures;
use edgesync_sled::SledStore;

fn id(byte: u8) -> FunctionId {
    format!("{byte:02x}000000-0000-4000-8000-000000000000")
        .parse()
        .unwrap()
}

fn versions(page: &edgesync_core::store::Page) -> Vec<u32> {
    page.items
        .iter()
        .map(|s| match &s.record {
            Record::FunctionVersion(v) => v.version,
            other => panic!("unexpected {other:?}"),
        })
        .collect()
}

#[tokio::test]
async fn after_keys_outside_the_collection() {
    let store = SledStore::temporary().unwrap();
    let (low, mid, high) = (id(0x10), id(0x20), id(0x30));
    let mut writes = Vec::new();
    for f in [low, mid, high] {
        for v in 1..=3 {
            writes.push(Write::create(Record::FunctionVersion(
                fixtures::function_version(f, v),
            )));
        }
    }
    store.commit(&writes).await.unwrap();
    let key = |f, version| RecordKey::FunctionVersion {
        function_id: f,
        version,
    };
    let list = |after: Option<RecordKey>, order| {
        let store = &store;
        async move {
            store
                .list(&ListQuery {
                    collection: Collection::FunctionVersions {
                        function_id: Some(mid),
                    },
                    after,
                    limit: 10,
                    order,
                })
                .await
                .unwrap()
        }
    };
    use Order::{Ascending, Descending};
    assert_eq!(
        versions(&list(Some(key(low, 2)), Ascending).await),
        [1, 2, 3]
    );
    assert_eq!(versions(&list(Some(key(mid, 1)), Ascending).await), [2, 3]);
    assert!(versions(&list(Some(key(high, 1)), Ascending).await).is_empty());
    assert_eq!(
        versions(&list(Some(key(high, 1)), Descending).await),
        [3, 2, 1]
    );
    assert_eq!(versions(&list(Some(key(mid, 3)), Descending).await), [2, 1]);
    assert!(versions(&list(Some(key(low, 3)), Descending).await).is_empty());
    // A full page says where to go on; a short one does not.
    let page = store
        .list(&ListQuery {
            collection: Collection::FunctionVersions {
                function_id: Some(mid),
            },
            after: None,
            limit: 3,
            order: Descending,
        })
        .await
        .unwrap();
    assert_eq!(page.next, Some(key(mid, 1)));
    let page = list(Some(key(mid, 1)), Descending).await;
    assert_eq!(page.next, None);
}

#[tokio::test]
async fn undecodable_records_are_reported_as_corrupt() {
    let dir = tempfile::tempdir().unwrap();
    let node = fixtures::node("garbled");
    let key = RecordKey::Node { id: node.id };
    {
        let store = SledStore::open(dir.path()).unwrap();
        store
            .commit(&[Write::create(Record::Node(node))])
            .await
            .unwrap();
    }
    {
        let db = sled::open(dir.path()).unwrap();
        db.open_tree("nodes")
            .unwrap()
            .insert(key.encode(), &b"\x01\0\0\0\0\0\0\0\x01{not json"[..])
            .unwrap();
        db.flush().unwrap();
    }
    let store = SledStore::open(dir.path()).unwrap();
    let code = store.get(&key).await.unwrap_err().code();
    assert_eq!(code, ErrorCode::CorruptRecord);
    let code = store
        .list(&ListQuery::all(Collection::Nodes))
        .await
        .unwrap_err()
        .code();
    assert_eq!(code, ErrorCode::CorruptRecord);
}
