//! HTTP tests of the function endpoints: streaming upload with validation, versions, signed

#![allow(clippy::unwrap_used, clippy::expect_used)]
//! downloads and deletion, over sled and file artifacts.

mod common;

use common::{Harness, assert_problem, json_of, multipart_parts};
use edgesync_core::testkit::wasm_fixtures;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

fn meta(name: &str) -> Value {
    json!({"name": name, "entrypoint": "_start", "memory_pages": 4, "max_execution_ms": 50})
}

async fn nothing_stored(h: &Harness) {
    let (_, list) = h.get_json("/api/v1/functions").await;
    assert_eq!(
        list["items"].as_array().unwrap().len(),
        0,
        "a function was stored: {list}"
    );
    assert!(
        h.edgesync.artifacts().list().await.unwrap().is_empty(),
        "an artifact is visible"
    );
}

/// Follows a download to its signed URL and returns the bytes.
async fn download(h: &Harness, id: &str, version: Option<u32>) -> Vec<u8> {
    let q = version.map(|v| format!("&version={v}")).unwrap_or_default();
    let (status, info) = h
        .get_json(&format!(
            "/api/v1/functions/{id}/download?redirect=false{q}"
        ))
        .await;
    assert_eq!(status, 200, "{info}");
    let url = info["url"].as_str().unwrap();
    let path = url
        .strip_prefix("http://127.0.0.1:8080")
        .expect("server-signed URL on the public base");
    let resp = h.client.get(path).send().await;
    resp.assert_status_is_ok();
    resp.assert_header("X-Content-SHA256", info["sha256"].as_str().unwrap());
    let bytes = resp.0.into_body().into_bytes().await.unwrap().to_vec();
    assert_eq!(
        hex::encode(Sha256::digest(&bytes)),
        info["sha256"].as_str().unwrap()
    );
    bytes
}

#[tokio::test]
async fn upload_get_list_download_and_delete() {
    let h = Harness::new().await;
    let wasm = wasm_fixtures::hello();
    let resp = h.upload(meta("hello"), &wasm).await;
    resp.assert_status(poem::http::StatusCode::CREATED);
    let v1 = json_of(resp).await;
    assert_eq!(v1["name"], "hello");
    assert_eq!(v1["version"], 1);
    assert_eq!(v1["status"], "ready");
    assert_eq!(v1["size"], wasm.len());
    assert_eq!(v1["sha256"], hex::encode(Sha256::digest(&wasm)));
    assert!(
        v1["exports"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["name"] == "_start" && e["kind"] == "function")
    );
    assert!(
        v1["imports"]
            .as_array()
            .unwrap()
            .iter()
            .any(|i| i["module"] == "wasi_snapshot_preview1")
    );
    let id = v1["id"].as_str().unwrap().to_owned();

    // Same name again: version 2, same function.
    let other = wasm_fixtures::numbered(7);
    let v2 = json_of(h.upload(meta("hello"), &other).await).await;
    assert_eq!(
        (v2["id"].as_str(), v2["version"].as_u64()),
        (Some(id.as_str()), Some(2))
    );

    let (status, f) = h.get_json(&format!("/api/v1/functions/{id}")).await;
    assert_eq!(status, 200);
    assert_eq!(f["latest_version"], 2);
    assert_eq!(f["versions"].as_array().unwrap().len(), 2);
    let (_, list) = h.get_json("/api/v1/functions").await;
    assert_eq!(list["items"].as_array().unwrap().len(), 1);

    assert_eq!(
        download(&h, &id, None).await,
        other,
        "latest version by default"
    );
    assert_eq!(download(&h, &id, Some(1)).await, wasm);

    // The default download is a redirect to the signed URL.
    let resp = h
        .client
        .get(format!("/api/v1/functions/{id}/download"))
        .header("Authorization", Harness::bearer(&h.admin))
        .send()
        .await;
    resp.assert_status(poem::http::StatusCode::FOUND);
    let location = resp
        .0
        .headers()
        .get("Location")
        .unwrap()
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        location.contains("/api/v1/artifacts/") && location.contains("signature="),
        "{location}"
    );

    let (status, body) = h
        .get_json(&format!("/api/v1/functions/{id}/download?version=9"))
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (404, Some("function_not_found"))
    );

    let del = h
        .client
        .delete(format!("/api/v1/functions/{id}/versions/1"))
        .header("Authorization", Harness::bearer(&h.admin))
        .send()
        .await;
    del.assert_status(poem::http::StatusCode::NO_CONTENT);
    let del = h
        .client
        .delete(format!("/api/v1/functions/{id}"))
        .header("Authorization", Harness::bearer(&h.admin))
        .send()
        .await;
    del.assert_status(poem::http::StatusCode::NO_CONTENT);
    let (status, body) = h.get_json(&format!("/api/v1/functions/{id}")).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (404, Some("function_not_found"))
    );

    // Garbage collection removes the binaries once nothing references them (after the grace).
    assert_eq!(
        h.edgesync.collect_garbage().await.unwrap(),
        0,
        "too young to collect"
    );
    h.clock.advance(std::time::Duration::from_secs(3600));
    assert_eq!(h.edgesync.collect_garbage().await.unwrap(), 2);
    nothing_stored(&h).await;
}

#[tokio::test]
async fn invalid_modules_are_rejected_and_nothing_is_stored() {
    let h = Harness::new().await;
    let cases: Vec<(Value, Vec<u8>, u16, &str)> = vec![
        (
            meta("garbage"),
            b"definitely not wasm".to_vec(),
            400,
            "invalid_wasm",
        ),
        (meta("empty"), Vec::new(), 400, "empty_wasm"),
        (
            meta("truncated"),
            wasm_fixtures::hello()[..20].to_vec(),
            400,
            "invalid_wasm",
        ),
        (
            json!({"name": "noentry", "entrypoint": "main", "memory_pages": 4}),
            wasm_fixtures::hello(),
            400,
            "entrypoint_missing",
        ),
        (
            json!({"name": "memexport", "entrypoint": "memory", "memory_pages": 4}),
            wasm_fixtures::hello(),
            400,
            "entrypoint_not_function",
        ),
        (
            json!({"name": "bigmem", "entrypoint": "_start", "memory_pages": 1}),
            wasm_fixtures::wasm(r#"(module (memory 2) (func (export "_start")))"#),
            400,
            "memory_limit_exceeded",
        ),
        (
            json!({"name": "x", "surprise": true}),
            wasm_fixtures::hello(),
            400,
            "invalid_request",
        ),
        (
            json!({"name": "bad name!"}),
            wasm_fixtures::hello(),
            400,
            "invalid_request",
        ),
        (
            json!({"name": "zero", "memory_pages": 0}),
            wasm_fixtures::hello(),
            400,
            "invalid_request",
        ),
        (
            json!({"name": "slow", "max_execution_ms": 999999999}),
            wasm_fixtures::hello(),
            400,
            "invalid_request",
        ),
    ];
    for (metadata, wasm, status, code) in cases {
        let body = assert_problem(h.upload(metadata.clone(), &wasm).await, status, code).await;
        assert!(
            !body["detail"].as_str().unwrap().is_empty(),
            "{metadata}: {body}"
        );
    }
    nothing_stored(&h).await;
}

#[tokio::test]
async fn malformed_uploads_are_rejected() {
    let h = Harness::new().await;
    let send = |parts: Vec<(&'static str, &'static str, Vec<u8>)>| {
        let (ct, body) = multipart_parts(&parts);
        h.client
            .post("/api/v1/functions")
            .header("Authorization", Harness::bearer(&h.admin))
            .content_type(ct)
            .body(body)
            .send()
    };
    let metadata = serde_json::to_vec(&meta("m")).unwrap();
    assert_problem(
        send(vec![
            ("wasm", "application/wasm", wasm_fixtures::hello()),
            ("metadata", "application/json", metadata.clone()),
        ])
        .await,
        400,
        "invalid_request",
    )
    .await;
    assert_problem(
        send(vec![("metadata", "application/json", metadata.clone())]).await,
        400,
        "invalid_request",
    )
    .await;
    assert_problem(
        send(vec![
            ("metadata", "application/json", b"{oops".to_vec()),
            ("wasm", "application/wasm", wasm_fixtures::hello()),
        ])
        .await,
        400,
        "invalid_request",
    )
    .await;
    let json_body = h
        .client
        .post("/api/v1/functions")
        .header("Authorization", Harness::bearer(&h.admin))
        .body_json(&meta("m"))
        .send()
        .await;
    assert_problem(json_body, 415, "unsupported_media_type").await;
    let (ct, body) = common::multipart(&meta("noauth"), &wasm_fixtures::hello());
    let no_auth = h
        .client
        .post("/api/v1/functions")
        .content_type(ct)
        .body(body)
        .send()
        .await;
    assert_problem(no_auth, 401, "missing_credentials").await;
    nothing_stored(&h).await;
}

#[tokio::test]
async fn oversize_uploads_get_413_before_being_stored() {
    let h = Harness::with(|args| args.max_module_bytes = 4096).await;
    // A valid module larger than the limit.
    let big = wasm_fixtures::wasm(&format!(
        r#"(module (memory 1) (data (i32.const 0) "{}") (func (export "_start")))"#,
        "x".repeat(10_000)
    ));
    assert_problem(h.upload(meta("big"), &big).await, 413, "wasm_too_large").await;
    nothing_stored(&h).await;
    h.upload(meta("small"), &wasm_fixtures::hello())
        .await
        .assert_status(poem::http::StatusCode::CREATED);
}

#[tokio::test]
async fn signed_urls_refuse_tampering_and_expiry() {
    let h = Harness::new().await;
    let v = json_of(h.upload(meta("signed"), &wasm_fixtures::hello()).await).await;
    let id = v["id"].as_str().unwrap();
    let (_, info) = h
        .get_json(&format!("/api/v1/functions/{id}/download?redirect=false"))
        .await;
    let url = info["url"]
        .as_str()
        .unwrap()
        .strip_prefix("http://127.0.0.1:8080")
        .unwrap()
        .to_owned();
    h.client.get(&url).send().await.assert_status_is_ok();

    let other_sha = "0".repeat(64);
    let sha = info["sha256"].as_str().unwrap();
    let tampered_path = url.replace(sha, &other_sha);
    assert_problem(
        h.client.get(&tampered_path).send().await,
        403,
        "invalid_signature",
    )
    .await;
    let (path, query) = url.split_once('?').unwrap();
    let mut exp: i64 = 0;
    let mut sig = String::new();
    for kv in query.split('&') {
        let (k, val) = kv.split_once('=').unwrap();
        match k {
            "expires" => exp = val.parse().unwrap(),
            "signature" => sig = val.to_owned(),
            _ => {}
        }
    }
    let later = format!("{path}?expires={}&signature={sig}", exp + 3600);
    assert_problem(h.client.get(&later).send().await, 403, "invalid_signature").await;
    let forged = format!("{path}?expires={exp}&signature=AAAA{}", &sig[4..]);
    assert_problem(h.client.get(&forged).send().await, 403, "invalid_signature").await;
    assert_problem(
        h.client.get(format!("{path}?expires={exp}")).send().await,
        400,
        "invalid_request",
    )
    .await;
    h.clock.advance(std::time::Duration::from_secs(901));
    assert_problem(h.client.get(&url).send().await, 403, "invalid_signature").await;
}

#[tokio::test]
async fn concurrent_uploads_of_one_name_get_distinct_versions() {
    // Eight at once: above the default bound on uploads in progress (4).
    let h = Harness::with(|a| a.max_concurrent_uploads = 8).await;
    let binaries: Vec<Vec<u8>> = (0..8u32).map(wasm_fixtures::numbered).collect();
    let uploads = binaries.iter().map(|b| h.upload(meta("racy"), b));
    let results = futures::future::join_all(uploads).await;
    let mut versions = Vec::new();
    for r in results {
        versions.push(json_of(r).await["version"].as_u64().unwrap());
    }
    versions.sort_unstable();
    assert_eq!(
        versions,
        (1..=8).collect::<Vec<_>>(),
        "no duplicates, no gaps"
    );
}

#[tokio::test]
async fn unknown_functions() {
    let h = Harness::new().await;
    let id = uuid::Uuid::new_v4();
    let (status, body) = h.get_json(&format!("/api/v1/functions/{id}")).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (404, Some("function_not_found"))
    );
    let del = h
        .client
        .delete(format!("/api/v1/functions/{id}"))
        .header("Authorization", Harness::bearer(&h.admin))
        .send()
        .await;
    assert_problem(del, 404, "function_not_found").await;
}
