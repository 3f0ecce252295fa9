use edgesync_core::ErrorCode;
use edgesync_core::store::{Collection, Record, RecordKey, Store, StoreExt, UniqueIndex, Write};
use edgesync_core::testkit::fixtures;
use edgesync_sled::SledStore;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn everything_is_there_after_reopening() {
    let dir = tempfile::tempdir().unwrap();
    let records = fixtures::one_of_each();
    let (a, b) = (fixtures::node("kept"), fixtures::node("renamed"));
    let f = fixtures::function("gone", 0);
    let (before, unique_before) = {
        let store = SledStore::open(dir.path()).unwrap();
        let mut writes: Vec<Write> = records.iter().cloned().map(Write::create).collect();
        writes.push(Write::create(Record::Node(a.clone())));
        writes.push(Write::create(Record::Node(b.clone())));
        writes.push(Write::create(Record::Function(f.clone())));
        store.commit(&writes).await.unwrap();
        let mut b2 = b.clone();
        b2.name = "renamed-2".into();
        assert_eq!(
            store
                .commit(&[
                    Write::update(Record::Node(b2), 1),
                    Write::delete(RecordKey::Function { id: f.id }),
                ])
                .await
                .unwrap(),
            vec![2, 0]
        );
        (snapshot(&store).await, unique_snapshot(&store).await)
    };

    let store = SledStore::open(dir.path()).unwrap();
    assert_eq!(snapshot(&store).await, before);
    assert_eq!(unique_snapshot(&store).await, unique_before);
    assert_eq!(store.get_node(b.id).await.unwrap().unwrap().revision, 2);
    assert_eq!(store.get_function(f.id).await.unwrap(), None);
    for (index, free) in [
        (UniqueIndex::NodeName, "renamed"),
        (UniqueIndex::FunctionName, "gone"),
    ] {
        assert_eq!(store.get_unique(index, free).await.unwrap(), None);
    }
    let found = store
        .get_unique(UniqueIndex::NodeName, "renamed-2")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(found.revision, 2);
    // The indexes still enforce after reopening.
    let err = store
        .commit(&[Write::create(Record::Node(fixtures::node("kept")))])
        .await
        .unwrap_err();
    assert_eq!(err.code(), ErrorCode::UniqueViolation);
}

async fn snapshot(store: &SledStore) -> Vec<Vec<edgesync_core::store::Stored>> {
    let mut out = Vec::new();
    for c in collections() {
        out.push(store.list_all(c).await.unwrap());
    }
    out
}

async fn unique_snapshot(
    store: &SledStore,
) -> Vec<(UniqueIndex, String, edgesync_core::store::Stored)> {
    let mut out = Vec::new();
    for c in collections() {
        for s in store.list_all(c).await.unwrap() {
            for (index, value) in s.record.unique_values() {
                let holder = store.get_unique(index, &value).await.unwrap().unwrap();
                assert_eq!(holder, s);
                out.push((index, value, holder));
            }
        }
    }
    out
}

fn collections() -> Vec<Collection> {
    vec![
        Collection::Nodes,
        Collection::NodeStates,
        Collection::Functions,
        Collection::FunctionVersions { function_id: None },
        Collection::Migrations,
        Collection::Deployments,
        Collection::NodeDeployments {
            deployment_id: None,
        },
        Collection::Routes,
        Collection::SyncRecords { node_id: None },
        Collection::ALL_TELEMETRY,
        Collection::Commands { node_id: None },
        Collection::ApiKeys,
        Collection::Settings,
        Collection::Presence,
    ]
}

#[test]
fn a_directory_in_use_is_refused_clearly() {
    let dir = tempfile::tempdir().unwrap();
    let _first = SledStore::open(dir.path()).unwrap();
    let err = SledStore::open(dir.path()).unwrap_err();
    assert_eq!(err.code(), ErrorCode::StoreUnavailable);
    assert!(
        err.message()
            .contains("the data directory is in use by another process"),
        "{err}"
    );
    drop(_first);
    SledStore::open(dir.path()).expect("free again once the first store is dropped");
}

#[tokio::test]
async fn check_succeeds_on_an_open_store() {
    let dir = tempfile::tempdir().unwrap();
    let store = SledStore::open(dir.path()).unwrap();
    store.check().await.unwrap();
}
