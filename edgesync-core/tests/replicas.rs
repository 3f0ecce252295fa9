//! Two replicas on one store: each sees the other's changes after a maintenance pass, node
//! presence is merged, revocations spread, and the job lease moves when its holder stops.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use edgesync_core::control::{Ack, NewDeployment};
use edgesync_core::model::*;
use edgesync_core::selector::Selector;
use edgesync_core::store::memory::MemoryStore;
use edgesync_core::testkit::{ManualClock, MemArtifacts, wasm_fixtures};
use edgesync_core::{Config, EdgeSync, ErrorCode, RequiredAccess, Store};
use futures::StreamExt;

async fn replica(
    store: Arc<dyn Store>,
    artifacts: Arc<MemArtifacts>,
    clock: Arc<ManualClock>,
) -> EdgeSync {
    EdgeSync::builder()
        .store(store)
        .artifacts(artifacts)
        .clock(clock)
        .config(Config {
            replicated: true,
            ..Config::default()
        })
        .build()
        .await
        .unwrap()
}

#[tokio::test]
async fn replicas_share_changes_presence_revocations_and_the_job_lease() {
    let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
    let artifacts = Arc::new(MemArtifacts::default());
    let clock = Arc::new(ManualClock::starting_now());
    let a = replica(store.clone(), artifacts.clone(), clock.clone()).await;
    let b = replica(store.clone(), artifacts.clone(), clock.clone()).await;

    // Register on A; B knows the node after its next pass and accepts its token.
    let r = a
        .register_node(NodeRegistration {
            name: "n1".into(),
            pop: "fra".into(),
            region: String::new(),
            labels: [("tier".to_owned(), "edge".to_owned())].into(),
            agent_version: String::new(),
            capabilities: vec![],
            memory_budget_bytes: None,
        })
        .await
        .unwrap();
    let node = r.node.id;
    assert!(b.get_node(node).is_err());
    b.run_maintenance().await.unwrap();
    b.get_node(node).unwrap();
    b.authenticate(&r.token, RequiredAccess::Node(node))
        .unwrap();

    // Heartbeat on B; A sees it after B writes it behind and A merges presence.
    clock.advance(Duration::from_secs(20));
    b.heartbeat(
        node,
        ReportedState {
            schema_version: 7,
            ..Default::default()
        },
    )
    .unwrap();
    b.run_maintenance().await.unwrap();
    clock.advance(Duration::from_secs(6));
    a.run_maintenance().await.unwrap();
    assert_eq!(a.get_node(node).unwrap().reported.schema_version, 7);

    // Deploy on A; B plans it after its pass; the ack on B shows on A.
    let body = futures::stream::iter([Ok(Bytes::from(wasm_fixtures::numbered(1)))]).boxed();
    let (f, v) = a
        .upload_function(
            FunctionSpec {
                name: "f".into(),
                entrypoint: "_start".into(),
                memory_pages: 1,
                max_execution_ms: 10,
                max_concurrency: 1,
                description: String::new(),
            },
            body,
        )
        .await
        .unwrap();
    let d = a
        .create_deployment(NewDeployment {
            name: String::new(),
            function_id: f.id,
            version: v.version,
            selector: Selector::parse("tier=edge").unwrap(),
            pop: None,
            priority: 0,
            allow_breaking: false,
            strategy: Default::default(),
        })
        .await
        .unwrap()
        .deployment
        .id;
    b.run_maintenance().await.unwrap();
    let plan = b.sync_plan(node).await.unwrap();
    assert_eq!(plan.actions.len(), 1);
    let results = plan
        .actions
        .iter()
        .map(|x| ActionResult {
            action_id: x.action.id,
            succeeded: true,
            error_code: None,
            error: None,
        })
        .collect();
    b.ack_plan(
        node,
        Ack {
            plan_id: plan.plan_id,
            results,
            state: None,
        },
    )
    .await
    .unwrap();
    clock.advance(Duration::from_secs(6));
    a.run_maintenance().await.unwrap();
    assert_eq!(
        a.deployment(d).unwrap().count(NodeDeploymentState::Active),
        1
    );

    // Decommission on A: B refuses the node's token after its pass.
    a.update_node(
        node,
        NodeUpdate {
            labels: None,
            lifecycle: Some(NodeLifecycle::Decommissioned),
        },
        None,
    )
    .await
    .unwrap();
    b.run_maintenance().await.unwrap();
    assert_eq!(
        b.authenticate(&r.token, RequiredAccess::Node(node))
            .unwrap_err()
            .code(),
        ErrorCode::InvalidCredentials
    );

    // The job lease: exactly one holder; it moves when the holder stops renewing.
    a.run_maintenance().await.unwrap();
    b.run_maintenance().await.unwrap();
    assert_ne!(
        a.is_job_leader(),
        b.is_job_leader(),
        "exactly one replica holds the lease"
    );
    let (leader, follower) = if a.is_job_leader() { (a, b) } else { (b, a) };
    drop(leader);
    clock.advance(Duration::from_secs(11));
    follower.run_maintenance().await.unwrap();
    assert!(follower.is_job_leader(), "the lease moves after it lapses");
}
