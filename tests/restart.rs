//! Stop the server hard, start it on the same data directory: every registered node and every
//! uploaded function is still there and downloads with its SHA-256.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use edgesync_core::testkit::wasm_fixtures;
use edgesync_e2e::ServerProcess;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

async fn upload(
    client: &reqwest::Client,
    url: &str,
    key: &str,
    name: &str,
    wasm: Vec<u8>,
) -> Value {
    let form = reqwest::multipart::Form::new()
        .part(
            "metadata",
            reqwest::multipart::Part::text(json!({"name": name, "memory_pages": 4}).to_string())
                .mime_str("application/json")
                .unwrap(),
        )
        .part(
            "wasm",
            reqwest::multipart::Part::bytes(wasm).file_name("f.wasm"),
        );
    let resp = client
        .post(format!("{url}/api/v1/functions"))
        .bearer_auth(key)
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 201);
    resp.json().await.unwrap()
}

#[tokio::test]
async fn everything_acknowledged_survives_a_kill_and_restart() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let client = reqwest::Client::new();

    let server = ServerProcess::start(&data, &[]).await;
    let key = server.admin_key();
    let mut nodes = Vec::new();
    for i in 0..5 {
        let resp = client
            .post(format!("{}/api/v1/nodes/register", server.url))
            .bearer_auth(&key)
            .json(
                &json!({"name": format!("edge-{i}"), "pop": "fra", "labels": {"i": i.to_string()}}),
            )
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 201);
        let body: Value = resp.json().await.unwrap();
        nodes.push(body["node_id"].as_str().unwrap().to_owned());
    }
    let mut functions = Vec::new();
    for i in 0..3 {
        let wasm = wasm_fixtures::numbered(i);
        let v = upload(&client, &server.url, &key, &format!("fn-{i}"), wasm.clone()).await;
        functions.push((v["id"].as_str().unwrap().to_owned(), wasm));
    }
    server.kill();

    let server = ServerProcess::start(&data, &[]).await;
    assert_eq!(
        server.admin_key(),
        key,
        "the admin key is not replaced on restart"
    );
    for id in &nodes {
        let resp = client
            .get(format!("{}/api/v1/nodes/{id}", server.url))
            .bearer_auth(&key)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200, "node {id} lost");
    }
    for (id, wasm) in &functions {
        // The download redirects to a signed URL on the same server; reqwest follows it.
        let resp = client
            .get(format!("{}/api/v1/functions/{id}/download", server.url))
            .bearer_auth(&key)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200, "function {id} lost");
        let bytes = resp.bytes().await.unwrap();
        assert_eq!(bytes.as_ref(), wasm.as_slice());
        assert_eq!(
            hex::encode(Sha256::digest(&bytes)),
            hex::encode(Sha256::digest(wasm))
        );
    }
    // New work still succeeds after the restart: names stay unique.
    let resp = client
        .post(format!("{}/api/v1/nodes/register", server.url))
        .bearer_auth(&key)
        .json(&json!({"name": "edge-0", "pop": "fra"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 409);
}
