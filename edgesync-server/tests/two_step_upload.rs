//! HTTP tests of two-step registration: `POST /api/v1/functions/register` then a `PUT` of the
//! binary to the signed upload URL. Success, every failure path, tampering and expiry of the
//! URL, cleanup of expired pending uploads, and numbering under concurrent registrations.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::type_complexity)]

mod common;

use std::time::Duration;

use common::{Harness, assert_problem, json_of};
use edgesync_core::testkit::wasm_fixtures;
use poem::http::StatusCode;
use poem::test::TestResponse;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

const PUBLIC: &str = "http://127.0.0.1:8080";
/// A real-world module (brotli-wasm 3.0.1, see `edgesync-core/tests/fixtures/README.md`), larger
/// than the default 1 MiB limit on JSON bodies.
const BROTLI: &[u8] = include_bytes!("../../edgesync-core/tests/fixtures/brotli_wasm_bg.wasm");

fn meta(name: &str) -> Value {
    json!({"name": name, "entrypoint": "_start", "memory_pages": 4, "max_execution_ms": 50})
}

async fn register(h: &Harness, metadata: Value) -> TestResponse {
    h.client
        .post("/api/v1/functions/register")
        .header("Authorization", Harness::bearer(&h.admin))
        .body_json(&metadata)
        .send()
        .await
}

/// Registers and returns the answer, checking its shape.
async fn registered(h: &Harness, metadata: Value) -> Value {
    let resp = register(h, metadata).await;
    resp.assert_status(StatusCode::CREATED);
    let r = json_of(resp).await;
    assert_eq!(r["status"], "pending_upload", "{r}");
    assert!(r["id"].is_string() && r["version"].is_u64() && r["expires_at"].is_string());
    assert!(r["max_size_bytes"].as_u64().unwrap() > 0);
    assert!(
        r["upload_url"]
            .as_str()
            .unwrap()
            .starts_with(&format!("{PUBLIC}/api/v1/uploads/")),
        "{r}"
    );
    r
}

/// The upload URL of a registration, as a path on the test client.
fn path_of(r: &Value) -> String {
    r["upload_url"]
        .as_str()
        .unwrap()
        .strip_prefix(PUBLIC)
        .unwrap()
        .to_owned()
}

async fn put(
    h: &Harness,
    path: &str,
    content_type: &str,
    sha: Option<&str>,
    body: &[u8],
) -> TestResponse {
    let mut req = h.client.put(path).content_type(content_type);
    if let Some(sha) = sha {
        req = req.header("X-Content-SHA256", sha);
    }
    req.body(body.to_vec()).send().await
}

async fn version(h: &Harness, r: &Value) -> Value {
    let (status, v) = h
        .get_json(&format!(
            "/api/v1/functions/{}/versions/{}",
            r["id"].as_str().unwrap(),
            r["version"]
        ))
        .await;
    assert_eq!(status, 200, "{v}");
    v
}

async fn no_artifacts(h: &Harness) {
    assert!(
        h.edgesync.artifacts().list().await.unwrap().is_empty(),
        "an artifact is visible"
    );
}

fn sha(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// Downloads a version through its signed URL.
async fn download(h: &Harness, id: &str, version: u64) -> Vec<u8> {
    let (status, info) = h
        .get_json(&format!(
            "/api/v1/functions/{id}/download?redirect=false&version={version}"
        ))
        .await;
    assert_eq!(status, 200, "{info}");
    let path = info["url"]
        .as_str()
        .unwrap()
        .strip_prefix(PUBLIC)
        .unwrap()
        .to_owned();
    let resp = h.client.get(path).send().await;
    resp.assert_status_is_ok();
    resp.0.into_body().into_bytes().await.unwrap().to_vec()
}

#[tokio::test]
async fn register_then_upload_makes_the_version_ready() {
    let h = Harness::new().await;
    let wasm = wasm_fixtures::hello();
    let r = registered(&h, meta("two-step")).await;
    assert_eq!(r["version"], 1);
    assert_eq!(r["name"], "two-step");
    let id = r["id"].as_str().unwrap().to_owned();

    // Pending: visible, not downloadable, not deployable.
    let pending = version(&h, &r).await;
    assert_eq!(pending["status"], "pending_upload");
    assert!(pending["upload_expires_at"].is_string());
    assert!(pending.get("sha256").is_none() && pending.get("compatibility").is_none());
    let (status, body) = h
        .get_json(&format!(
            "/api/v1/functions/{id}/download?redirect=false&version=1"
        ))
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (404, Some("function_not_found"))
    );
    let resp = h
        .client
        .post("/api/v1/deployments")
        .header("Authorization", Harness::bearer(&h.admin))
        .body_json(&json!({"function_id": id, "version": 1}))
        .send()
        .await;
    assert_problem(resp, 409, "function_version_not_ready").await;

    // The upload needs no API key: the signature is the credential.
    let resp = put(
        &h,
        &path_of(&r),
        "application/wasm",
        Some(&sha(&wasm)),
        &wasm,
    )
    .await;
    resp.assert_status_is_ok();
    let ready = json_of(resp).await;
    assert_eq!(ready["status"], "ready");
    assert_eq!(ready["version"], 1);
    assert_eq!(ready["sha256"], sha(&wasm));
    assert_eq!(ready["size"], wasm.len());
    assert_eq!(ready["compatibility"]["status"], "first");
    assert!(ready.get("upload_expires_at").is_none());
    assert!(
        ready["exports"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["name"] == "_start")
    );
    assert_eq!(
        version(&h, &r).await,
        ready,
        "the stored version is what the PUT answered"
    );
    assert_eq!(download(&h, &id, 1).await, wasm);

    // A second upload to the same URL is refused, whatever the bytes.
    let again = put(&h, &path_of(&r), "application/wasm", None, &wasm).await;
    assert_problem(again, 409, "version_not_pending").await;
    let other = put(
        &h,
        &path_of(&r),
        "application/wasm",
        None,
        &wasm_fixtures::numbered(3),
    )
    .await;
    assert_problem(other, 409, "version_not_pending").await;
    assert_eq!(version(&h, &r).await, ready);

    // The next registration of the name takes version 2; octet-stream is accepted too, and the
    // one-step upload still works beside it (version 3).
    let r2 = registered(&h, meta("two-step")).await;
    assert_eq!(
        (r2["id"].as_str(), r2["version"].as_u64()),
        (Some(id.as_str()), Some(2))
    );
    let v2 = wasm_fixtures::numbered(2);
    let resp = put(&h, &path_of(&r2), "application/octet-stream", None, &v2).await;
    resp.assert_status_is_ok();
    let ready2 = json_of(resp).await;
    assert_eq!(ready2["compatibility"]["against_version"], 1);
    let one_step = json_of(
        h.upload(meta("two-step"), &wasm_fixtures::numbered(4))
            .await,
    )
    .await;
    assert_eq!(one_step["version"], 3);
    assert_eq!(download(&h, &id, 2).await, v2);
}

#[tokio::test]
async fn a_real_module_larger_than_the_json_body_limit_uploads_in_one_stream() {
    let h = Harness::new().await;
    assert!(BROTLI.len() > 1024 * 1024, "larger than max_body_bytes");
    let r = registered(
        &h,
        json!({"name": "brotli", "entrypoint": "compress", "memory_pages": 64}),
    )
    .await;
    let resp = put(
        &h,
        &path_of(&r),
        "application/wasm",
        Some(&sha(BROTLI)),
        BROTLI,
    )
    .await;
    resp.assert_status_is_ok();
    let v = json_of(resp).await;
    assert_eq!(v["status"], "ready", "{v}");
    assert_eq!(v["size"], BROTLI.len());
    assert_eq!(download(&h, r["id"].as_str().unwrap(), 1).await, BROTLI);
}

#[tokio::test]
async fn bad_binaries_reject_the_version_and_store_nothing() {
    let h = Harness::with(|args| args.max_module_bytes = 4096).await;
    let big = wasm_fixtures::wasm(&format!(
        r#"(module (memory 1) (data (i32.const 0) "{}") (func (export "_start")))"#,
        "x".repeat(10_000)
    ));
    let hello = wasm_fixtures::hello();
    let cases: Vec<(Value, Vec<u8>, Option<String>, u16, &str)> = vec![
        (
            meta("garbage"),
            b"not wasm at all".to_vec(),
            None,
            400,
            "invalid_wasm",
        ),
        (meta("empty"), Vec::new(), None, 400, "empty_wasm"),
        (
            meta("truncated"),
            hello[..20].to_vec(),
            None,
            400,
            "invalid_wasm",
        ),
        (
            json!({"name": "noentry", "entrypoint": "main"}),
            hello.clone(),
            None,
            400,
            "entrypoint_missing",
        ),
        (
            json!({"name": "memexport", "entrypoint": "memory"}),
            hello.clone(),
            None,
            400,
            "entrypoint_not_function",
        ),
        (
            json!({"name": "bigmem", "memory_pages": 1}),
            wasm_fixtures::wasm(r#"(module (memory 2) (func (export "_start")))"#),
            None,
            400,
            "memory_limit_exceeded",
        ),
        (meta("huge"), big, None, 413, "wasm_too_large"),
        // A valid module that is not the one the client declared.
        (
            meta("mismatch"),
            hello.clone(),
            Some(sha(&wasm_fixtures::numbered(1))),
            400,
            "sha256_mismatch",
        ),
    ];
    for (metadata, bytes, declared, status, code) in cases {
        let r = registered(&h, metadata.clone()).await;
        let resp = put(
            &h,
            &path_of(&r),
            "application/wasm",
            declared.as_deref(),
            &bytes,
        )
        .await;
        let problem = assert_problem(resp, status, code).await;
        assert!(
            problem["detail"].as_str().unwrap().contains("now rejected"),
            "{problem}"
        );
        let v = version(&h, &r).await;
        assert_eq!(v["status"], "rejected", "{metadata}: {v}");
        assert!(!v["rejection"].as_str().unwrap().is_empty(), "{v}");
        assert!(v.get("sha256").is_none(), "{v}");
        // Rejected is final: the same URL with good bytes is refused.
        let retry = put(&h, &path_of(&r), "application/wasm", None, &hello).await;
        assert_problem(retry, 409, "version_not_pending").await;
    }
    no_artifacts(&h).await;
}

#[tokio::test]
async fn failures_that_say_nothing_about_the_bytes_leave_the_version_pending() {
    let h = Harness::new().await;
    let wasm = wasm_fixtures::hello();
    let r = registered(&h, meta("retry")).await;
    let path = path_of(&r);

    // A malformed declared digest, a wrong content type, an interrupted body.
    assert_problem(
        put(&h, &path, "application/wasm", Some("abc"), &wasm).await,
        400,
        "invalid_request",
    )
    .await;
    assert_problem(
        put(&h, &path, "application/json", None, b"{}").await,
        415,
        "unsupported_media_type",
    )
    .await;
    let chunks: Vec<std::io::Result<bytes::Bytes>> = vec![
        Ok(bytes::Bytes::copy_from_slice(&wasm[..10])),
        Err(std::io::Error::other("connection reset")),
    ];
    let interrupted = h
        .client
        .put(&path)
        .content_type("application/wasm")
        .body(poem::Body::from_bytes_stream(futures::stream::iter(chunks)))
        .send()
        .await;
    assert_problem(interrupted, 400, "invalid_request").await;
    assert_eq!(version(&h, &r).await["status"], "pending_upload");
    no_artifacts(&h).await;

    // The same URL still works.
    put(
        &h,
        &path,
        "application/wasm",
        Some(&sha(&wasm).to_uppercase()),
        &wasm,
    )
    .await
    .assert_status_is_ok();
    assert_eq!(version(&h, &r).await["status"], "ready");
}

#[tokio::test]
async fn upload_urls_refuse_tampering_and_expiry() {
    let h = Harness::new().await;
    let wasm = wasm_fixtures::hello();
    let r1 = registered(&h, meta("signed")).await;
    let r2 = registered(&h, meta("signed")).await;
    let other = registered(&h, meta("other")).await;
    let url = path_of(&r2);
    let (path, query) = url.split_once('?').unwrap();
    let mut exp: i64 = 0;
    let mut sig = String::new();
    for kv in query.split('&') {
        let (k, v) = kv.split_once('=').unwrap();
        match k {
            "expires" => exp = v.parse().unwrap(),
            "signature" => sig = v.to_owned(),
            _ => panic!("unexpected query parameter {k}"),
        }
    }
    let id = r2["id"].as_str().unwrap();
    let other_id = other["id"].as_str().unwrap();
    let tampered = [
        // Another version of the same function, another function.
        format!("/api/v1/uploads/{id}/1?{query}"),
        format!("/api/v1/uploads/{other_id}/2?{query}"),
        // A later expiry, a changed signature.
        format!("{path}?expires={}&signature={sig}", exp + 3600),
        format!("{path}?expires={exp}&signature=AAAA{}", &sig[4..]),
        format!("{path}?expires={exp}&signature=not-base64!"),
    ];
    for t in &tampered {
        assert_problem(
            put(&h, t, "application/wasm", None, &wasm).await,
            403,
            "invalid_signature",
        )
        .await;
    }
    assert_problem(
        put(
            &h,
            &format!("{path}?expires={exp}"),
            "application/wasm",
            None,
            &wasm,
        )
        .await,
        400,
        "invalid_request",
    )
    .await;
    for r in [&r1, &r2, &other] {
        assert_eq!(version(&h, r).await["status"], "pending_upload");
    }
    no_artifacts(&h).await;

    // Expired (default TTL 900 s): refused, even though the version is still pending.
    h.clock.advance(Duration::from_secs(901));
    assert_problem(
        put(&h, &url, "application/wasm", None, &wasm).await,
        403,
        "invalid_signature",
    )
    .await;
    assert_eq!(version(&h, &r2).await["status"], "pending_upload");
}

#[tokio::test]
async fn expired_pending_uploads_are_rejected_by_maintenance() {
    let h = Harness::with(|args| args.upload_url_ttl_s = 60).await;
    let stale = registered(&h, meta("late")).await;
    h.clock.advance(Duration::from_secs(30));
    let fresh = registered(&h, meta("late")).await;
    let done = registered(&h, meta("late")).await;
    put(
        &h,
        &path_of(&done),
        "application/wasm",
        None,
        &wasm_fixtures::hello(),
    )
    .await
    .assert_status_is_ok();

    // Past the URL's expiry but within the grace for uploads in flight: left alone.
    h.clock.advance(Duration::from_secs(61));
    assert_eq!(h.edgesync.expire_pending_uploads().await.unwrap(), 0);
    assert_eq!(version(&h, &stale).await["status"], "pending_upload");

    // Past the grace: garbage collection rejects both pending versions, keeps the ready one.
    h.clock.advance(edgesync_core::control::UPLOAD_EXPIRY_GRACE);
    h.edgesync.collect_garbage().await.unwrap();
    for r in [&stale, &fresh] {
        let v = version(&h, r).await;
        assert_eq!(v["status"], "rejected", "{v}");
        assert_eq!(v["rejection"], "upload expired");
        assert!(v.get("upload_expires_at").is_none());
    }
    assert_eq!(version(&h, &done).await["status"], "ready");
    assert_eq!(
        h.edgesync.expire_pending_uploads().await.unwrap(),
        0,
        "idempotent"
    );
    // Numbering goes on without reusing the numbers.
    assert_eq!(registered(&h, meta("late")).await["version"], 4);
}

#[tokio::test]
async fn registration_validates_metadata_and_stores_nothing_when_invalid() {
    let h = Harness::new().await;
    let cases: Vec<(Value, u16, &str)> = vec![
        (json!({"name": "bad name!"}), 400, "invalid_request"),
        (
            json!({"name": "x", "surprise": true}),
            400,
            "invalid_request",
        ),
        (
            json!({"name": "zero", "memory_pages": 0}),
            400,
            "invalid_request",
        ),
        (
            json!({"name": "slow", "max_execution_ms": 999_999_999}),
            400,
            "invalid_request",
        ),
        (
            json!({"name": "busy", "max_concurrency": 0}),
            400,
            "invalid_request",
        ),
        (
            json!({"name": "noentry", "entrypoint": ""}),
            400,
            "invalid_request",
        ),
        (json!({"entrypoint": "_start"}), 400, "invalid_request"),
    ];
    for (metadata, status, code) in cases {
        assert_problem(register(&h, metadata).await, status, code).await;
    }
    let no_auth = h
        .client
        .post("/api/v1/functions/register")
        .body_json(&meta("anon"))
        .send()
        .await;
    assert_problem(no_auth, 401, "missing_credentials").await;
    let (_, list) = h.get_json("/api/v1/functions").await;
    assert_eq!(list["items"], json!([]), "nothing registered");
}

#[tokio::test]
async fn concurrent_registrations_and_uploads_of_one_name_get_distinct_gap_free_versions() {
    let h = Harness::new().await;
    let registrations = (0..12).map(|_| register(&h, meta("racy")));
    let binaries: Vec<Vec<u8>> = (0..4u32).map(wasm_fixtures::numbered).collect();
    let uploads = binaries.iter().map(|b| h.upload(meta("racy"), b));
    let (registered, uploaded) = futures::join!(
        futures::future::join_all(registrations),
        futures::future::join_all(uploads)
    );
    let mut versions = Vec::new();
    let mut pending = Vec::new();
    for r in registered {
        r.assert_status(StatusCode::CREATED);
        let r = json_of(r).await;
        versions.push(r["version"].as_u64().unwrap());
        pending.push(r);
    }
    for u in uploaded {
        u.assert_status(StatusCode::CREATED);
        versions.push(json_of(u).await["version"].as_u64().unwrap());
    }
    versions.sort_unstable();
    assert_eq!(
        versions,
        (1..=16).collect::<Vec<_>>(),
        "no duplicates, no gaps"
    );
    let (_, f) = h
        .get_json(&format!(
            "/api/v1/functions/{}",
            pending[0]["id"].as_str().unwrap()
        ))
        .await;
    assert_eq!(f["latest_version"], 16);

    // Concurrent uploads to one URL: exactly one wins.
    let wasm = wasm_fixtures::hello();
    let path = path_of(&pending[0]);
    let puts = (0..4).map(|_| put(&h, &path, "application/wasm", None, &wasm));
    let mut statuses: Vec<u16> = futures::future::join_all(puts)
        .await
        .iter()
        .map(|r| r.0.status().as_u16())
        .collect();
    statuses.sort_unstable();
    assert_eq!(statuses, [200, 409, 409, 409]);
}
