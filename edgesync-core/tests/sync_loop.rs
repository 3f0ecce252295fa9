//! The sync loop end to end, in-process: deployments, routes and migrations in; simulated nodes
//! polling, applying and acknowledging plans; convergence, idempotency, atomic acks.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use edgesync_core::control::{Ack, EMPTY_PLAN, NewDeployment, RouteSpec, SyncStatsQuery};
use edgesync_core::model::*;
use edgesync_core::selector::{Labels, Selector};
use edgesync_core::store::memory::MemoryStore;
use edgesync_core::store::{Collection, Record, RecordKey, Store, StoreExt};
use edgesync_core::testkit::faulty::FaultyStore;
use edgesync_core::testkit::sim::{SimNode, all_succeeded, converge};
use edgesync_core::testkit::{MemArtifacts, wasm_fixtures};
use edgesync_core::{EdgeSync, ErrorCode};
use futures::StreamExt;

async fn edgesync_on(store: Arc<dyn Store>) -> EdgeSync {
    EdgeSync::builder()
        .store(store)
        .artifacts(Arc::new(MemArtifacts::default()))
        .build()
        .await
        .unwrap()
}

async fn edgesync() -> EdgeSync {
    edgesync_on(Arc::new(MemoryStore::new())).await
}

async fn upload(es: &EdgeSync, name: &str, n: u32) -> (FunctionId, u32) {
    let body = futures::stream::iter([Ok(Bytes::from(wasm_fixtures::numbered(n)))]).boxed();
    let (f, v) = es
        .upload_function(
            FunctionSpec {
                name: name.into(),
                entrypoint: "_start".into(),
                memory_pages: 4,
                max_execution_ms: 50,
                max_concurrency: 2,
                description: String::new(),
            },
            body,
        )
        .await
        .unwrap();
    (f.id, v.version)
}

async fn deploy(
    es: &EdgeSync,
    f: FunctionId,
    version: u32,
    selector: &str,
    priority: i32,
) -> DeploymentId {
    es.create_deployment(NewDeployment {
        name: String::new(),
        function_id: f,
        version,
        selector: Selector::parse(selector).unwrap(),
        pop: None,
        priority,
        allow_breaking: false,
        strategy: Default::default(),
    })
    .await
    .unwrap()
    .deployment
    .id
}

async fn migrate(es: &EdgeSync, version: u64) {
    es.add_migration(NewSchemaMigration {
        version,
        name: format!("m{version}"),
        up_sql: format!("CREATE TABLE t{version} (x INTEGER)"),
        down_sql: None,
    })
    .await
    .unwrap();
}

fn labels(pairs: &[(&str, &str)]) -> Labels {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

/// The reference semantics, written independently of `desired`: for each function, among the
/// deployments whose selector matches, the highest priority wins, then the newest.
fn expected(
    node_labels: &Labels,
    deployments: &[(FunctionId, u32, &str, i32, usize)],
) -> BTreeMap<FunctionId, u32> {
    let mut best: BTreeMap<FunctionId, (i32, usize, u32)> = BTreeMap::new();
    for (f, v, sel, prio, order) in deployments {
        if !Selector::parse(sel).unwrap().matches(node_labels) {
            continue;
        }
        let better = match best.get(f) {
            None => true,
            Some((p, o, _)) => (*prio, *order) > (*p, *o),
        };
        if better {
            best.insert(*f, (*prio, *order, *v));
        }
    }
    best.into_iter().map(|(f, (_, _, v))| (f, v)).collect()
}

#[tokio::test]
async fn fifty_nodes_converge_to_overlapping_deployments_and_again_after_a_change() {
    let es = edgesync().await;
    let regions = ["eu", "us", "ap"];
    let tiers = ["edge", "core"];
    let mut nodes = Vec::new();
    for i in 0..50 {
        let l = labels(&[
            ("region", regions[i % 3]),
            ("tier", tiers[i % 2]),
            ("idx", &i.to_string()),
        ]);
        let mut n = SimNode::register(&es, &format!("node-{i:02}"), "fra", l)
            .await
            .unwrap();
        n.behavior.verify_artifacts = true;
        nodes.push(n);
    }
    let (api, _) = upload(&es, "api", 1).await;
    let (api2_f, api_v2) = upload(&es, "api", 2).await;
    assert_eq!(api2_f, api);
    let (auth, auth_v1) = upload(&es, "auth", 3).await;
    migrate(&es, 1).await;
    migrate(&es, 2).await;

    let plan_of_deployments = vec![
        (api, 1, "tier=edge", 0, 0usize),
        (api, api_v2, "region in (eu,us)", 10, 1),
        (auth, auth_v1, "", 0, 2),
    ];
    let mut ids = Vec::new();
    for (f, v, sel, prio, _) in &plan_of_deployments {
        ids.push(deploy(&es, *f, *v, sel, *prio).await);
    }
    let route = es
        .create_route(RouteSpec {
            host: None,
            path: "/api/...".into(),
            methods: vec![],
            function_id: api,
        })
        .await
        .unwrap();

    let rounds = converge(&es, &mut nodes, 10).await.unwrap();
    assert!(rounds <= 2, "converged in {rounds} rounds");
    for n in &nodes {
        let l = &es.get_node(n.id).unwrap().node.labels;
        assert_eq!(n.runs(), expected(l, &plan_of_deployments), "{}", n.name);
        assert_eq!(n.state.schema_version, 2, "{}", n.name);
        assert_routes_follow_api(n, api);
        assert_eq!(
            es.sync_plan(n.id).await.unwrap().plan_id,
            EMPTY_PLAN,
            "{} has more to do",
            n.name
        );
    }
    // Every artifact was downloaded and verified.
    assert!(nodes.iter().all(|n| !n.downloads.is_empty()));
    // Deployment states: the v2 deployment is active on every eu/us node.
    let d = es.deployment(ids[1]).unwrap();
    let eu_us = nodes.iter().enumerate().filter(|(i, _)| i % 3 != 2).count();
    assert_eq!(d.count(NodeDeploymentState::Active), eu_us);
    assert_eq!(d.status, DeploymentStatus::Completed);

    // Stop the v2 deployment: eu/us edge nodes fall back to v1, eu/us core nodes drop api.
    es.delete_deployment(ids[1]).await.unwrap();
    let remaining = vec![plan_of_deployments[0], plan_of_deployments[2]];
    converge(&es, &mut nodes, 10).await.unwrap();
    for n in &nodes {
        let l = &es.get_node(n.id).unwrap().node.labels;
        assert_eq!(n.runs(), expected(l, &remaining), "{}", n.name);
        assert_routes_follow_api(n, api);
    }
    let d = es.deployment(ids[1]).unwrap();
    assert_eq!(d.status, DeploymentStatus::Aborted);
    assert_eq!(d.count(NodeDeploymentState::Active), 0);
    assert_eq!(d.count(NodeDeploymentState::Removed), eu_us);
    assert_eq!(es.routes(), vec![route]);
}

/// A node has the `/api/...` route exactly when it runs the api function.
fn assert_routes_follow_api(n: &SimNode, api: FunctionId) {
    let empty = edgesync_core::desired::routes_revision(&[]);
    let has_routes = n
        .state
        .routes_revision
        .as_ref()
        .is_some_and(|r| *r != empty);
    assert_eq!(
        has_routes,
        n.runs().contains_key(&api),
        "{}: routes {:?}",
        n.name,
        n.state.routes_revision
    );
}

#[tokio::test]
async fn planning_is_idempotent_and_recorded_once() {
    let store = Arc::new(MemoryStore::new());
    let es = edgesync_on(store.clone()).await;
    let node = SimNode::register(&es, "n1", "fra", labels(&[("tier", "edge")]))
        .await
        .unwrap();
    assert_eq!(
        es.sync_plan(node.id).await.unwrap().plan_id,
        EMPTY_PLAN,
        "a fresh node has nothing to do"
    );
    let (f, v) = upload(&es, "hello", 1).await;
    let d = deploy(&es, f, v, "tier=edge", 0).await;
    let a = es.sync_plan(node.id).await.unwrap();
    let b = es.sync_plan(node.id).await.unwrap();
    // A first install is `installing` while its plan is open; only the history record is stored.
    assert_eq!(
        es.deployment(d).unwrap().nodes[0].state,
        NodeDeploymentState::Installing
    );
    let stored_state = store
        .get(&RecordKey::NodeDeployment {
            deployment_id: d,
            node_id: node.id,
        })
        .await
        .unwrap();
    assert!(stored_state.is_none(), "{stored_state:?}");
    assert_eq!(a.plan_id, b.plan_id, "the same request gives the same plan");
    assert_eq!(
        a.actions.iter().map(|x| &x.action).collect::<Vec<_>>(),
        b.actions.iter().map(|x| &x.action).collect::<Vec<_>>()
    );
    let records = store
        .list_all(Collection::SyncRecords {
            node_id: Some(node.id),
        })
        .await
        .unwrap();
    assert_eq!(records.len(), 1, "polling twice records one plan");
    assert_eq!(es.sync_revision(node.id).unwrap(), a.revision);
}

async fn pending_plan(es: &EdgeSync, node: NodeId) -> edgesync_core::control::ServedPlan {
    let p = es.sync_plan(node).await.unwrap();
    assert_ne!(p.plan_id, EMPTY_PLAN);
    p
}

#[tokio::test]
async fn an_ack_is_all_or_nothing_when_the_store_fails() {
    let faulty = Arc::new(FaultyStore::new(Arc::new(MemoryStore::new())));
    let es = edgesync_on(faulty.clone()).await;
    let node = SimNode::register(&es, "n1", "fra", labels(&[("tier", "edge")]))
        .await
        .unwrap();
    let (f, v) = upload(&es, "hello", 1).await;
    let d = deploy(&es, f, v, "", 0).await;
    let plan = pending_plan(&es, node.id).await;
    let before_state = faulty.get_node_state(node.id).await.unwrap();
    let before_deployment = es.deployment(d).unwrap();

    faulty.fail_commits(1);
    let err = es
        .ack_plan(
            node.id,
            Ack {
                plan_id: plan.plan_id,
                results: all_succeeded(&plan),
                state: None,
            },
        )
        .await
        .unwrap_err();
    assert!(err.retryable(), "{err}");

    let sync_key = edgesync_core::store::RecordKey::SyncRecord {
        node_id: node.id,
        id: SyncRecordId::from_uuid(*plan.plan_id.as_uuid()),
    };
    match faulty.get(&sync_key).await.unwrap().unwrap().record {
        Record::SyncRecord(r) => {
            assert_eq!(r.status, SyncStatus::Pending, "the history entry changed")
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        faulty.get_node_state(node.id).await.unwrap(),
        before_state,
        "the node state changed"
    );
    assert_eq!(
        es.deployment(d).unwrap(),
        before_deployment,
        "deployment states changed"
    );
    assert!(
        es.get_node(node.id).unwrap().reported.functions.is_empty(),
        "memory moved ahead of the store"
    );

    // The retry succeeds and everything moves together.
    let out = es
        .ack_plan(
            node.id,
            Ack {
                plan_id: plan.plan_id,
                results: all_succeeded(&plan),
                state: None,
            },
        )
        .await
        .unwrap();
    assert!(out.applied);
    assert_eq!(out.status, SyncStatus::Succeeded);
    assert_eq!(
        es.deployment(d).unwrap().count(NodeDeploymentState::Active),
        1
    );
    assert_eq!(es.get_node(node.id).unwrap().reported.functions.len(), 1);
    assert_eq!(es.sync_plan(node.id).await.unwrap().plan_id, EMPTY_PLAN);
}

#[tokio::test]
async fn concurrent_acks_of_one_plan_apply_once() {
    let es = edgesync().await;
    let node = SimNode::register(&es, "n1", "fra", labels(&[]))
        .await
        .unwrap();
    let (f, v) = upload(&es, "hello", 1).await;
    let d = deploy(&es, f, v, "", 0).await;
    let plan = pending_plan(&es, node.id).await;
    let mut handles = Vec::new();
    for _ in 0..8 {
        let es = es.clone();
        let ack = Ack {
            plan_id: plan.plan_id,
            results: all_succeeded(&plan),
            state: None,
        };
        handles.push(tokio::spawn(async move { es.ack_plan(node.id, ack).await }));
    }
    let mut applied = 0;
    for h in handles {
        let out = h.await.unwrap().unwrap();
        assert_eq!(out.status, SyncStatus::Succeeded);
        applied += usize::from(out.applied);
    }
    assert_eq!(applied, 1, "exactly one ack applied");
    let (history, _) = es.sync_history(node.id, None, 100).await.unwrap();
    assert_eq!(history.len(), 1);
    assert_eq!(es.deployment(d).unwrap().nodes[0].attempts, 1);
}

#[tokio::test]
async fn bad_acks_are_rejected_and_change_nothing() {
    let es = edgesync().await;
    let n1 = SimNode::register(&es, "n1", "fra", labels(&[]))
        .await
        .unwrap();
    let n2 = SimNode::register(&es, "n2", "fra", labels(&[]))
        .await
        .unwrap();
    let (f, v) = upload(&es, "hello", 1).await;
    deploy(&es, f, v, "", 0).await;
    let plan = pending_plan(&es, n1.id).await;
    let code = |r: edgesync_core::Result<_>| r.unwrap_err().code();

    let unknown = Ack {
        plan_id: PlanId::ordered(),
        results: vec![],
        state: None,
    };
    assert_eq!(
        code(es.ack_plan(n1.id, unknown).await),
        ErrorCode::PlanNotFound
    );
    let other_nodes = Ack {
        plan_id: plan.plan_id,
        results: all_succeeded(&plan),
        state: None,
    };
    assert_eq!(
        code(es.ack_plan(n2.id, other_nodes).await),
        ErrorCode::PlanNotFound
    );
    let mut out_of_range = all_succeeded(&plan);
    out_of_range.push(ActionResult {
        action_id: 99,
        succeeded: true,
        error_code: None,
        error: None,
    });
    assert_eq!(
        code(
            es.ack_plan(
                n1.id,
                Ack {
                    plan_id: plan.plan_id,
                    results: out_of_range,
                    state: None
                }
            )
            .await
        ),
        ErrorCode::InvalidRequest
    );
    assert_eq!(
        code(
            es.ack_plan(
                n1.id,
                Ack {
                    plan_id: plan.plan_id,
                    results: vec![],
                    state: None
                }
            )
            .await
        ),
        ErrorCode::InvalidRequest,
        "missing results"
    );
    let mut twice = all_succeeded(&plan);
    twice.push(twice[0].clone());
    assert_eq!(
        code(
            es.ack_plan(
                n1.id,
                Ack {
                    plan_id: plan.plan_id,
                    results: twice,
                    state: None
                }
            )
            .await
        ),
        ErrorCode::InvalidRequest
    );
    let (history, _) = es.sync_history(n1.id, None, 10).await.unwrap();
    assert_eq!(
        history[0].status,
        SyncStatus::Pending,
        "bad acks changed the history"
    );

    es.ack_plan(
        n1.id,
        Ack {
            plan_id: plan.plan_id,
            results: all_succeeded(&plan),
            state: None,
        },
    )
    .await
    .unwrap();
    let mut different = all_succeeded(&plan);
    different[0].succeeded = false;
    assert_eq!(
        code(
            es.ack_plan(
                n1.id,
                Ack {
                    plan_id: plan.plan_id,
                    results: different,
                    state: None
                }
            )
            .await
        ),
        ErrorCode::PlanAlreadyAcked
    );
}

#[tokio::test]
async fn failed_installs_are_recorded_and_retried() {
    let es = edgesync().await;
    let mut node = SimNode::register(&es, "flaky", "fra", labels(&[]))
        .await
        .unwrap();
    let (f, v) = upload(&es, "hello", 1).await;
    migrate(&es, 1).await;
    let d = deploy(&es, f, v, "", 0).await;
    node.behavior.failing_functions = vec![f];
    node.sync_once(&es).await.unwrap();
    assert_eq!(node.state.schema_version, 1, "the migration succeeded");
    assert!(node.runs().is_empty());
    let detail = es.deployment(d).unwrap();
    assert_eq!(detail.nodes[0].state, NodeDeploymentState::Failed);
    assert!(
        detail.nodes[0]
            .error
            .as_deref()
            .unwrap()
            .contains("refused")
    );
    let (history, _) = es.sync_history(node.id, None, 10).await.unwrap();
    assert_eq!(history[0].status, SyncStatus::Partial);

    // The next plan retries only the failed install, which is stored as `installing` again.
    let retry = es.sync_plan(node.id).await.unwrap();
    assert_eq!(retry.actions.len(), 1);
    assert!(matches!(
        retry.actions[0].action.action,
        Action::InstallFunction(_)
    ));
    let detail = es.deployment(d).unwrap();
    assert_eq!(detail.nodes[0].state, NodeDeploymentState::Installing);
    assert_eq!(detail.nodes[0].attempts, 1);
    node.behavior.failing_functions.clear();
    node.sync_once(&es).await.unwrap();
    let detail = es.deployment(d).unwrap();
    assert_eq!(detail.nodes[0].state, NodeDeploymentState::Active);
    assert_eq!(detail.nodes[0].attempts, 2);

    let stats = es
        .sync_stats(&SyncStatsQuery {
            window: Duration::from_secs(3600),
            node_id: None,
        })
        .await
        .unwrap();
    assert_eq!((stats.total, stats.succeeded, stats.partial), (2, 1, 1));
    assert_eq!(stats.failures_by_code.get("simulated_failure"), Some(&1));
    assert!((stats.success_rate - 0.5).abs() < 1e-9);
}

#[tokio::test]
async fn long_polls_wake_on_target_changes() {
    let es = edgesync().await;
    let node = SimNode::register(&es, "poller", "fra", labels(&[]))
        .await
        .unwrap();
    let known = es.sync_revision(node.id).unwrap();
    let started = std::time::Instant::now();
    let timed_out = es
        .wait_for_revision_change(node.id, &known, Duration::from_millis(200))
        .await
        .unwrap();
    assert_eq!(timed_out, known);
    assert!(started.elapsed() >= Duration::from_millis(190));

    let (f, v) = upload(&es, "hello", 1).await;
    let waiter = {
        let es = es.clone();
        let known = known.clone();
        tokio::spawn(async move {
            let t = std::time::Instant::now();
            (
                es.wait_for_revision_change(node.id, &known, Duration::from_secs(10))
                    .await
                    .unwrap(),
                t.elapsed(),
            )
        })
    };
    tokio::time::sleep(Duration::from_millis(50)).await;
    deploy(&es, f, v, "", 0).await;
    let (new_rev, waited) = waiter.await.unwrap();
    assert_ne!(new_rev, known);
    assert!(waited < Duration::from_secs(2), "woke after {waited:?}");
}

#[tokio::test]
async fn schemas_are_immutable_and_increasing() {
    let es = edgesync().await;
    let m = |version, sql: &str| NewSchemaMigration {
        version,
        name: "m".into(),
        up_sql: sql.into(),
        down_sql: None,
    };
    let (first, created) = es
        .add_migration(m(1, "CREATE TABLE a (x INT)"))
        .await
        .unwrap();
    assert!(created);
    let (again, created) = es
        .add_migration(m(1, "CREATE TABLE a (x INT)"))
        .await
        .unwrap();
    assert!(!created);
    assert_eq!(first, again);
    assert_eq!(
        es.add_migration(m(1, "CREATE TABLE b (x INT)"))
            .await
            .unwrap_err()
            .code(),
        ErrorCode::SchemaChecksumMismatch
    );
    es.add_migration(m(5, "CREATE TABLE c (x INT)"))
        .await
        .unwrap();
    assert_eq!(
        es.add_migration(m(3, "CREATE TABLE d (x INT)"))
            .await
            .unwrap_err()
            .code(),
        ErrorCode::SchemaVersionNotIncreasing
    );
    assert_eq!(
        es.add_migration(m(0, "x")).await.unwrap_err().code(),
        ErrorCode::InvalidRequest
    );
    assert_eq!(
        es.migrations()
            .iter()
            .map(|m| m.version)
            .collect::<Vec<_>>(),
        vec![1, 5]
    );
}

#[tokio::test]
async fn routes_conflict_and_pin_their_function() {
    let es = edgesync().await;
    let (f, v) = upload(&es, "hello", 1).await;
    let spec = |path: &str, methods: &[&str]| RouteSpec {
        host: Some("api.example.com".into()),
        path: path.into(),
        methods: methods.iter().map(|s| (*s).to_owned()).collect(),
        function_id: f,
    };
    let r = es.create_route(spec("/users/:id", &["GET"])).await.unwrap();
    assert_eq!(
        es.create_route(spec("/users/:name", &["GET", "POST"]))
            .await
            .unwrap_err()
            .code(),
        ErrorCode::RouteConflict
    );
    es.create_route(spec("/users/:name", &["POST"]))
        .await
        .unwrap();
    assert_eq!(
        es.create_route(spec("no-slash", &[]))
            .await
            .unwrap_err()
            .code(),
        ErrorCode::InvalidRequest
    );
    let mut other = spec("/x", &[]);
    other.function_id = FunctionId::random();
    assert_eq!(
        es.create_route(other).await.unwrap_err().code(),
        ErrorCode::FunctionNotFound
    );
    assert_eq!(
        es.delete_function(f).await.unwrap_err().code(),
        ErrorCode::FunctionInUse
    );
    let d = deploy(&es, f, v, "", 0).await;
    assert_eq!(
        es.delete_function_version(f, v).await.unwrap_err().code(),
        ErrorCode::FunctionInUse
    );
    es.delete_deployment(d).await.unwrap();
    es.update_route(r.id, spec("/people/:id", &["GET"]))
        .await
        .unwrap();
    assert_eq!(es.route(r.id).unwrap().path, "/people/:id");
    for route in es.routes() {
        es.delete_route(route.id).await.unwrap();
    }
    es.delete_function(f).await.unwrap();
}

#[tokio::test]
async fn draining_nodes_receive_nothing_new() {
    let es = edgesync().await;
    let mut node = SimNode::register(&es, "drainer", "fra", labels(&[]))
        .await
        .unwrap();
    es.update_node(
        node.id,
        NodeUpdate {
            labels: None,
            lifecycle: Some(NodeLifecycle::Draining),
        },
        None,
    )
    .await
    .unwrap();
    let (f, v) = upload(&es, "hello", 1).await;
    deploy(&es, f, v, "", 0).await;
    assert_eq!(
        node.sync_once(&es).await.unwrap(),
        edgesync_core::testkit::sim::SimStep::NotModified
    );
    assert!(node.runs().is_empty());
    es.update_node(
        node.id,
        NodeUpdate {
            labels: None,
            lifecycle: Some(NodeLifecycle::Active),
        },
        None,
    )
    .await
    .unwrap();
    node.sync_once(&es).await.unwrap();
    assert_eq!(node.runs().get(&f), Some(&v));
}

#[tokio::test]
async fn polls_and_repeated_plans_do_not_touch_the_store() {
    let counting = Arc::new(edgesync_core::testkit::counting::CountingStore::new(
        Arc::new(MemoryStore::new()),
    ));
    let es = edgesync_on(counting.clone()).await;
    let mut converged = SimNode::register(&es, "steady", "fra", labels(&[]))
        .await
        .unwrap();
    let behind = SimNode::register(&es, "behind", "fra", labels(&[]))
        .await
        .unwrap();
    let (f, v) = upload(&es, "hello", 1).await;
    deploy(&es, f, v, "", 0).await;
    converged.sync_once(&es).await.unwrap();
    es.sync_plan(behind.id).await.unwrap();

    let (reads, commits) = (counting.reads(), counting.commits());
    for _ in 0..1000 {
        // What `GET /sync` with a current `If-None-Match` does.
        assert_eq!(
            es.sync_revision(converged.id).unwrap(),
            converged.applied_revision.clone().unwrap()
        );
        // A converged node asking anyway gets the empty plan from memory.
        assert_eq!(
            es.sync_plan(converged.id).await.unwrap().plan_id,
            EMPTY_PLAN
        );
        // A node that is behind gets the same open plan again.
        es.sync_plan(behind.id).await.unwrap();
        es.heartbeat(converged.id, converged.state.clone()).unwrap();
    }
    assert_eq!(
        (counting.reads(), counting.commits()),
        (reads, commits),
        "polls touched the store"
    );
}

#[tokio::test]
async fn a_deployment_of_the_running_version_is_active_without_a_new_plan() {
    let es = edgesync().await;
    let mut node = SimNode::register(&es, "n", "fra", labels(&[("tier", "edge")]))
        .await
        .unwrap();
    let (f, v) = upload(&es, "hello", 1).await;
    let a = deploy(&es, f, v, "", 0).await;
    node.sync_once(&es).await.unwrap();
    let b = deploy(&es, f, v, "tier=edge", 5).await;
    assert_eq!(
        es.sync_plan(node.id).await.unwrap().plan_id,
        EMPTY_PLAN,
        "same version: nothing to do"
    );
    assert_eq!(
        es.deployment(b).unwrap().nodes[0].state,
        NodeDeploymentState::Active
    );
    assert_eq!(
        es.deployment(b).unwrap().status,
        DeploymentStatus::Completed
    );
    assert_eq!(
        es.deployment(a).unwrap().nodes[0].state,
        NodeDeploymentState::Removed,
        "superseded"
    );
}
