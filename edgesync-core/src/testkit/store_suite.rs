//! The conformance suite of the [`Store`] port: the executable form of its contracts.

use std::future::Future;
use std::sync::Arc;

use crate::error::ErrorCode;
use crate::model::*;
use crate::store::{
    Collection, Expect, ListQuery, Order, Record, RecordKey, Store, StoreExt, Stored, UniqueIndex,
    Write, telemetry_hour,
};

use super::fixtures;

/// Runs every test of the suite, each on a fresh store from `make`.
pub async fn run_all<F, Fut, S>(make: &F)
where
    F: Fn() -> Fut,
    Fut: Future<Output = S>,
    S: Store,
{
    crud_and_revisions(&make().await).await;
    every_kind_round_trips(&make().await).await;
    unique_indexes(&make().await).await;
    failed_commits_change_nothing(&make().await).await;
    commits_on_one_kind_keep_every_rule(&make().await).await;
    duplicate_keys_in_one_commit_are_rejected(&make().await).await;
    paging_and_filters(&make().await).await;
    descending_listing(&make().await).await;
    telemetry_prefixes_do_not_mix(&make().await).await;
    telemetry_lists_hour_by_hour(&make().await).await;
    concurrent_writers_never_lose_an_update(Arc::new(make().await)).await;
    concurrent_creates_of_one_name_have_one_winner(Arc::new(make().await)).await;
    check_succeeds(&make().await).await;
}

fn code<T: std::fmt::Debug>(r: crate::Result<T>) -> ErrorCode {
    match r {
        Ok(v) => panic!("expected an error, got Ok({v:?})"),
        Err(e) => e.code(),
    }
}

/// Create, read, conditional update, stale update, delete.
pub async fn crud_and_revisions(store: &dyn Store) {
    let n = fixtures::node("crud");
    let key = RecordKey::Node { id: n.id };
    assert_eq!(store.get(&key).await.unwrap(), None);

    let revs = store
        .commit(&[Write::create(Record::Node(n.clone()))])
        .await
        .unwrap();
    assert_eq!(revs, vec![1]);
    let got = store.get_node(n.id).await.unwrap().unwrap();
    assert_eq!((got.revision, &got.value), (1, &n));

    assert_eq!(
        code(
            store
                .commit(&[Write::create(Record::Node(n.clone()))])
                .await
        ),
        ErrorCode::AlreadyExists,
        "creating an existing record must fail"
    );

    let mut n2 = n.clone();
    n2.pop = "ams".into();
    assert_eq!(
        store
            .commit(&[Write::update(Record::Node(n2.clone()), 1)])
            .await
            .unwrap(),
        vec![2]
    );

    let mut stale = n.clone();
    stale.pop = "lhr".into();
    assert_eq!(
        code(store.commit(&[Write::update(Record::Node(stale), 1)]).await),
        ErrorCode::RevisionConflict,
        "a stale write must be a conflict"
    );
    assert_eq!(
        store.get_node(n.id).await.unwrap().unwrap().value,
        n2,
        "the stale write changed nothing"
    );

    assert_eq!(
        store
            .commit(&[Write::put(Record::Node(n.clone()))])
            .await
            .unwrap(),
        vec![3],
        "unconditional put bumps the revision"
    );

    assert_eq!(
        code(
            store
                .commit(&[Write::Delete {
                    key: key.clone(),
                    expect: Expect::Revision(2)
                }])
                .await
        ),
        ErrorCode::RevisionConflict
    );
    assert_eq!(
        store
            .commit(&[Write::Delete {
                key: key.clone(),
                expect: Expect::Revision(3)
            }])
            .await
            .unwrap(),
        vec![0]
    );
    assert_eq!(store.get(&key).await.unwrap(), None);
    store
        .commit(&[Write::delete(key.clone())])
        .await
        .expect("deleting a missing record is idempotent");
    assert_eq!(
        code(
            store
                .commit(&[Write::Delete {
                    key: key.clone(),
                    expect: Expect::Revision(1)
                }])
                .await
        ),
        ErrorCode::RevisionConflict,
        "a conditional delete of a missing record is a conflict"
    );
    assert_eq!(
        code(
            store
                .commit(&[Write::update(Record::Node(n.clone()), 1)])
                .await
        ),
        ErrorCode::RevisionConflict,
        "a conditional update of a missing record is a conflict"
    );
    assert_eq!(
        store
            .commit(&[Write::create(Record::Node(n.clone()))])
            .await
            .unwrap(),
        vec![1],
        "a re-created record starts at revision 1"
    );
}

/// Every kind of record comes back exactly as written.
pub async fn every_kind_round_trips(store: &dyn Store) {
    let records = fixtures::one_of_each();
    let writes: Vec<Write> = records.iter().cloned().map(Write::create).collect();
    let revs = store.commit(&writes).await.unwrap();
    assert_eq!(revs, vec![1; records.len()]);
    for r in &records {
        let got = store
            .get(&r.key())
            .await
            .unwrap()
            .unwrap_or_else(|| panic!("{:?} missing", r.key()));
        assert_eq!(&got.record, r, "{:?} did not round-trip", r.kind());
        let listed = store.list_all(collection_of(r)).await.unwrap();
        assert_eq!(listed.len(), 1, "{:?} listing", r.kind());
        assert_eq!(&listed[0].record, r);
    }
}

fn collection_of(r: &Record) -> Collection {
    match r {
        Record::Node(_) => Collection::Nodes,
        Record::NodeState(_) => Collection::NodeStates,
        Record::Function(_) => Collection::Functions,
        Record::FunctionVersion(_) => Collection::FunctionVersions { function_id: None },
        Record::Migration(_) => Collection::Migrations,
        Record::Deployment(_) => Collection::Deployments,
        Record::NodeDeployment(_) => Collection::NodeDeployments {
            deployment_id: None,
        },
        Record::Route(_) => Collection::Routes,
        Record::SyncRecord(_) => Collection::SyncRecords { node_id: None },
        Record::Telemetry(_) => Collection::ALL_TELEMETRY,
        Record::Command(_) => Collection::Commands { node_id: None },
        Record::ApiKey(_) => Collection::ApiKeys,
        Record::Setting(_) => Collection::Settings,
        Record::Presence(_) => Collection::Presence,
    }
}

/// Unique values are enforced, found, and released on rename and delete.
pub async fn unique_indexes(store: &dyn Store) {
    let a = fixtures::node("alpha");
    store
        .commit(&[Write::create(Record::Node(a.clone()))])
        .await
        .unwrap();
    let found = store
        .get_unique(UniqueIndex::NodeName, "alpha")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(found.record, Record::Node(a.clone()));
    assert_eq!(
        store
            .get_unique(UniqueIndex::NodeName, "beta")
            .await
            .unwrap(),
        None
    );

    let b = fixtures::node("alpha");
    assert_eq!(
        code(
            store
                .commit(&[Write::create(Record::Node(b.clone()))])
                .await
        ),
        ErrorCode::UniqueViolation
    );
    assert_eq!(
        store.get_node(b.id).await.unwrap(),
        None,
        "nothing stored after a violation"
    );

    // Rename frees the old name.
    let mut a2 = a.clone();
    a2.name = "alpha-2".into();
    store
        .commit(&[Write::update(Record::Node(a2.clone()), 1)])
        .await
        .unwrap();
    assert_eq!(
        store
            .get_unique(UniqueIndex::NodeName, "alpha")
            .await
            .unwrap(),
        None
    );
    store
        .commit(&[Write::create(Record::Node(b.clone()))])
        .await
        .expect("the old name is free again");
    assert_eq!(
        store
            .get_unique(UniqueIndex::NodeName, "alpha-2")
            .await
            .unwrap()
            .unwrap()
            .record,
        Record::Node(a2.clone())
    );

    // Delete frees the name.
    store
        .commit(&[Write::delete(RecordKey::Node { id: a.id })])
        .await
        .unwrap();
    assert_eq!(
        store
            .get_unique(UniqueIndex::NodeName, "alpha-2")
            .await
            .unwrap(),
        None
    );
    let c = fixtures::node("alpha-2");
    store
        .commit(&[Write::create(Record::Node(c))])
        .await
        .unwrap();

    // Indexes are per kind: a function may share a node's name.
    store
        .commit(&[Write::create(Record::Function(fixtures::function(
            "alpha", 0,
        )))])
        .await
        .unwrap();

    // Two records of one commit cannot claim the same value.
    let (d, e) = (fixtures::node("delta"), fixtures::node("delta"));
    assert_eq!(
        code(
            store
                .commit(&[
                    Write::create(Record::Node(d.clone())),
                    Write::create(Record::Node(e))
                ])
                .await
        ),
        ErrorCode::UniqueViolation
    );
    assert_eq!(store.get_node(d.id).await.unwrap(), None);
}

/// A commit that fails on any write applies none of them.
pub async fn failed_commits_change_nothing(store: &dyn Store) {
    let f = fixtures::function("atomic", 1);
    store
        .commit(&[Write::create(Record::Function(f.clone()))])
        .await
        .unwrap();

    let mut f2 = f.clone();
    f2.latest_version = 2;
    let v = fixtures::function_version(f.id, 2);
    let n = fixtures::node("atomic-node");
    for (label, bad) in [
        (
            "stale revision",
            Write::update(Record::Function(f2.clone()), 7),
        ),
        (
            "existing record",
            Write::create(Record::Function(f.clone())),
        ),
        (
            "taken name",
            Write::create(Record::Function(fixtures::function("atomic", 0))),
        ),
    ] {
        let writes = vec![
            Write::create(Record::FunctionVersion(v.clone())),
            Write::create(Record::Node(n.clone())),
            bad,
        ];
        assert!(
            store.commit(&writes).await.is_err(),
            "{label}: the commit must fail"
        );
        assert_eq!(
            store.get_function_version(f.id, 2).await.unwrap(),
            None,
            "{label}: first write leaked"
        );
        assert_eq!(
            store.get_node(n.id).await.unwrap(),
            None,
            "{label}: second write leaked"
        );
        assert_eq!(
            store
                .get_unique(UniqueIndex::NodeName, "atomic-node")
                .await
                .unwrap(),
            None,
            "{label}: index leaked"
        );
        assert_eq!(store.get_function(f.id).await.unwrap().unwrap().revision, 1);
    }
    // The same writes with the right precondition succeed together.
    let revs = store
        .commit(&[
            Write::create(Record::FunctionVersion(v.clone())),
            Write::update(Record::Function(f2.clone()), 1),
        ])
        .await
        .unwrap();
    assert_eq!(revs, vec![1, 2]);
}

/// Commits confined to one kind without unique values (which a store may apply in a cheaper
/// way), durable or unsynced, follow every rule of [`Store::commit`].
pub async fn commits_on_one_kind_keep_every_rule(store: &dyn Store) {
    let states: Vec<NodeState> = (0..3).map(|_| NodeState::new(NodeId::random())).collect();
    let put = |s: &NodeState| Write::put(Record::NodeState(s.clone()));
    for unsynced in [false, true] {
        let commit = |writes: Vec<Write>| async move {
            if unsynced {
                store.commit_unsynced(&writes).await
            } else {
                store.commit(&writes).await
            }
        };
        let first = if unsynced { 1 } else { 0 };
        let revs = commit(states.iter().map(put).collect()).await.unwrap();
        assert_eq!(revs, vec![first + 1; 3], "unsynced: {unsynced}");
        let mut changed = states[0].clone();
        changed.reported.schema_version = 7;
        for (label, bad) in [
            (
                "stale revision",
                Write::update(Record::NodeState(states[2].clone()), 9),
            ),
            (
                "existing record",
                Write::create(Record::NodeState(states[2].clone())),
            ),
            (
                "missing record",
                Write::update(Record::NodeState(NodeState::new(NodeId::random())), 1),
            ),
        ] {
            let writes = vec![Write::put(Record::NodeState(changed.clone())), bad];
            assert!(
                commit(writes).await.is_err(),
                "{label} (unsynced: {unsynced}): the commit must fail"
            );
            let stored = store
                .get(&RecordKey::NodeState {
                    node_id: states[0].node_id,
                })
                .await
                .unwrap()
                .unwrap();
            assert_eq!(
                (stored.revision, stored.record),
                (first + 1, Record::NodeState(states[0].clone())),
                "{label} (unsynced: {unsynced}): the first write leaked"
            );
        }
        let twice = vec![
            put(&states[1]),
            Write::delete(RecordKey::NodeState {
                node_id: states[1].node_id,
            }),
        ];
        assert_eq!(code(commit(twice).await), ErrorCode::InvalidRequest);
    }
    // Deletes, with and without preconditions; then the collection lists what is left.
    let gone = RecordKey::NodeState {
        node_id: states[0].node_id,
    };
    let revs = store
        .commit_unsynced(&[
            Write::Delete {
                key: gone.clone(),
                expect: Expect::Revision(2),
            },
            Write::delete(RecordKey::NodeState {
                node_id: NodeId::random(),
            }),
            Write::update(Record::NodeState(states[1].clone()), 2),
        ])
        .await
        .unwrap();
    assert_eq!(revs, vec![0, 0, 3]);
    assert_eq!(store.get(&gone).await.unwrap(), None);
    let mut left: Vec<NodeId> = store
        .list_all(Collection::NodeStates)
        .await
        .unwrap()
        .into_iter()
        .map(|s| match s.record {
            Record::NodeState(st) => st.node_id,
            other => panic!("unexpected {other:?}"),
        })
        .collect();
    left.sort();
    let mut expected = vec![states[1].node_id, states[2].node_id];
    expected.sort();
    assert_eq!(left, expected);
}

/// The same key twice in one commit is a caller bug.
pub async fn duplicate_keys_in_one_commit_are_rejected(store: &dyn Store) {
    let n = fixtures::node("twice");
    let err = code(
        store
            .commit(&[
                Write::put(Record::Node(n.clone())),
                Write::delete(RecordKey::Node { id: n.id }),
            ])
            .await,
    );
    assert_eq!(err, ErrorCode::InvalidRequest);
    assert_eq!(store.get_node(n.id).await.unwrap(), None);
}

/// Listing a collection narrowed to a parent, page by page.
pub async fn paging_and_filters(store: &dyn Store) {
    let f1 = fixtures::function("paged-1", 25);
    let f2 = fixtures::function("paged-2", 5);
    let mut writes = vec![
        Write::create(Record::Function(f1.clone())),
        Write::create(Record::Function(f2.clone())),
    ];
    // Insert out of order: listing order is key order, not insertion order.
    for v in (1..=25).rev() {
        writes.push(Write::create(Record::FunctionVersion(
            fixtures::function_version(f1.id, v),
        )));
    }
    for v in 1..=5 {
        writes.push(Write::create(Record::FunctionVersion(
            fixtures::function_version(f2.id, v),
        )));
    }
    store.commit(&writes).await.unwrap();

    let mut query = ListQuery {
        collection: Collection::FunctionVersions {
            function_id: Some(f1.id),
        },
        after: None,
        limit: 10,
        order: Order::Ascending,
    };
    let mut versions = Vec::new();
    let mut pages = 0;
    loop {
        let page = store.list(&query).await.unwrap();
        pages += 1;
        assert!(page.items.len() <= 10);
        for s in &page.items {
            match &s.record {
                Record::FunctionVersion(v) => {
                    assert_eq!(
                        v.function_id, f1.id,
                        "a record of another function leaked into the filter"
                    );
                    versions.push(v.version);
                }
                other => panic!("unexpected {other:?}"),
            }
        }
        match page.next {
            Some(next) => query.after = Some(next),
            None => break,
        }
    }
    assert_eq!(versions, (1..=25).collect::<Vec<_>>());
    assert!(
        (3..=4).contains(&pages),
        "25 records in pages of 10 took {pages} pages"
    );

    let all = store
        .list_all(Collection::FunctionVersions { function_id: None })
        .await
        .unwrap();
    assert_eq!(all.len(), 30);
    let other = store
        .list_all(Collection::FunctionVersions {
            function_id: Some(f2.id),
        })
        .await
        .unwrap();
    assert_eq!(other.len(), 5);
    let none = store
        .list_all(Collection::FunctionVersions {
            function_id: Some(FunctionId::random()),
        })
        .await
        .unwrap();
    assert!(none.is_empty());
    let functions = store.list_all(Collection::Functions).await.unwrap();
    assert_eq!(functions.len(), 2, "kinds do not mix in listings");

    // Deleted records disappear from listings.
    store
        .commit(&[Write::delete(RecordKey::FunctionVersion {
            function_id: f2.id,
            version: 3,
        })])
        .await
        .unwrap();
    let after_delete = store
        .list_all(Collection::FunctionVersions {
            function_id: Some(f2.id),
        })
        .await
        .unwrap();
    assert_eq!(after_delete.len(), 4);
}

/// Descending order, e.g. newest sync records first.
pub async fn descending_listing(store: &dyn Store) {
    let node = NodeId::random();
    let other = NodeId::random();
    let mut ids = Vec::new();
    let mut writes = Vec::new();
    for (i, owner) in [node, other, node, node, other, node]
        .into_iter()
        .enumerate()
    {
        let mut rec = match fixtures::one_of_each()
            .into_iter()
            .find(|r| matches!(r, Record::SyncRecord(_)))
        {
            Some(Record::SyncRecord(s)) => s,
            _ => unreachable!(),
        };
        rec.id = SyncRecordId::ordered();
        rec.node_id = owner;
        rec.revision = format!("rev-{i}");
        if owner == node {
            ids.push(rec.id);
        }
        writes.push(Write::create(Record::SyncRecord(rec)));
        // v7 ids order by millisecond; make sure each is distinct in time.
        tokio::time::sleep(std::time::Duration::from_millis(2)).await;
    }
    store.commit(&writes).await.unwrap();

    let mut query = ListQuery {
        collection: Collection::SyncRecords {
            node_id: Some(node),
        },
        after: None,
        limit: 3,
        order: Order::Descending,
    };
    let mut got = Vec::new();
    loop {
        let page = store.list(&query).await.unwrap();
        got.extend(page.items.iter().map(|s| match &s.record {
            Record::SyncRecord(r) => r.id,
            other => panic!("unexpected {other:?}"),
        }));
        match page.next {
            Some(n) => query.after = Some(n),
            None => break,
        }
    }
    ids.reverse();
    assert_eq!(got, ids, "newest first, only this node's records");
}

/// Metric names that share a prefix (`cpu`, `cpu2`) are separate collections.
pub async fn telemetry_prefixes_do_not_mix(store: &dyn Store) {
    let node = NodeId::random();
    let base = Timestamp::from_unix_millis(1_767_225_600_000);
    let mut writes = Vec::new();
    for (metric, n) in [("cpu", 3), ("cpu2", 2), ("c", 1)] {
        for i in 0..n {
            writes.push(Write::create(Record::Telemetry(TelemetryPoint {
                node_id: node,
                metric: metric.into(),
                ts: base.plus(std::time::Duration::from_secs(10 - i)),
                seq: 0,
                value: i as f64,
                labels: Default::default(),
            })));
        }
    }
    store.commit(&writes).await.unwrap();
    let hour = Some(telemetry_hour(1_767_225_600_000_000_000));
    let cpu = store
        .list_all(Collection::Telemetry {
            hour,
            node_id: Some(node),
            metric: Some("cpu".into()),
        })
        .await
        .unwrap();
    let ts: Vec<Timestamp> = cpu
        .iter()
        .map(|s| match &s.record {
            Record::Telemetry(t) => {
                assert_eq!(t.metric, "cpu");
                t.ts
            }
            other => panic!("unexpected {other:?}"),
        })
        .collect();
    assert_eq!(ts.len(), 3);
    assert!(ts.windows(2).all(|w| w[0] < w[1]), "samples ascend by time");
    let all = store
        .list_all(Collection::Telemetry {
            hour,
            node_id: Some(node),
            metric: None,
        })
        .await
        .unwrap();
    assert_eq!(all.len(), 6);
}

/// Telemetry sorts by the sample's hour before its node, so the oldest hours list first
/// whichever nodes they belong to, and one hour lists alone.
pub async fn telemetry_lists_hour_by_hour(store: &dyn Store) {
    let nodes = [NodeId::random(), NodeId::random(), NodeId::random()];
    let start = Timestamp::from_unix_millis(1_767_225_600_000);
    let mut writes = Vec::new();
    for hour in 0..3u64 {
        for (i, node) in nodes.iter().enumerate() {
            // Later nodes get earlier minutes, so sorting by node or time alone would fail.
            let minute = 50 - 20 * i as u64;
            writes.push(Write::create(Record::Telemetry(TelemetryPoint {
                node_id: *node,
                metric: "cpu".into(),
                ts: start.plus(std::time::Duration::from_secs(hour * 3600 + minute * 60)),
                seq: 0,
                value: hour as f64,
                labels: Default::default(),
            })));
        }
    }
    store.commit(&writes).await.unwrap();
    let hours_of = |items: &[Stored]| -> Vec<i64> {
        items
            .iter()
            .map(|s| match &s.record {
                Record::Telemetry(t) => telemetry_hour(t.ts.unix_nanos() as i64),
                other => panic!("unexpected {other:?}"),
            })
            .collect()
    };
    let first = telemetry_hour(1_767_225_600_000_000_000);
    let all = store.list_all(Collection::ALL_TELEMETRY).await.unwrap();
    let expected: Vec<i64> = (0..3).flat_map(|h| [first + h; 3]).collect();
    assert_eq!(hours_of(&all), expected, "ascending by hour first");
    let newest = store
        .list(&ListQuery {
            order: Order::Descending,
            limit: 1,
            ..ListQuery::all(Collection::ALL_TELEMETRY)
        })
        .await
        .unwrap();
    assert_eq!(hours_of(&newest.items), [first + 2]);
    let middle = store
        .list_all(Collection::Telemetry {
            hour: Some(first + 1),
            node_id: None,
            metric: None,
        })
        .await
        .unwrap();
    assert_eq!(hours_of(&middle), [first + 1; 3]);
    let one = store
        .list_all(Collection::Telemetry {
            hour: Some(first + 1),
            node_id: Some(nodes[1]),
            metric: Some("cpu".into()),
        })
        .await
        .unwrap();
    assert_eq!(one.len(), 1);
}

/// Read-modify-write with retries from many tasks: every increment lands exactly once.
pub async fn concurrent_writers_never_lose_an_update<S: Store>(store: Arc<S>) {
    let f = fixtures::function("counter", 0);
    store
        .commit(&[Write::create(Record::Function(f.clone()))])
        .await
        .unwrap();
    const TASKS: u32 = 8;
    const EACH: u32 = 20;
    let mut handles = Vec::new();
    for _ in 0..TASKS {
        let store = store.clone();
        let id = f.id;
        handles.push(tokio::spawn(async move {
            let mut conflicts = 0u32;
            for _ in 0..EACH {
                loop {
                    let cur = store.get_function(id).await.unwrap().unwrap();
                    let mut next = cur.value.clone();
                    next.latest_version += 1;
                    match store
                        .commit(&[Write::update(Record::Function(next), cur.revision)])
                        .await
                    {
                        Ok(_) => break,
                        Err(e) if e.code() == ErrorCode::RevisionConflict || e.retryable() => {
                            conflicts += 1;
                            tokio::task::yield_now().await;
                        }
                        Err(e) => panic!("unexpected error: {e}"),
                    }
                }
            }
            conflicts
        }));
    }
    for h in handles {
        h.await.unwrap();
    }
    let end = store.get_function(f.id).await.unwrap().unwrap();
    assert_eq!(
        end.value.latest_version,
        TASKS * EACH,
        "an increment was lost"
    );
    assert_eq!(end.revision, u64::from(TASKS * EACH) + 1);
}

/// Racing creates of one unique name: exactly one wins.
pub async fn concurrent_creates_of_one_name_have_one_winner<S: Store>(store: Arc<S>) {
    let mut handles = Vec::new();
    for _ in 0..10 {
        let store = store.clone();
        handles.push(tokio::spawn(async move {
            store
                .commit(&[Write::create(Record::Node(fixtures::node("contended")))])
                .await
        }));
    }
    let mut wins = 0;
    for h in handles {
        match h.await.unwrap() {
            Ok(_) => wins += 1,
            Err(e) => assert!(
                matches!(
                    e.code(),
                    ErrorCode::UniqueViolation | ErrorCode::RevisionConflict
                ) || e.retryable(),
                "unexpected error {e}"
            ),
        }
    }
    assert_eq!(wins, 1);
    assert_eq!(store.list_all(Collection::Nodes).await.unwrap().len(), 1);
}

/// `check` succeeds on a healthy store.
pub async fn check_succeeds(store: &dyn Store) {
    store.check().await.unwrap();
}
