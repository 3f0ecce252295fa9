//! Versions through the facade: two-step registration and its expiry on a manual clock,
//! numbering under concurrent registrations, compatibility and the `allow_breaking` gate,
//! rollback converging simulated nodes through the sync loop, and a real-world module (not
//! written here) validated by the streaming inspector in small chunks.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use bytes::Bytes;
use edgesync_core::control::{NewDeployment, UPLOAD_EXPIRY_GRACE, UploadTarget};
use edgesync_core::model::*;
use edgesync_core::selector::{Labels, Selector};
use edgesync_core::store::memory::MemoryStore;
use edgesync_core::testkit::sim::{SimNode, converge};
use edgesync_core::testkit::{MemArtifacts, wasm_fixtures};
use edgesync_core::wasm::{ExternKind, InspectLimits, WasmInspector};
use edgesync_core::{ByteStream, EdgeSync, ErrorCode, ManualClock};
use futures::{StreamExt, TryStreamExt};
use sha2::{Digest, Sha256};

/// brotli-wasm 3.0.1's `pkg.node/brotli_wasm_bg.wasm` (see `fixtures/README.md`).
const BROTLI: &[u8] = include_bytes!("fixtures/brotli_wasm_bg.wasm");
const BROTLI_SHA256: &str = "6d5e77ad86911b665421dc98e6cedecb0977637afe5cf73d574758d9a2cade90";

async fn edgesync() -> (EdgeSync, Arc<ManualClock>) {
    let clock = Arc::new(ManualClock::starting_now());
    let es = EdgeSync::builder()
        .store(Arc::new(MemoryStore::new()))
        .artifacts(Arc::new(MemArtifacts::default()))
        .clock(clock.clone())
        .build()
        .await
        .unwrap();
    (es, clock)
}

fn spec(name: &str, entrypoint: &str, memory_pages: u32) -> FunctionSpec {
    FunctionSpec {
        name: name.into(),
        entrypoint: entrypoint.into(),
        memory_pages,
        max_execution_ms: 50,
        max_concurrency: 2,
        description: String::new(),
    }
}

/// `bytes` as a stream of `chunk`-byte pieces.
fn chunked(bytes: &[u8], chunk: usize) -> ByteStream {
    let pieces: Vec<edgesync_core::Result<Bytes>> = bytes
        .chunks(chunk.max(1))
        .map(|c| Ok(Bytes::copy_from_slice(c)))
        .collect();
    futures::stream::iter(pieces).boxed()
}

async fn upload(es: &EdgeSync, name: &str, wasm: &[u8]) -> (FunctionId, FunctionVersion) {
    let (f, v) = es
        .upload_function(spec(name, "_start", 4), chunked(wasm, 1024))
        .await
        .unwrap();
    (f.id, v)
}

fn deployment(f: FunctionId, version: u32, selector: &str, allow_breaking: bool) -> NewDeployment {
    NewDeployment {
        name: String::new(),
        function_id: f,
        version,
        selector: Selector::parse(selector).unwrap(),
        pop: None,
        priority: 0,
        allow_breaking,
        strategy: Default::default(),
    }
}

/// The `expires` and `signature` of an upload URL.
fn target_of(url: &str, function_id: FunctionId, version: u32) -> UploadTarget {
    let (path, query) = url.split_once('?').unwrap();
    assert!(
        path.ends_with(&format!("/api/v1/uploads/{function_id}/{version}")),
        "{path}"
    );
    let mut target = UploadTarget {
        function_id,
        version,
        expires: 0,
        signature: String::new(),
    };
    for kv in query.split('&') {
        match kv.split_once('=').unwrap() {
            ("expires", v) => target.expires = v.parse().unwrap(),
            ("signature", v) => target.signature = v.to_owned(),
            (k, _) => panic!("unexpected query parameter {k}"),
        }
    }
    target
}

#[tokio::test]
async fn rollback_converges_nodes_back_to_the_previous_version() {
    let (es, _) = edgesync().await;
    let mut nodes = Vec::new();
    for i in 0..6 {
        let region = if i % 2 == 0 { "eu" } else { "us" };
        let labels: Labels = [("region".to_owned(), region.to_owned())].into();
        let mut n = SimNode::register(&es, &format!("node-{i}"), "fra", labels)
            .await
            .unwrap();
        n.behavior.verify_artifacts = true;
        nodes.push(n);
    }
    let v1_bytes = wasm_fixtures::numbered(1);
    let v2_bytes = wasm_fixtures::numbered(2);
    let (f, v1) = upload(&es, "api", &v1_bytes).await;
    let (_, v2) = upload(&es, "api", &v2_bytes).await;
    assert_eq!(
        v2.compatibility.as_ref().unwrap().status,
        CompatibilityStatus::Compatible
    );
    let eu = es
        .create_deployment(deployment(f, 2, "region=eu", false))
        .await
        .unwrap();
    let us = es
        .create_deployment(deployment(f, 2, "region=us", false))
        .await
        .unwrap();
    converge(&es, &mut nodes, 5).await.unwrap();
    for n in &nodes {
        assert_eq!(n.runs().get(&f), Some(&2), "{} runs v2", n.name);
    }

    let out = es
        .rollback_function(f, None, "operator alice")
        .await
        .unwrap();
    assert_eq!(out.to_version, 1);
    let entry = out.entry.clone().unwrap();
    assert_eq!(entry.from_versions, vec![2]);
    let mut ids = vec![eu.deployment.id, us.deployment.id];
    ids.sort();
    let mut got = entry.deployments.clone();
    got.sort();
    assert_eq!(got, ids);
    assert_eq!(entry.by, "operator alice");
    assert!(out.deployments.iter().all(|d| d.deployment.version == 1));
    assert_eq!(
        es.deployment(eu.deployment.id)
            .unwrap()
            .deployment
            .status_reason
            .as_deref(),
        Some("rolled back from v2 to v1 by operator alice")
    );

    // Nodes converge through the normal sync path and verify the v1 artifact.
    let rounds = converge(&es, &mut nodes, 5).await.unwrap();
    assert!(rounds <= 3, "took {rounds} rounds");
    for n in &nodes {
        assert_eq!(n.runs().get(&f), Some(&1), "{} runs v1 again", n.name);
        assert!(n.downloads.contains_key(v1.sha256.as_deref().unwrap()));
    }
    for d in [eu.deployment.id, us.deployment.id] {
        let detail = es.deployment(d).unwrap();
        assert_eq!(detail.status, DeploymentStatus::Completed, "{detail:?}");
        assert_eq!(detail.count(NodeDeploymentState::Active), 3);
    }

    // Recorded on the function.
    let detail = es.get_function(f).await.unwrap();
    assert_eq!(detail.function.rollbacks, vec![entry]);
    let v1_bytes_back: Vec<Bytes> = es
        .artifacts()
        .get(&v1.artifact_key().unwrap())
        .await
        .unwrap()
        .try_collect()
        .await
        .unwrap();
    assert_eq!(v1_bytes_back.concat(), v1_bytes);

    // Nothing below v1.
    assert_eq!(
        es.rollback_function(f, None, "x").await.unwrap_err().code(),
        ErrorCode::RollbackUnavailable
    );
}

#[tokio::test]
async fn breaking_versions_need_allow_breaking() {
    let (es, _) = edgesync().await;
    let (f, _) = upload(&es, "api", &wasm_fixtures::numbered(1)).await;
    // The entrypoint changes signature: breaking.
    let (_, v2) = upload(
        &es,
        "api",
        &wasm_fixtures::wasm(
            r#"(module (memory (export "memory") 1)
                 (func (export "_start") (param i32))
                 (func (export "id") (result i32) (i32.const 2)))"#,
        ),
    )
    .await;
    let c = v2.compatibility.clone().unwrap();
    assert_eq!(c.status, CompatibilityStatus::Breaking);
    assert_eq!(c.against_version, Some(1));
    assert_eq!(
        c.reasons,
        vec![
            "breaking: entrypoint `_start` signature changed from () -> () to (i32) -> ()"
                .to_owned()
        ]
    );
    let err = es
        .create_deployment(deployment(f, 2, "", false))
        .await
        .unwrap_err();
    assert_eq!(err.code(), ErrorCode::BreakingVersion);
    assert!(
        err.message()
            .contains("entrypoint `_start` signature changed"),
        "{err}"
    );
    es.create_deployment(deployment(f, 2, "", true))
        .await
        .unwrap();
    // Rolling back to v1 needs no flag.
    assert_eq!(
        es.rollback_function(f, None, "x").await.unwrap().to_version,
        1
    );
}

#[tokio::test]
async fn two_step_registration_expires_on_the_clock() {
    let (es, clock) = edgesync().await;
    let wasm = wasm_fixtures::hello();
    let p = es
        .register_function(spec("late", "_start", 4))
        .await
        .unwrap();
    assert_eq!(p.version.status, VersionStatus::PendingUpload);
    assert_eq!(p.version.version, 1);
    assert_eq!(
        p.expires_at,
        clock_now(&clock).plus(es.config().upload_url_ttl)
    );
    let target = target_of(&p.upload_url, p.function.id, 1);

    // Before the URL expires: the upload works once.
    let (_, ready) = es
        .complete_upload(target.clone(), None, chunked(&wasm, 7))
        .await
        .unwrap();
    assert_eq!(ready.status, VersionStatus::Ready);
    assert_eq!(
        ready.sha256.as_deref(),
        Some(hex::encode(Sha256::digest(&wasm)).as_str())
    );
    assert_eq!(
        ready.compatibility.unwrap().status,
        CompatibilityStatus::First
    );
    assert_eq!(
        es.complete_upload(target, None, chunked(&wasm, 7))
            .await
            .unwrap_err()
            .code(),
        ErrorCode::VersionNotPending
    );

    // A registration whose upload never comes.
    let p2 = es
        .register_function(spec("late", "_start", 4))
        .await
        .unwrap();
    let target2 = target_of(&p2.upload_url, p2.function.id, 2);
    clock.advance(es.config().upload_url_ttl);
    assert_eq!(
        es.complete_upload(target2, None, chunked(&wasm, 7))
            .await
            .unwrap_err()
            .code(),
        ErrorCode::InvalidSignature,
        "the URL expired"
    );
    assert_eq!(
        es.expire_pending_uploads().await.unwrap(),
        0,
        "within the grace"
    );
    clock.advance(UPLOAD_EXPIRY_GRACE);
    es.collect_garbage().await.unwrap();
    let v2 = es.function_version(p2.function.id, Some(2)).await.unwrap();
    assert_eq!(v2.status, VersionStatus::Rejected);
    assert_eq!(v2.rejection.as_deref(), Some("upload expired"));
    // The latest ready version is still v1.
    assert_eq!(
        es.function_version(p2.function.id, None)
            .await
            .unwrap()
            .version,
        1
    );
}

fn clock_now(clock: &ManualClock) -> Timestamp {
    edgesync_core::Clock::now(clock)
}

#[tokio::test]
async fn concurrent_registrations_are_numbered_without_gaps() {
    let (es, _) = edgesync().await;
    let all =
        futures::future::join_all((0..20).map(|_| es.register_function(spec("racy", "_start", 4))))
            .await;
    let mut versions: Vec<u32> = all
        .into_iter()
        .map(|p| p.unwrap().version.version)
        .collect();
    versions.sort_unstable();
    assert_eq!(versions, (1..=20).collect::<Vec<_>>());
}

#[test]
fn a_real_world_module_validates_in_small_chunks() {
    assert_eq!(BROTLI.len(), 1_057_070);
    assert_eq!(hex::encode(Sha256::digest(BROTLI)), BROTLI_SHA256);
    for chunk in [13, 4096, 65_536] {
        let mut inspector = WasmInspector::new(InspectLimits {
            max_size_bytes: 2 * 1024 * 1024,
            max_memory_pages: 64,
            entrypoint: "compress".into(),
        });
        let mut peak = 0;
        for piece in BROTLI.chunks(chunk) {
            inspector.update(piece).unwrap();
            peak = peak.max(inspector.buffered_bytes());
        }
        let report = inspector.finish().unwrap();
        assert_eq!(report.size, BROTLI.len() as u64);
        assert_eq!(report.sha256_hex(), BROTLI_SHA256);
        assert!(
            peak <= largest_unit(BROTLI) + chunk + 16,
            "chunks of {chunk}: buffered up to {peak} bytes"
        );
        for name in ["compress", "decompress", "__wbindgen_malloc"] {
            let e = report.export(name).unwrap();
            assert_eq!(e.kind, ExternKind::Function, "{name}");
        }
        assert_eq!(report.export("memory").unwrap().kind, ExternKind::Memory);
        assert_eq!(report.exports.len(), 22);
        assert_eq!(report.imports.len(), 10);
        assert!(
            report
                .imports
                .iter()
                .all(|i| i.module == "__wbindgen_placeholder__")
        );
        assert_eq!(report.memory.unwrap().initial_pages, 28);
    }
}

/// The largest piece the inspector needs whole (see `edgesync_core::wasm`): a non-code section
/// or one function body.
fn largest_unit(bytes: &[u8]) -> usize {
    let mut largest = 0;
    for payload in wasmparser::Parser::new(0).parse_all(bytes) {
        let payload = payload.unwrap();
        let range = match &payload {
            wasmparser::Payload::CodeSectionStart { .. } => continue,
            wasmparser::Payload::CodeSectionEntry(body) => body.range(),
            other => match other.as_section() {
                Some((_, range)) => range,
                None => continue,
            },
        };
        largest = largest.max(range.end - range.start);
    }
    largest
}

#[tokio::test]
async fn a_real_world_module_uploads_and_comes_back_identical() {
    let (es, _) = edgesync().await;
    let (_, v) = es
        .upload_function(spec("brotli", "compress", 64), chunked(BROTLI, 8192))
        .await
        .unwrap();
    assert_eq!(v.sha256.as_deref(), Some(BROTLI_SHA256));
    assert_eq!(v.size, Some(BROTLI.len() as u64));
    let back: Vec<Bytes> = es
        .artifacts()
        .get(&v.artifact_key().unwrap())
        .await
        .unwrap()
        .try_collect()
        .await
        .unwrap();
    assert_eq!(back.concat(), BROTLI);
    // Too little memory for it: rejected with the inspector's reason.
    let err = es
        .upload_function(spec("brotli-small", "compress", 1), chunked(BROTLI, 8192))
        .await
        .unwrap_err();
    assert_eq!(err.code(), ErrorCode::MemoryLimitExceeded);
}
