//! An agent killed with SIGKILL and started again serves its functions from its data directory
//! at once, resyncs what changed meanwhile, and downloads only new artifacts; through a server
//! outage it keeps serving its last good state and reconnects when the server is back.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use edgesync_e2e::{
    AgentProcess, ServerProcess, deploy, example_wasm, metadata, operator, route, upload,
};

const CONVERGE: Duration = Duration::from_secs(15);

#[tokio::test]
async fn kill_restart_resync_and_server_outage() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("server");
    let server = ServerProcess::start(&data, &[]).await;
    let ops = operator(&server);
    let mut agent = AgentProcess::start(
        &server.url,
        &server.admin_key(),
        "edge-restart",
        &[("tier", "edge")],
        &dir.path().join("agent"),
    )
    .await;
    let node_id = agent.node_id().await;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(agent.data_dir.join("credentials.json"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "credentials must be private");
    }

    let hello = upload(&ops, &metadata("hello", 8, 1000, 8), example_wasm("hello")).await;
    deploy(&ops, hello.id, 1, "tier=edge").await;
    route(&ops, "/hello", &["GET"], hello.id).await;
    agent
        .wait_for_answer("/hello", 200, "hello from the edge", CONVERGE)
        .await;
    assert_eq!(agent.counter("artifact_downloads").await, 1);

    // SIGKILL; the target changes while the agent is down.
    agent.kill();
    let echo = upload(
        &ops,
        &metadata("echo", 32, 1000, 8),
        example_wasm("echo-json"),
    )
    .await;
    deploy(&ops, echo.id, 1, "tier=edge").await;
    let echo_route = route(&ops, "/echo", &[], echo.id).await;

    // Back up: the old state serves at once, the new function arrives by sync.
    agent.restart().await;
    assert_eq!(
        agent.get("/hello").await.status(),
        200,
        "restored from disk"
    );
    agent
        .wait_for_answer("/echo", 200, "{\"echo\":null}", CONVERGE)
        .await;
    let status = agent.status().await;
    assert_eq!(
        status["node_id"],
        node_id.to_string(),
        "no new registration"
    );
    assert_eq!(
        status["counters"]["artifact_downloads"], 1,
        "only the new artifact was downloaded: {status:#}"
    );

    // A plain restart with nothing changed downloads nothing; an expired token is exchanged
    // for a new one with the stored refresh secret.
    agent.kill();
    let creds_path = agent.data_dir.join("credentials.json");
    let mut creds: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&creds_path).unwrap()).unwrap();
    creds["token"] = "expired.token.value".into();
    creds["token_expires_at"] = "2020-01-01T00:00:00Z".into();
    creds["refresh_at"] = "2020-01-01T00:00:00Z".into();
    std::fs::write(&creds_path, creds.to_string()).unwrap();
    agent.restart().await;
    agent
        .wait_status("reconnection", CONVERGE, |s| s["connected"] == true)
        .await;
    let creds: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&creds_path).unwrap()).unwrap();
    assert_ne!(
        creds["token"], "expired.token.value",
        "the token was refreshed"
    );
    assert_eq!(creds["node_id"], node_id.to_string());
    assert_eq!(agent.get("/hello").await.status(), 200);
    assert_eq!(agent.get("/echo").await.status(), 200);
    assert_eq!(agent.counter("artifact_downloads").await, 0);

    // Server outage: the agent keeps serving and notices.
    let port = server.port();
    server.kill();
    assert_eq!(agent.get("/hello").await.status(), 200);
    agent
        .wait_status("the outage", CONVERGE, |s| s["connected"] == false)
        .await;
    assert_eq!(agent.get("/echo").await.status(), 200);

    // The server returns on the same address: the agent reconnects and converges again.
    let server = ServerProcess::start_on_port(&data, port, &[]).await;
    let ops = operator(&server);
    agent
        .wait_status("reconnection", CONVERGE, |s| s["connected"] == true)
        .await;
    ops.delete_route(echo_route.id).await.unwrap();
    agent
        .wait_for_answer("/echo", 404, "no route", CONVERGE)
        .await;
    assert_eq!(agent.get("/hello").await.status(), 200);
    assert_eq!(agent.counter("artifact_downloads").await, 0);
}
