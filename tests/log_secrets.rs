//! Logs never print a secret: run the real server with JSON logs at `debug` (and `trace` for
//! EdgeSync's own crates), drive every flow that handles one (the bootstrap admin key, API key
//! creation and rotation, HMAC-signed requests, node registration, JWTs, refresh secrets,
//! signed artifact URLs, and wrong credentials of each kind), then search everything the
//! process wrote for each secret.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use edgesync_client::Client;
use edgesync_core::testkit::wasm_fixtures;
use edgesync_e2e::{binary, free_port};
use serde_json::{Value, json};

/// `POST`s JSON with a bearer credential and returns the status and body.
async fn post(http: &reqwest::Client, url: &str, bearer: &str, body: Value) -> (u16, Value) {
    let resp = http
        .post(url)
        .bearer_auth(bearer)
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn no_secret_reaches_the_logs() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let log_path = dir.path().join("server.log");
    let log = std::fs::File::create(&log_path).unwrap();
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let mut child = Command::new(binary("edgesync"))
        .arg("serve")
        .arg("--data-dir")
        .arg(&data)
        .arg("--listen")
        .arg(format!("127.0.0.1:{port}"))
        .env(
            "RUST_LOG",
            "debug,edgesync_server=trace,edgesync_core=trace,edgesync_sled=trace",
        )
        .env("EDGESYNC_LOG_FORMAT", "json")
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .stdin(Stdio::null())
        .spawn()
        .unwrap();

    let http = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    while !matches!(http.get(format!("{base}/ready")).send().await, Ok(r) if r.status().is_success())
    {
        assert!(Instant::now() < deadline, "the server did not become ready");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let admin = std::fs::read_to_string(data.join("admin.key"))
        .unwrap()
        .trim()
        .to_owned();
    let mut secrets = vec![admin.clone()];

    // API keys: a plain one, a signing one, and a rotation.
    let (status, key) = post(
        &http,
        &format!("{base}/api/v1/api-keys"),
        &admin,
        json!({"name": "ci", "scopes": ["deploy"]}),
    )
    .await;
    assert_eq!(status, 201, "{key}");
    let deploy_key = key["secret"].as_str().unwrap().to_owned();
    let (status, rotated) = post(
        &http,
        &format!(
            "{base}/api/v1/api-keys/{}/rotate",
            key["key"]["id"].as_str().unwrap()
        ),
        &admin,
        json!({"grace_s": 60}),
    )
    .await;
    assert_eq!(status, 200, "{rotated}");
    secrets.push(deploy_key.clone());
    secrets.push(rotated["secret"].as_str().unwrap().to_owned());

    let (status, signer) = post(
        &http,
        &format!("{base}/api/v1/api-keys"),
        &admin,
        json!({"name": "signer", "scopes": ["admin"], "require_signature": true}),
    )
    .await;
    assert_eq!(status, 201, "{signer}");
    let signing_secret = signer["secret"].as_str().unwrap().to_owned();
    let signing_id = signer["key"]["id"].as_str().unwrap().parse().unwrap();
    secrets.push(signing_secret.clone());
    let signed = Client::builder(&base)
        .signing_key(signing_id, &signing_secret)
        .build()
        .unwrap();
    signed
        .list_api_keys()
        .await
        .expect("a signed request passes");
    // A request signed with the wrong secret is refused, and the wrong secret is not logged.
    let wrong_signing_secret = format!("{signing_secret}x");
    let badly_signed = Client::builder(&base)
        .signing_key(signing_id, &wrong_signing_secret)
        .build()
        .unwrap();
    assert!(badly_signed.list_api_keys().await.is_err());
    secrets.push(wrong_signing_secret);

    // A node: its JWT and refresh secret, a refresh, a reissue.
    let (status, reg) = post(
        &http,
        &format!("{base}/api/v1/nodes/register"),
        &admin,
        json!({"name": "edge-1", "pop": "fra", "labels": {"tier": "edge"}}),
    )
    .await;
    assert_eq!(status, 201, "{reg}");
    let node_id = reg["node_id"].as_str().unwrap().to_owned();
    let token = reg["token"].as_str().unwrap().to_owned();
    let refresh = reg["refresh_token"].as_str().unwrap().to_owned();
    secrets.push(token.clone());
    secrets.push(refresh.clone());
    let (status, fresh) = post(
        &http,
        &format!("{base}/api/v1/nodes/{node_id}/token/refresh"),
        "",
        json!({"refresh_token": refresh}),
    )
    .await;
    assert_eq!(status, 200, "{fresh}");
    let token = fresh["token"].as_str().unwrap().to_owned();
    secrets.push(token.clone());
    let (status, reissued) = post(
        &http,
        &format!("{base}/api/v1/nodes/{node_id}/credentials"),
        &admin,
        json!({}),
    )
    .await;
    assert_eq!(status, 200, "{reissued}");
    let refresh = reissued["refresh_token"].as_str().unwrap().to_owned();
    secrets.push(refresh.clone());
    let (status, fresh) = post(
        &http,
        &format!("{base}/api/v1/nodes/{node_id}/token/refresh"),
        "",
        json!({"refresh_token": refresh}),
    )
    .await;
    assert_eq!(status, 200, "{fresh}");
    let token = fresh["token"].as_str().unwrap().to_owned();
    secrets.push(token.clone());

    // Wrong credentials of each kind: refused, and not echoed into the logs.
    let wrong_key = "esk_thisIsNotARealKeyButLooksLikeOne0123456789";
    let (status, _) = post(
        &http,
        &format!("{base}/api/v1/api-keys"),
        wrong_key,
        json!({"name": "x", "scopes": ["read"]}),
    )
    .await;
    assert_eq!(status, 401);
    secrets.push(wrong_key.to_owned());
    let wrong_refresh = "esr_thisIsNotARealRefreshSecret0123456789abcd";
    let (status, _) = post(
        &http,
        &format!("{base}/api/v1/nodes/{node_id}/token/refresh"),
        "",
        json!({"refresh_token": wrong_refresh}),
    )
    .await;
    assert_eq!(status, 401);
    secrets.push(wrong_refresh.to_owned());
    let forged = format!("{token}forged");
    let (status, _) = post(
        &http,
        &format!("{base}/api/v1/nodes/{node_id}/heartbeat"),
        &forged,
        json!({}),
    )
    .await;
    assert_eq!(status, 401);
    secrets.push(forged);

    // A function, a deployment, a plan with a signed artifact URL, the download, the ack.
    let form = reqwest::multipart::Form::new()
        .part(
            "metadata",
            reqwest::multipart::Part::text(json!({"name": "hello"}).to_string())
                .mime_str("application/json")
                .unwrap(),
        )
        .part(
            "wasm",
            reqwest::multipart::Part::bytes(wasm_fixtures::hello()).file_name("f.wasm"),
        );
    let resp = http
        .post(format!("{base}/api/v1/functions"))
        .bearer_auth(&deploy_key)
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 201);
    let function: Value = resp.json().await.unwrap();
    let (status, deployment) = post(
        &http,
        &format!("{base}/api/v1/deployments"),
        &deploy_key,
        json!({"function_id": function["id"], "version": 1, "selector": "tier=edge"}),
    )
    .await;
    assert_eq!(status, 201, "{deployment}");
    let resp = http
        .get(format!("{base}/api/v1/nodes/{node_id}/sync"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let plan: Value = resp.json().await.unwrap();
    let install = plan["actions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["kind"] == "install_function")
        .unwrap_or_else(|| panic!("no install in {plan}"));
    let artifact_url = install["artifact_url"].as_str().unwrap().to_owned();
    let download = http.get(&artifact_url).send().await.unwrap();
    assert_eq!(download.status(), 200);
    let signature = reqwest::Url::parse(&artifact_url)
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == "signature")
        .map(|(_, v)| v.into_owned())
        .unwrap_or_else(|| panic!("no signature in {artifact_url}"));
    secrets.push(signature.clone());
    // A tampered signature is refused.
    let tampered = artifact_url.replace(&signature, &format!("{signature}0"));
    assert_eq!(http.get(&tampered).send().await.unwrap().status(), 403);

    // Give the writer a moment, stop the server, read everything it wrote.
    tokio::time::sleep(Duration::from_millis(300)).await;
    child.kill().unwrap();
    child.wait().unwrap();
    let logs = std::fs::read_to_string(&log_path).unwrap();
    assert!(
        logs.contains("request finished") && logs.contains("node registered"),
        "the server logged the requests (the test checks real logs)"
    );
    for secret in &secrets {
        assert!(secret.len() >= 16, "{secret:?} is too short to search for");
        assert!(
            !logs.contains(secret.as_str()),
            "a secret reached the logs: {}…",
            &secret[..8]
        );
    }
}
