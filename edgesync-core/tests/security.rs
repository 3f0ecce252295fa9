//! API keys (scopes, expiry, revocation, rotation with grace), HMAC request signing, node
//! credentials (refresh secrets, revocation) and quotas, through the `EdgeSync` facade.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use edgesync_core::auth::request_signing::{SignatureHeader, canonical_request, sign, signing_key};
use edgesync_core::control::{NewApiKey, NewDeployment};
use edgesync_core::model::*;
use edgesync_core::selector::Selector;
use edgesync_core::store::memory::MemoryStore;
use edgesync_core::testkit::{ManualClock, MemArtifacts, wasm_fixtures};
use edgesync_core::{Config, EdgeSync, ErrorCode, Quotas, RequiredAccess};
use futures::StreamExt;

async fn setup(config: Config) -> (EdgeSync, Arc<ManualClock>) {
    let clock = Arc::new(ManualClock::starting_now());
    let es = EdgeSync::builder()
        .store(Arc::new(MemoryStore::new()))
        .artifacts(Arc::new(MemArtifacts::default()))
        .clock(clock.clone())
        .config(config)
        .build()
        .await
        .unwrap();
    (es, clock)
}

fn key(name: &str, scopes: &[Scope]) -> NewApiKey {
    NewApiKey {
        name: name.into(),
        scopes: scopes.to_vec(),
        expires_at: None,
        require_signature: false,
    }
}

fn code<T: std::fmt::Debug>(r: edgesync_core::Result<T>) -> ErrorCode {
    r.unwrap_err().code()
}

#[tokio::test]
async fn scopes_expiry_and_revocation() {
    let (es, clock) = setup(Config::default()).await;
    let (_, reader) = es
        .create_api_key(key("reader", &[Scope::Read]))
        .await
        .unwrap();
    let (_, deployer) = es
        .create_api_key(key("deployer", &[Scope::Deploy]))
        .await
        .unwrap();
    let (enroll_key, enroll) = es
        .create_api_key(key("enroll", &[Scope::NodesRegister]))
        .await
        .unwrap();

    es.authenticate(&reader.secret, RequiredAccess::Scope(Scope::Read))
        .unwrap();
    assert_eq!(
        code(es.authenticate(&reader.secret, RequiredAccess::Scope(Scope::Deploy))),
        ErrorCode::Forbidden
    );
    es.authenticate(&deployer.secret, RequiredAccess::Scope(Scope::Read))
        .unwrap();
    es.authenticate(&deployer.secret, RequiredAccess::Scope(Scope::Deploy))
        .unwrap();
    assert_eq!(
        code(es.authenticate(&deployer.secret, RequiredAccess::Scope(Scope::Admin))),
        ErrorCode::Forbidden
    );
    assert_eq!(
        code(es.authenticate(&enroll.secret, RequiredAccess::Scope(Scope::Read))),
        ErrorCode::Forbidden
    );

    let mut expiring = key("temp", &[Scope::Read]);
    expiring.expires_at = Some(clock.now_plus(Duration::from_secs(60)));
    let (_, temp) = es.create_api_key(expiring).await.unwrap();
    es.authenticate(&temp.secret, RequiredAccess::Scope(Scope::Read))
        .unwrap();
    clock.advance(Duration::from_secs(61));
    assert_eq!(
        code(es.authenticate(&temp.secret, RequiredAccess::Scope(Scope::Read))),
        ErrorCode::InvalidCredentials
    );

    es.revoke_api_key(enroll_key.id).await.unwrap();
    assert_eq!(
        code(es.authenticate(&enroll.secret, RequiredAccess::Scope(Scope::NodesRegister))),
        ErrorCode::InvalidCredentials
    );
    assert!(
        es.api_keys()
            .iter()
            .all(|k| !format!("{k:?}").contains(&reader.secret)),
        "listing shows a secret"
    );

    assert_eq!(
        code(es.create_api_key(key("", &[Scope::Read])).await),
        ErrorCode::InvalidRequest
    );
    assert_eq!(
        code(es.create_api_key(key("none", &[])).await),
        ErrorCode::InvalidRequest
    );
}

trait ClockExt {
    fn now_plus(&self, d: Duration) -> Timestamp;
}
impl ClockExt for ManualClock {
    fn now_plus(&self, d: Duration) -> Timestamp {
        edgesync_core::Clock::now(self).plus(d)
    }
}

#[tokio::test]
async fn rotation_keeps_the_old_secret_for_the_grace_period() {
    let (es, clock) = setup(Config::default()).await;
    let (k, old) = es
        .create_api_key(key("ci", &[Scope::Deploy]))
        .await
        .unwrap();
    let (rotated, new) = es
        .rotate_api_key(k.id, Duration::from_secs(3600))
        .await
        .unwrap();
    assert_ne!(old.secret, new.secret);
    assert_eq!(rotated.id, k.id);
    es.authenticate(&old.secret, RequiredAccess::Scope(Scope::Deploy))
        .unwrap();
    es.authenticate(&new.secret, RequiredAccess::Scope(Scope::Deploy))
        .unwrap();
    clock.advance(Duration::from_secs(3601));
    assert_eq!(
        code(es.authenticate(&old.secret, RequiredAccess::Scope(Scope::Deploy))),
        ErrorCode::InvalidCredentials
    );
    es.authenticate(&new.secret, RequiredAccess::Scope(Scope::Deploy))
        .unwrap();
    es.revoke_api_key(k.id).await.unwrap();
    assert_eq!(
        code(es.rotate_api_key(k.id, Duration::from_secs(1)).await),
        ErrorCode::ApiKeyInactive
    );
    assert_eq!(
        code(
            es.rotate_api_key(ApiKeyId::random(), Duration::from_secs(1))
                .await
        ),
        ErrorCode::ApiKeyNotFound
    );
}

fn signed(
    secret: &str,
    key_id: ApiKeyId,
    ts: i64,
    nonce: &str,
    body: &[u8],
) -> (SignatureHeader, String) {
    use sha2::Digest;
    let body_hash = hex::encode(sha2::Sha256::digest(body));
    let canonical = canonical_request(
        "POST",
        "/api/v1/deployments",
        Some("b=2&a=1"),
        ts,
        nonce,
        &body_hash,
    );
    let header = SignatureHeader {
        key_id,
        timestamp: ts,
        nonce: nonce.into(),
        signature: sign(&signing_key(secret), &canonical),
    };
    (header, canonical)
}

#[tokio::test]
async fn signed_requests_verify_and_resist_replay() {
    let (es, clock) = setup(Config::default()).await;
    let mut new = key("signer", &[Scope::Deploy]);
    new.require_signature = true;
    let (k, secret) = es.create_api_key(new).await.unwrap();
    let now_s = edgesync_core::Clock::now(clock.as_ref()).unix_millis() / 1000;

    // Bearer use of a signing key is refused.
    assert_eq!(
        code(es.authenticate(&secret.secret, RequiredAccess::Scope(Scope::Deploy))),
        ErrorCode::SignatureRequired
    );

    let (h, canonical) = signed(&secret.secret, k.id, now_s, "nonce-0000000001", b"{}");
    assert_eq!(es.verify_signed_request(&h, &canonical).unwrap(), k.id);
    assert_eq!(
        code(es.verify_signed_request(&h, &canonical)),
        ErrorCode::ReplayedRequest
    );

    // Body changed after signing: the canonical request the server computes differs.
    let (h2, _) = signed(&secret.secret, k.id, now_s, "nonce-0000000002", b"{}");
    let (_, tampered) = signed(
        &secret.secret,
        k.id,
        now_s,
        "nonce-0000000002",
        b"{\"evil\":1}",
    );
    assert_eq!(
        code(es.verify_signed_request(&h2, &tampered)),
        ErrorCode::RequestSignatureInvalid
    );

    let (wrong, canonical) = signed("esk_not-the-secret", k.id, now_s, "nonce-0000000003", b"{}");
    assert_eq!(
        code(es.verify_signed_request(&wrong, &canonical)),
        ErrorCode::RequestSignatureInvalid
    );

    let (stale, canonical) = signed(&secret.secret, k.id, now_s - 301, "nonce-0000000004", b"{}");
    assert_eq!(
        code(es.verify_signed_request(&stale, &canonical)),
        ErrorCode::RequestExpired
    );
    let (future, canonical) = signed(&secret.secret, k.id, now_s + 301, "nonce-0000000005", b"{}");
    assert_eq!(
        code(es.verify_signed_request(&future, &canonical)),
        ErrorCode::RequestExpired
    );

    // During a rotation's grace period both secrets sign.
    let (_, rotated) = es
        .rotate_api_key(k.id, Duration::from_secs(60))
        .await
        .unwrap();
    for (i, s) in [&secret.secret, &rotated.secret].into_iter().enumerate() {
        let (h, c) = signed(s, k.id, now_s, &format!("nonce-rotation-{i:04}"), b"");
        es.verify_signed_request(&h, &c).unwrap();
    }
    es.authorize_key(k.id, Scope::Deploy).unwrap();
    assert_eq!(
        code(es.authorize_key(k.id, Scope::Admin)),
        ErrorCode::Forbidden
    );
}

#[tokio::test]
async fn refresh_secrets_and_reissued_credentials() {
    let (es, clock) = setup(Config::default()).await;
    let r = es
        .register_node(NodeRegistration {
            name: "n1".into(),
            pop: "fra".into(),
            region: String::new(),
            labels: Default::default(),
            agent_version: String::new(),
            capabilities: vec![],
            memory_budget_bytes: None,
        })
        .await
        .unwrap();
    assert!(r.refresh_token.starts_with("esr_"));
    let id = r.node.id;
    clock.advance(Duration::from_secs(7200));
    assert_eq!(
        code(es.authenticate(&r.token, RequiredAccess::Node(id))),
        ErrorCode::InvalidCredentials,
        "expired"
    );
    let (fresh, _) = es
        .refresh_node_token_with_secret(id, &r.refresh_token)
        .await
        .unwrap();
    es.authenticate(&fresh, RequiredAccess::Node(id)).unwrap();
    assert_eq!(
        code(es.refresh_node_token_with_secret(id, "esr_wrong").await),
        ErrorCode::InvalidCredentials
    );

    let new_refresh = es.reissue_node_credentials(id).await.unwrap();
    assert_eq!(
        code(es.authenticate(&fresh, RequiredAccess::Node(id))),
        ErrorCode::InvalidCredentials,
        "old token revoked"
    );
    assert_eq!(
        code(
            es.refresh_node_token_with_secret(id, &r.refresh_token)
                .await
        ),
        ErrorCode::InvalidCredentials,
        "old refresh secret revoked"
    );
    let (t, _) = es
        .refresh_node_token_with_secret(id, &new_refresh)
        .await
        .unwrap();
    es.authenticate(&t, RequiredAccess::Node(id)).unwrap();

    // Decommissioning revokes everything for good.
    es.update_node(
        id,
        NodeUpdate {
            labels: None,
            lifecycle: Some(NodeLifecycle::Decommissioned),
        },
        None,
    )
    .await
    .unwrap();
    assert_eq!(
        code(es.authenticate(&t, RequiredAccess::Node(id))),
        ErrorCode::InvalidCredentials
    );
    assert_eq!(
        code(es.refresh_node_token_with_secret(id, &new_refresh).await),
        ErrorCode::InvalidCredentials
    );
}

fn spec(memory_pages: u32, max_concurrency: u32) -> FunctionSpec {
    FunctionSpec {
        name: "f".into(),
        entrypoint: "_start".into(),
        memory_pages,
        max_execution_ms: 100,
        max_concurrency,
        description: String::new(),
    }
}

async fn upload(
    es: &EdgeSync,
    spec: FunctionSpec,
    n: u32,
) -> edgesync_core::Result<(Function, FunctionVersion)> {
    let body = futures::stream::iter([Ok(Bytes::from(wasm_fixtures::numbered(n)))]).boxed();
    es.upload_function(spec, body).await
}

#[tokio::test]
async fn quotas_are_enforced_at_upload() {
    let config = Config {
        quotas: Quotas {
            max_memory_pages: 16,
            max_execution_ms: 500,
            max_concurrency: 8,
        },
        ..Config::default()
    };
    let (es, _) = setup(config).await;
    assert_eq!(
        code(upload(&es, spec(17, 1), 1).await),
        ErrorCode::QuotaExceeded
    );
    assert_eq!(
        code(upload(&es, spec(16, 9), 1).await),
        ErrorCode::QuotaExceeded
    );
    let mut slow = spec(1, 1);
    slow.max_execution_ms = 501;
    assert_eq!(code(upload(&es, slow, 1).await), ErrorCode::QuotaExceeded);
    upload(&es, spec(16, 8), 1).await.unwrap();
}

#[tokio::test]
async fn deployments_that_do_not_fit_a_node_are_rejected_with_the_arithmetic() {
    let (es, _) = setup(Config::default()).await;
    // 1 MiB budget: 16 pages × 64 KiB × 1 = 1 MiB fits; × 2 does not.
    es.register_node(NodeRegistration {
        name: "small".into(),
        pop: "fra".into(),
        region: String::new(),
        labels: [("tier".to_owned(), "edge".to_owned())].into(),
        agent_version: String::new(),
        capabilities: vec![],
        memory_budget_bytes: Some(1 << 20),
    })
    .await
    .unwrap();
    let (f, v1) = upload(&es, spec(16, 1), 1).await.unwrap();
    let (_, v2) = upload(&es, spec(16, 2), 2).await.unwrap();
    let deploy = |version: FunctionVersion, selector: &str| NewDeployment {
        name: String::new(),
        function_id: f.id,
        version: version.version,
        selector: Selector::parse(selector).unwrap(),
        pop: None,
        priority: 0,
        allow_breaking: false,
        strategy: Default::default(),
    };
    es.create_deployment(deploy(v1.clone(), "tier=edge"))
        .await
        .unwrap();
    let err = es
        .create_deployment(deploy(v2.clone(), "tier=edge"))
        .await
        .unwrap_err();
    assert_eq!(err.code(), ErrorCode::AdmissionRejected);
    assert!(
        err.message().contains("16 pages × 64 KiB × 2 = 2097152"),
        "{}",
        err.message()
    );
    assert!(err.message().contains("1048576"), "{}", err.message());
    assert_eq!(es.deployments().len(), 1, "nothing stored");
    // Not selecting the small node: admitted.
    es.create_deployment(deploy(v2, "tier=core")).await.unwrap();
}
