//! The node side against the real server: register → heartbeat → sync → ack → 304, long
//! polls, token refresh, artifact download.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::{Duration, Instant};

use common::{TestServer, metadata, register_request};
use edgesync_client::wire::{
    ActionResult, ActionStatus, CreateDeploymentRequest, NodeStatus, ReportedState, SyncAckRequest,
    SyncAction, SyncPlan,
};
use edgesync_client::{ClientError, SyncPoll};
use edgesync_core::testkit::wasm_fixtures;
use sha2::{Digest, Sha256};
use uuid::Uuid;

fn succeeded(plan: &SyncPlan) -> SyncAckRequest {
    SyncAckRequest {
        plan_id: plan.plan_id,
        results: plan
            .actions
            .iter()
            .map(|a| ActionResult {
                action_id: a.id(),
                status: ActionStatus::Succeeded,
                error: None,
                error_code: None,
            })
            .collect(),
        state: None,
    }
}

fn deploy_all(function_id: Uuid) -> CreateDeploymentRequest {
    common::deployment(function_id, 1, "")
}

#[tokio::test]
async fn register_heartbeat_sync_ack_not_modified() {
    let server = TestServer::start().await;
    let admin = server.admin();
    let hello = wasm_fixtures::hello();
    let f = admin
        .upload_function(&metadata("hello"), hello.clone())
        .await
        .unwrap();
    admin.create_deployment(&deploy_all(f.id)).await.unwrap();

    // The agent's client: an enrollment key registers, then the node token takes over.
    let reg = admin
        .register_node(&register_request("edge-a", &[("tier", "edge")]))
        .await
        .unwrap();
    let agent = server.builder().node_token(&reg.token).build().unwrap();
    let node = agent.node(reg.node_id);
    assert_eq!(node.id(), reg.node_id);

    let hb = node.heartbeat(&ReportedState::default()).await.unwrap();
    assert_eq!(hb.status, NodeStatus::Online);
    assert!(hb.offline_after_s > 0);

    let SyncPoll::Plan(plan, revision) = node.sync(None, None).await.unwrap() else {
        panic!("a new node gets a plan");
    };
    assert_eq!(revision, plan.revision);
    let install = plan
        .actions
        .iter()
        .find_map(|a| match a {
            SyncAction::InstallFunction(i) => Some(i.clone()),
            _ => None,
        })
        .expect("the plan installs the function");
    // The artifact, verified while it streams.
    let bytes = node.download_install(&install).await.unwrap();
    assert_eq!(bytes, hello);
    assert_eq!(hex::encode(Sha256::digest(&bytes)), install.sha256);
    let wrong = "0".repeat(64);
    let err = node
        .download_artifact(&install.artifact_url, &wrong)
        .await
        .unwrap_err();
    assert!(
        matches!(&err, ClientError::DigestMismatch { expected, actual } if *expected == wrong && *actual == install.sha256),
        "{err}"
    );

    let ack = node.ack(&succeeded(&plan)).await.unwrap();
    assert!(ack.applied);
    let reached = ack
        .reached_revision
        .clone()
        .expect("every action succeeded");
    // The ack is idempotent per plan id: repeating it changes nothing.
    assert!(!node.ack(&succeeded(&plan)).await.unwrap().applied);

    match node.sync(Some(&reached), None).await.unwrap() {
        SyncPoll::NotModified { revision } => assert_eq!(revision, reached),
        other => panic!("expected 304, got {other:?}"),
    }
    // A stale revision gets the plan again.
    assert!(matches!(
        node.sync(Some("stale"), None).await.unwrap(),
        SyncPoll::Plan(..)
    ));

    // Token refresh while valid: the new token is used from then on.
    let fresh = node.refresh_token().await.unwrap();
    assert!(fresh.expires_at >= reg.token_expires_at);
    node.heartbeat(&ReportedState::default()).await.unwrap();
    // The refresh secret exchange (no Authorization header needed).
    let bare = server.builder().build().unwrap().node(reg.node_id);
    assert!(!bare.has_token());
    let err = bare.sync(None, None).await.unwrap_err();
    assert!(matches!(err, ClientError::Config(_)), "{err}");
    bare.refresh_token_with_secret(&reg.refresh_token)
        .await
        .unwrap();
    assert!(bare.has_token());
    bare.heartbeat(&ReportedState::default()).await.unwrap();
    let err = bare
        .refresh_token_with_secret("esr_wrong")
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("invalid_credentials"));

    // A node cannot act for another node.
    let other = agent.node(Uuid::new_v4());
    let err = other
        .heartbeat(&ReportedState::default())
        .await
        .unwrap_err();
    assert!(
        matches!(err.status().map(|s| s.as_u16()), Some(401 | 403)),
        "{err}"
    );
}

#[tokio::test]
async fn long_poll_returns_a_plan_when_a_deployment_appears() {
    let server = TestServer::start().await;
    let admin = server.admin();
    let reg = admin
        .register_node(&register_request("edge-a", &[]))
        .await
        .unwrap();
    let node = admin.node_with_token(reg.node_id, &reg.token);
    let SyncPoll::Plan(plan, _) = node.sync(None, None).await.unwrap() else {
        panic!("expected a plan");
    };
    assert!(plan.actions.is_empty());
    let revision = plan.revision.clone();

    // Nothing changes: the long poll waits, then answers 304.
    let started = Instant::now();
    let poll = node
        .sync(Some(&revision), Some(Duration::from_secs(1)))
        .await
        .unwrap();
    assert_eq!(
        poll,
        SyncPoll::NotModified {
            revision: revision.clone()
        }
    );
    assert!(started.elapsed() >= Duration::from_millis(900));

    // A deployment appears while the node waits: the poll answers with the plan at once.
    let f = admin
        .upload_function(&metadata("hello"), wasm_fixtures::hello())
        .await
        .unwrap();
    let waiting = {
        let node = node.clone();
        let revision = revision.clone();
        tokio::spawn(async move {
            let started = Instant::now();
            let poll = node
                .sync(Some(&revision), Some(Duration::from_secs(30)))
                .await;
            (poll, started.elapsed())
        })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    admin.create_deployment(&deploy_all(f.id)).await.unwrap();
    let (poll, took) = waiting.await.unwrap();
    let SyncPoll::Plan(plan, new_revision) = poll.unwrap() else {
        panic!("the long poll answers with the new plan");
    };
    assert_ne!(new_revision, revision);
    assert!(
        plan.actions
            .iter()
            .any(|a| matches!(a, SyncAction::InstallFunction(i) if i.function_id == f.id))
    );
    assert!(took < Duration::from_secs(10), "took {took:?}");
}
