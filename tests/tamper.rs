//! What an agent refuses, and how it reports it. An artifact replaced in the server's object
//! store after upload does not hash to the plan's SHA-256: the agent refuses it
//! (`sha256_mismatch` in the ack and the sync history), never stores or runs it, and the route
//! answers 503. A migration that fails blocks the installs after it.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use edgesync_client::wire::ActionStatus;
use edgesync_e2e::{
    AgentProcess, ServerProcess, deploy, example_wasm, metadata, operator, route, upload,
};

const CONVERGE: Duration = Duration::from_secs(15);

#[tokio::test]
async fn a_tampered_artifact_is_refused_and_never_runs() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("server");
    let server = ServerProcess::start(&data, &[]).await;
    let ops = operator(&server);
    let agent = AgentProcess::start(
        &server.url,
        &server.admin_key(),
        "edge-tamper",
        &[],
        &dir.path().join("agent"),
    )
    .await;
    let node_id = agent.node_id().await;

    let f = upload(&ops, &metadata("hello", 8, 1000, 4), example_wasm("hello")).await;
    let sha256 = f.sha256.clone().unwrap();
    let object = data.join("artifacts").join("wasm").join(&sha256);
    assert!(object.exists(), "no object at {}", object.display());
    // Valid WASM, exporting the same entrypoint: only the digest tells it apart.
    std::fs::write(&object, example_wasm("hello-v2")).unwrap();

    deploy(&ops, f.id, 1, "").await;
    route(&ops, "/hello", &[], f.id).await;

    // The install fails with sha256_mismatch in the node's sync history.
    let deadline = Instant::now() + CONVERGE;
    let failed = loop {
        let history = ops.sync_history(node_id, None, None).await.unwrap();
        let found = history.items.iter().flat_map(|s| &s.actions).find(|a| {
            a.status == Some(ActionStatus::Failed)
                && a.error_code.as_deref() == Some("sha256_mismatch")
        });
        if let Some(a) = found {
            break a.clone();
        }
        assert!(
            Instant::now() < deadline,
            "no sha256_mismatch in {history:#?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(failed.error.unwrap().contains(&sha256));

    // Never stored, never run: the route (set by the same plan) answers 503.
    let status = agent
        .wait_status("the route table", CONVERGE, |s| {
            s["routes"].as_array().is_some_and(|r| r.len() == 1)
        })
        .await;
    assert!(status["functions"].as_array().unwrap().is_empty());
    assert_eq!(status["counters"]["artifact_downloads"], 0);
    let cached = std::fs::read_dir(agent.data_dir.join("artifacts"))
        .unwrap()
        .count();
    assert_eq!(cached, 0, "nothing was kept");
    let resp = agent.get("/hello").await;
    assert_eq!(resp.status(), 503);
    assert_eq!(resp.headers()["x-edgesync-error"], "function_unavailable");
}

/// A migration that fails on the node is reported (`migration_failed`), rolled back (its ledger
/// row stays dirty) and blocks the installs of its plan (`blocked_by_migration`).
#[tokio::test]
async fn a_failed_migration_blocks_the_installs_after_it() {
    let dir = tempfile::tempdir().unwrap();
    let server = ServerProcess::start(&dir.path().join("server"), &[]).await;
    let ops = operator(&server);
    let agent = AgentProcess::start(
        &server.url,
        &server.admin_key(),
        "edge-migrate",
        &[],
        &dir.path().join("agent"),
    )
    .await;
    let node_id = agent.node_id().await;
    ops.create_migration(&edgesync_client::wire::CreateMigrationRequest {
        version: 1,
        name: "broken".into(),
        up_sql: "CREATE TABLE ok (x INTEGER); INSERT INTO missing VALUES (1);".into(),
        down_sql: None,
    })
    .await
    .unwrap();
    let f = upload(&ops, &metadata("hello", 8, 1000, 4), example_wasm("hello")).await;
    deploy(&ops, f.id, 1, "").await;
    route(&ops, "/hello", &[], f.id).await;

    let deadline = Instant::now() + CONVERGE;
    let codes = loop {
        let history = ops.sync_history(node_id, None, None).await.unwrap();
        let plan = history
            .items
            .iter()
            .find(|s| s.actions.len() == 3 && s.actions.iter().all(|a| a.status.is_some()));
        if let Some(plan) = plan {
            break plan
                .actions
                .iter()
                .map(|a| a.error_code.clone())
                .collect::<Vec<_>>();
        }
        assert!(
            Instant::now() < deadline,
            "no acknowledged plan: {history:#?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    // Migration, install, routes: the route table still applies.
    assert_eq!(
        codes,
        [
            Some("migration_failed".to_owned()),
            Some("blocked_by_migration".to_owned()),
            None
        ]
    );
    let status = agent.status().await;
    assert_eq!(status["schema_version"], 0);
    assert_eq!(status["migrations"][0]["dirty"], true);
    assert!(status["functions"].as_array().unwrap().is_empty());
    assert_eq!(agent.get("/hello").await.status(), 503);
}
