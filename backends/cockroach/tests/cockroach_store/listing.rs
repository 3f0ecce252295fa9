//! Listing edge cases the conformance suite does not reach.

use edgesync_cockroach::{CockroachConfig, CockroachStore};
use edgesync_core::model::{FunctionId, NodeId, TelemetryPoint, Timestamp};
use edgesync_core::store::memory::MemoryStore;
use edgesync_core::store::{
    Collection, ListQuery, Order, Page, Record, RecordKey, Store, StoreExt, Write, telemetry_hour,
};
use edgesync_core::testkit::fixtures;

use crate::support::TestDbs;

fn id(byte: u8) -> FunctionId {
    format!("{byte:02x}000000-0000-4000-8000-000000000000")
        .parse()
        .unwrap()
}

fn versions(page: &Page) -> Vec<u32> {
    page.items
        .iter()
        .map(|s| match &s.record {
            Record::FunctionVersion(v) => v.version,
            other => panic!("unexpected {other:?}"),
        })
        .collect()
}

#[tokio::test]
async fn cursors_outside_the_collection() {
    let Some(dbs) = TestDbs::new().await else {
        return;
    };
    let store = dbs.store().await;
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
    // Cursors of other kinds: nodes sort before versions, routes after.
    let node = RecordKey::Node {
        id: NodeId::random(),
    };
    let route = RecordKey::Route {
        id: edgesync_core::model::RouteId::random(),
    };
    assert_eq!(
        versions(&list(Some(node.clone()), Ascending).await),
        [1, 2, 3]
    );
    assert!(versions(&list(Some(node), Descending).await).is_empty());
    assert!(versions(&list(Some(route.clone()), Ascending).await).is_empty());
    assert_eq!(versions(&list(Some(route), Descending).await), [3, 2, 1]);
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
    assert_eq!(list(Some(key(mid, 1)), Descending).await.next, None);
    store.close().await;
    dbs.cleanup().await;
}

/// Text keys sort bytewise (as `RecordKey` does) even where the database's collation would
/// not: on a database whose default collation is ICU English, "B" < "a" < "a2" < "é" < "ö" still.
#[tokio::test]
async fn text_keys_sort_bytewise_whatever_the_database_collation() {
    let Some(dbs) = TestDbs::new().await else {
        return;
    };
    let url = dbs
        .empty_database_with(
            "TEMPLATE template0 LOCALE_PROVIDER icu ICU_LOCALE 'en-US' LOCALE 'C.UTF-8'",
        )
        .await;
    let store = CockroachStore::connect(&url, CockroachConfig::default())
        .await
        .unwrap();
    store.migrate().await.unwrap();
    let english: bool = sqlx::query_scalar("SELECT 'B' > 'a'")
        .fetch_one(store.pool())
        .await
        .unwrap();
    assert!(
        english,
        "the database should sort like English, not bytewise"
    );

    let memory = MemoryStore::new();
    let node = NodeId::random();
    let base = Timestamp::from_unix_millis(1_767_225_600_000);
    let mut writes = Vec::new();
    for (i, metric) in ["ö", "a2", "B", "é", "a", "_", "Z"].iter().enumerate() {
        for seq in [2u32, 0, 1] {
            writes.push(Write::create(Record::Telemetry(TelemetryPoint {
                node_id: node,
                metric: (*metric).into(),
                ts: base.plus(std::time::Duration::from_millis(i as u64)),
                seq,
                value: 1.0,
                labels: Default::default(),
            })));
        }
    }
    store.commit(&writes).await.unwrap();
    memory.commit(&writes).await.unwrap();
    for order in [Order::Ascending, Order::Descending] {
        let mut query = ListQuery {
            collection: Collection::Telemetry {
                hour: Some(telemetry_hour(1_767_225_600_000_000_000)),
                node_id: Some(node),
                metric: None,
            },
            after: None,
            limit: 4,
            order,
        };
        loop {
            let (a, b) = (
                store.list(&query).await.unwrap(),
                memory.list(&query).await.unwrap(),
            );
            assert_eq!(a, b, "{order:?} after {:?}", query.after);
            match a.next {
                Some(next) => query.after = Some(next),
                None => break,
            }
        }
    }
    let all = store
        .list_all(Collection::Telemetry {
            hour: Some(telemetry_hour(1_767_225_600_000_000_000)),
            node_id: Some(node),
            metric: None,
        })
        .await
        .unwrap();
    let metrics: Vec<String> = all
        .iter()
        .step_by(3)
        .map(|s| match &s.record {
            Record::Telemetry(t) => t.metric.clone(),
            other => panic!("unexpected {other:?}"),
        })
        .collect();
    assert_eq!(metrics, ["B", "Z", "_", "a", "a2", "é", "ö"]);
    store.close().await;
    dbs.cleanup().await;
}

/// Pages larger than one statement's worth of rows, and the `MAX_PAGE` clamp.
#[tokio::test]
async fn large_commits_and_pages() {
    let Some(dbs) = TestDbs::new().await else {
        return;
    };
    let store = dbs.store().await;
    let node = NodeId::random();
    let base = Timestamp::from_unix_millis(1_767_225_600_000);
    let writes: Vec<Write> = (0..8000u32)
        .map(|seq| {
            Write::create(Record::Telemetry(TelemetryPoint {
                node_id: node,
                metric: "rps".into(),
                ts: base,
                seq,
                value: f64::from(seq),
                labels: Default::default(),
            }))
        })
        .collect();
    let revisions = store.commit(&writes).await.unwrap();
    assert_eq!(revisions, vec![1; 8000]);
    let page = store
        .list(&ListQuery {
            collection: Collection::Telemetry {
                hour: Some(telemetry_hour(1_767_225_600_000_000_000)),
                node_id: Some(node),
                metric: Some("rps".into()),
            },
            after: None,
            limit: 5000,
            order: Order::Descending,
        })
        .await
        .unwrap();
    assert_eq!(page.items.len(), edgesync_core::store::MAX_PAGE);
    assert!(page.next.is_some());
    // Rewrite them all in one commit: every row is locked, deleted and inserted again.
    let revisions = store
        .commit(
            &writes
                .iter()
                .map(|w| match w {
                    Write::Put { record, .. } => Write::put(record.clone()),
                    Write::Delete { .. } => unreachable!(),
                })
                .collect::<Vec<_>>(),
        )
        .await
        .unwrap();
    assert_eq!(revisions, vec![2; 8000]);
    store.close().await;
    dbs.cleanup().await;
}
