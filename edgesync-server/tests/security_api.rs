//! API keys over HTTP (create, list, rotate, revoke, scopes), HMAC-signed requests, node
//! refresh secrets and credential reissue.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use common::{Harness, assert_problem, json_of};
use edgesync_core::auth::request_signing::{canonical_request, sign, signing_key};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

async fn create_key(h: &Harness, body: Value) -> Value {
    let resp = h
        .client
        .post("/api/v1/api-keys")
        .header("Authorization", Harness::bearer(&h.admin))
        .body_json(&body)
        .send()
        .await;
    resp.assert_status(poem::http::StatusCode::CREATED);
    json_of(resp).await
}

#[tokio::test]
async fn keys_are_created_listed_rotated_and_revoked() {
    let h = Harness::new().await;
    let created = create_key(&h, json!({"name": "ci", "scopes": ["read", "deploy"]})).await;
    let secret = created["secret"].as_str().unwrap().to_owned();
    assert!(secret.starts_with("esk_") && secret.len() == 47);
    let id = created["key"]["id"].as_str().unwrap().to_owned();

    let (_, list) = h.get_json("/api/v1/api-keys").await;
    let listed = serde_json::to_string(&list).unwrap();
    assert!(!listed.contains(&secret), "a listing shows a secret");
    assert_eq!(list["items"].as_array().unwrap().len(), 2);

    // The key reads; it cannot manage keys.
    let get = |s: &str, path: &str| {
        h.client
            .get(path)
            .header("Authorization", Harness::bearer(s))
            .send()
    };
    get(&secret, "/api/v1/nodes").await.assert_status_is_ok();
    assert_problem(get(&secret, "/api/v1/api-keys").await, 403, "forbidden").await;

    // Rotation: both work during the grace period, then only the new one.
    let resp = h
        .client
        .post(format!("/api/v1/api-keys/{id}/rotate"))
        .header("Authorization", Harness::bearer(&h.admin))
        .body_json(&json!({"grace_s": 60}))
        .send()
        .await;
    resp.assert_status_is_ok();
    let rotated = json_of(resp).await["secret"].as_str().unwrap().to_owned();
    get(&secret, "/api/v1/nodes").await.assert_status_is_ok();
    get(&rotated, "/api/v1/nodes").await.assert_status_is_ok();
    h.clock.advance(Duration::from_secs(61));
    assert_problem(
        get(&secret, "/api/v1/nodes").await,
        401,
        "invalid_credentials",
    )
    .await;
    get(&rotated, "/api/v1/nodes").await.assert_status_is_ok();

    let resp = h
        .client
        .post(format!("/api/v1/api-keys/{id}/revoke"))
        .header("Authorization", Harness::bearer(&h.admin))
        .send()
        .await;
    resp.assert_status_is_ok();
    assert!(json_of(resp).await["revoked_at"].is_string());
    assert_problem(
        get(&rotated, "/api/v1/nodes").await,
        401,
        "invalid_credentials",
    )
    .await;

    // Bad input stores nothing.
    for bad in [
        json!({"name": "x", "scopes": []}),
        json!({"name": "x", "scopes": ["root"]}),
        json!({"name": "", "scopes": ["read"]}),
    ] {
        let resp = h
            .client
            .post("/api/v1/api-keys")
            .header("Authorization", Harness::bearer(&h.admin))
            .body_json(&bad)
            .send()
            .await;
        assert_problem(resp, 400, "invalid_request").await;
    }
    let (_, list) = h.get_json("/api/v1/api-keys").await;
    assert_eq!(list["items"].as_array().unwrap().len(), 2);
    let (status, _) = h
        .get_json(&format!("/api/v1/api-keys/{}", uuid::Uuid::new_v4()))
        .await;
    assert_eq!(status, 404);
}

struct Signer {
    id: String,
    secret: String,
}

impl Signer {
    fn headers(
        &self,
        method: &str,
        path_and_query: &str,
        body: &[u8],
        ts: i64,
        nonce: &str,
    ) -> Vec<(String, String)> {
        let (path, query) = match path_and_query.split_once('?') {
            Some((p, q)) => (p, Some(q)),
            None => (path_and_query, None),
        };
        let body_hash = hex::encode(Sha256::digest(body));
        let canonical = canonical_request(method, path, query, ts, nonce, &body_hash);
        let sig = sign(&signing_key(&self.secret), &canonical);
        vec![
            (
                "Authorization".into(),
                format!(
                    "EdgeSync-HMAC-SHA256 Credential={}, Timestamp={ts}, Nonce={nonce}, Signature={sig}",
                    self.id
                ),
            ),
            ("X-EdgeSync-Content-SHA256".into(), body_hash),
        ]
    }
}

#[tokio::test]
async fn signed_requests() {
    let h = Harness::new().await;
    let created = create_key(
        &h,
        json!({"name": "signer", "scopes": ["deploy"], "require_signature": true}),
    )
    .await;
    let signer = Signer {
        id: created["key"]["id"].as_str().unwrap().to_owned(),
        secret: created["secret"].as_str().unwrap().to_owned(),
    };
    let now = edgesync_core::Clock::now(h.clock.as_ref()).unix_millis() / 1000;

    let send = |method: &str, path: &str, headers: Vec<(String, String)>, body: Vec<u8>| {
        let mut req = match method {
            "GET" => h.client.get(path),
            _ => h
                .client
                .post(path)
                .content_type("application/json")
                .body(body),
        };
        for (k, v) in headers {
            req = req.header(k, v);
        }
        req.send()
    };
    // A signed GET with a query string.
    send(
        "GET",
        "/api/v1/nodes?limit=5&pop=fra",
        signer.headers(
            "GET",
            "/api/v1/nodes?pop=fra&limit=5",
            b"",
            now,
            "nonce-get-00000001",
        ),
        vec![],
    )
    .await
    .assert_status_is_ok();
    // Bearer use of a signing key.
    assert_problem(
        h.client
            .get("/api/v1/nodes")
            .header("Authorization", Harness::bearer(&signer.secret))
            .send()
            .await,
        401,
        "signature_required",
    )
    .await;
    // Replay.
    let headers = signer.headers("GET", "/api/v1/nodes", b"", now, "nonce-replay-0001");
    send("GET", "/api/v1/nodes", headers.clone(), vec![])
        .await
        .assert_status_is_ok();
    assert_problem(
        send("GET", "/api/v1/nodes", headers, vec![]).await,
        401,
        "replayed_request",
    )
    .await;
    // Stale timestamp.
    assert_problem(
        send(
            "GET",
            "/api/v1/nodes",
            signer.headers("GET", "/api/v1/nodes", b"", now - 400, "nonce-stale-00001"),
            vec![],
        )
        .await,
        401,
        "request_expired",
    )
    .await;
    // Wrong signature (another secret).
    let forger = Signer {
        id: signer.id.clone(),
        secret: "esk_forged".into(),
    };
    assert_problem(
        send(
            "GET",
            "/api/v1/nodes",
            forger.headers("GET", "/api/v1/nodes", b"", now, "nonce-forged-0001"),
            vec![],
        )
        .await,
        401,
        "request_signature_invalid",
    )
    .await;
    // Body changed after signing.
    let body = br#"{"version": 1, "name": "init", "up_sql": "CREATE TABLE a (x INT)"}"#.to_vec();
    let headers = signer.headers("POST", "/api/v1/schemas", &body, now, "nonce-body-000001");
    let evil = br#"{"version": 2, "name": "evil", "up_sql": "DROP TABLE a"}"#.to_vec();
    assert_problem(
        send("POST", "/api/v1/schemas", headers, evil).await,
        401,
        "request_signature_invalid",
    )
    .await;
    assert!(
        h.edgesync.migrations().is_empty(),
        "a tampered request changed something"
    );
    // The same body, signed: accepted; scopes still apply.
    let headers = signer.headers("POST", "/api/v1/schemas", &body, now, "nonce-body-000002");
    send("POST", "/api/v1/schemas", headers, body)
        .await
        .assert_status(poem::http::StatusCode::CREATED);
    assert_problem(
        send(
            "GET",
            "/api/v1/api-keys",
            signer.headers("GET", "/api/v1/api-keys", b"", now, "nonce-scope-00001"),
            vec![],
        )
        .await,
        403,
        "forbidden",
    )
    .await;
    // The marker that stands for a verified signature means nothing when a client sends it.
    assert_problem(
        h.client
            .get("/api/v1/nodes")
            .header("Authorization", "Bearer edgesync-signed-request")
            .send()
            .await,
        401,
        "invalid_credentials",
    )
    .await;
}

#[tokio::test]
async fn signed_uploads_check_the_streamed_body() {
    let h = Harness::new().await;
    let created = create_key(
        &h,
        json!({"name": "uploader", "scopes": ["deploy"], "require_signature": true}),
    )
    .await;
    let signer = Signer {
        id: created["key"]["id"].as_str().unwrap().to_owned(),
        secret: created["secret"].as_str().unwrap().to_owned(),
    };
    let now = edgesync_core::Clock::now(h.clock.as_ref()).unix_millis() / 1000;
    let (ct, body) = common::multipart(
        &json!({"name": "signed-fn", "memory_pages": 4}),
        &edgesync_core::testkit::wasm_fixtures::hello(),
    );
    let upload = |headers: Vec<(String, String)>, body: Vec<u8>| {
        let mut req = h
            .client
            .post("/api/v1/functions")
            .content_type(ct.clone())
            .body(body);
        for (k, v) in headers {
            req = req.header(k, v);
        }
        req.send()
    };
    let mut tampered = body.clone();
    let last = tampered.len() - 60;
    tampered[last] ^= 1;
    let headers = signer.headers("POST", "/api/v1/functions", &body, now, "nonce-upload-0001");
    let resp = upload(headers, tampered).await;
    let status = resp.0.status().as_u16();
    assert!(
        status == 401 || status == 400,
        "tampered upload answered {status}"
    );
    let (_, list) = h.get_json("/api/v1/functions").await;
    assert!(
        list["items"].as_array().unwrap().is_empty(),
        "a tampered upload was stored"
    );
    let headers = signer.headers("POST", "/api/v1/functions", &body, now, "nonce-upload-0002");
    upload(headers, body)
        .await
        .assert_status(poem::http::StatusCode::CREATED);
}

#[tokio::test]
async fn refresh_secrets_and_reissued_credentials() {
    let h = Harness::new().await;
    let resp = h
        .client
        .post("/api/v1/nodes/register")
        .header("Authorization", Harness::bearer(&h.admin))
        .body_json(&json!({"name": "n1", "pop": "fra"}))
        .send()
        .await;
    let reg = json_of(resp).await;
    let id = reg["node_id"].as_str().unwrap().to_owned();
    let refresh = reg["refresh_token"].as_str().unwrap().to_owned();
    assert!(refresh.starts_with("esr_"));

    h.clock.advance(Duration::from_secs(7200));
    let refresh_with = |secret: &str| {
        h.client
            .post(format!("/api/v1/nodes/{id}/token/refresh"))
            .body_json(&json!({"refresh_token": secret}))
            .send()
    };
    let resp = refresh_with(&refresh).await;
    resp.assert_status_is_ok();
    let token = json_of(resp).await["token"].as_str().unwrap().to_owned();
    assert_problem(refresh_with("esr_nope").await, 401, "invalid_credentials").await;

    let resp = h
        .client
        .post(format!("/api/v1/nodes/{id}/credentials"))
        .header("Authorization", Harness::bearer(&h.admin))
        .send()
        .await;
    resp.assert_status_is_ok();
    let new_refresh = json_of(resp).await["refresh_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let hb = h
        .client
        .post(format!("/api/v1/nodes/{id}/heartbeat"))
        .header("Authorization", Harness::bearer(&token))
        .body_json(&json!({}))
        .send()
        .await;
    assert_problem(hb, 401, "invalid_credentials").await;
    assert_problem(refresh_with(&refresh).await, 401, "invalid_credentials").await;
    refresh_with(&new_refresh).await.assert_status_is_ok();
}
