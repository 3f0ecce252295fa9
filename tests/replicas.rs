//! Two real `edgesync` processes on one PostgreSQL database (standing in for CockroachDB) and one
//! shared artifact directory: register on A, heartbeat on B, deploy on A, poll and ack on B; kill
//! A mid-flight: B carries on, nothing acknowledged is lost, and the cluster jobs move to B.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::Command;
use std::time::{Duration, Instant};

use edgesync_core::testkit::wasm_fixtures;
use edgesync_e2e::ServerProcess;
use serde_json::{Value, json};

fn psql(url: &str, sql: &str) -> String {
    let out = Command::new("psql")
        .args([url, "-tAc", sql])
        .output()
        .expect("psql runs");
    assert!(
        out.status.success(),
        "psql failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// A fresh database on the test server; returns its URL.
fn fresh_database(admin_url: &str) -> String {
    let name = format!("edgesync_e2e_{}", uuid::Uuid::new_v4().simple());
    psql(admin_url, &format!("CREATE DATABASE {name}"));
    let (base, _) = admin_url
        .rsplit_once('/')
        .expect("a database URL ends in /<db>");
    format!("{base}/{name}")
}

async fn until<T>(what: &str, timeout: Duration, mut f: impl AsyncFnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = f().await {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn two_replicas_share_one_database_and_survive_a_kill() {
    let Ok(admin_url) = std::env::var("EDGESYNC_TEST_POSTGRES_URL") else {
        eprintln!("SKIPPED: the replica test needs EDGESYNC_TEST_POSTGRES_URL");
        return;
    };
    let db = fresh_database(&admin_url);
    edgesync_e2e::migrate_store(&db);

    let dir = tempfile::tempdir().unwrap();
    let artifacts = format!("file://{}", dir.path().join("artifacts").display());
    let env: Vec<(&str, &str)> = vec![
        ("EDGESYNC_STORE", &db),
        ("EDGESYNC_ARTIFACTS", &artifacts),
        ("EDGESYNC_OFFLINE_TIMEOUT_S", "2"),
    ];
    let a = ServerProcess::start(&dir.path().join("a"), &env).await;
    let b = ServerProcess::start(&dir.path().join("b"), &env).await;
    // Exactly one replica bootstrapped the admin key.
    let key = [&a, &b]
        .iter()
        .find_map(|s| std::fs::read_to_string(s.data_dir.join("admin.key")).ok())
        .unwrap()
        .trim()
        .to_owned();
    let http = reqwest::Client::new();

    // Register on A.
    let reg: Value = http
        .post(format!("{}/api/v1/nodes/register", a.url))
        .bearer_auth(&key)
        .json(&json!({"name": "edge-1", "pop": "fra", "labels": {"tier": "edge"}}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let node = reg["node_id"].as_str().unwrap().to_owned();
    let token = reg["token"].as_str().unwrap().to_owned();

    // Heartbeat on B, once B has picked up the registration.
    until("B to know the node", Duration::from_secs(10), async || {
        let r = http
            .post(format!("{}/api/v1/nodes/{node}/heartbeat", b.url))
            .bearer_auth(&token)
            .json(&json!({}))
            .send()
            .await
            .ok()?;
        r.status().is_success().then_some(())
    })
    .await;

    // Upload and deploy on A.
    let form = reqwest::multipart::Form::new()
        .part(
            "metadata",
            reqwest::multipart::Part::text(json!({"name": "hello", "memory_pages": 4}).to_string()),
        )
        .part(
            "wasm",
            reqwest::multipart::Part::bytes(wasm_fixtures::hello()),
        );
    let f: Value = http
        .post(format!("{}/api/v1/functions", a.url))
        .bearer_auth(&key)
        .multipart(form)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let d: Value = http
        .post(format!("{}/api/v1/deployments", a.url))
        .bearer_auth(&key)
        .json(&json!({"function_id": f["id"], "version": 1, "selector": "tier=edge"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let deployment = d["id"].as_str().unwrap().to_owned();

    // Poll on B: the plan arrives once B has picked up the deployment.
    let plan: Value = until("a plan on B", Duration::from_secs(10), async || {
        let r = http
            .get(format!("{}/api/v1/nodes/{node}/sync", b.url))
            .bearer_auth(&token)
            .send()
            .await
            .ok()?;
        let p: Value = r.json().await.ok()?;
        (!p["actions"].as_array()?.is_empty()).then_some(p)
    })
    .await;
    assert_eq!(plan["actions"][0]["kind"], "install_function");

    // Kill A mid-flight; B applies the ack.
    a.kill();
    let results: Vec<Value> = plan["actions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| json!({"action_id": x["id"], "status": "succeeded"}))
        .collect();
    let ack = http
        .post(format!("{}/api/v1/nodes/{node}/sync/ack", b.url))
        .bearer_auth(&token)
        .json(&json!({"plan_id": plan["plan_id"], "results": results}))
        .send()
        .await
        .unwrap();
    assert_eq!(ack.status(), 200, "{}", ack.text().await.unwrap());

    // Everything acknowledged is there on B.
    let detail: Value = http
        .get(format!("{}/api/v1/deployments/{deployment}", b.url))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(detail["counts"]["active"], 1, "{detail}");
    let fetched = http
        .get(format!(
            "{}/api/v1/functions/{}/download",
            b.url,
            f["id"].as_str().unwrap()
        ))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap();
    assert_eq!(
        fetched.bytes().await.unwrap().as_ref(),
        wasm_fixtures::hello().as_slice()
    );

    // The cluster jobs move to B: with no more heartbeats, B writes the node offline once it
    // holds the lease (A's lapses within its 10 s TTL).
    until(
        "B to record the node offline",
        Duration::from_secs(30),
        async || {
            (psql(
                &db,
                &format!("SELECT status FROM node_states WHERE node_id = '{node}'"),
            ) == "offline")
                .then_some(())
        },
    )
    .await;
    let holder = psql(
        &db,
        "SELECT body::text FROM settings WHERE name = 'job_lease'",
    );
    assert!(!holder.is_empty());
}
