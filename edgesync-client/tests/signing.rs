//! HMAC-signed requests against the real server.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use bytes::Bytes;
use common::{TestServer, metadata, register_request};
use edgesync_client::wire::{ApiKeyWithSecret, CreateApiKeyRequest, RouteRequest, ScopeName};
use edgesync_client::{NodeFilter, WasmBody};
use edgesync_core::testkit::wasm_fixtures;
use uuid::Uuid;

async fn signing_key(server: &TestServer) -> ApiKeyWithSecret {
    server
        .admin()
        .create_api_key(&CreateApiKeyRequest {
            name: "signer".into(),
            scopes: vec![ScopeName::Admin],
            expires_at: None,
            require_signature: true,
        })
        .await
        .unwrap()
}

#[tokio::test]
async fn signed_requests_succeed_and_bearer_is_refused() {
    let server = TestServer::start().await;
    let key = signing_key(&server).await;

    // The secret as a bearer token is refused for such a key.
    let bearer = server.builder().api_key(&key.secret).build().unwrap();
    let err = bearer.list_routes().await.unwrap_err();
    assert_eq!(err.code(), Some("signature_required"), "{err}");
    assert_eq!(err.status().map(|s| s.as_u16()), Some(401));
    assert!(!err.retryable());

    // Signed: GET, GET with a query (sorted, encoded), POST with JSON, uploads, DELETE.
    let signed = server
        .builder()
        .signing_key(key.key.id, &key.secret)
        .build()
        .unwrap();
    signed.list_routes().await.unwrap();
    let reg = signed
        .register_node(&register_request("edge-a", &[("tier", "edge")]))
        .await
        .unwrap();
    let nodes = signed
        .list_nodes(&NodeFilter {
            selector: Some("tier in (edge, core)".into()),
            pop: Some("fra".into()),
            limit: Some(10),
            ..NodeFilter::default()
        })
        .await
        .unwrap();
    assert_eq!(nodes.items[0].id, reg.node_id);

    let f = signed
        .upload_function(&metadata("hello"), wasm_fixtures::hello())
        .await
        .unwrap();
    let path = server.dir.path().join("m.wasm");
    std::fs::write(&path, wasm_fixtures::numbered(2)).unwrap();
    signed
        .upload_function(&metadata("hello"), WasmBody::from_file(&path))
        .await
        .unwrap();
    let three = wasm_fixtures::numbered(3);
    let chunks: Vec<Result<Bytes, std::io::Error>> = three
        .chunks(16)
        .map(|c| Ok(Bytes::copy_from_slice(c)))
        .collect();
    let v3 = signed
        .upload_function(
            &metadata("hello"),
            WasmBody::from_stream(futures::stream::iter(chunks), None),
        )
        .await
        .unwrap();
    assert_eq!(v3.version, 3);
    assert_eq!(
        signed.download_function(f.id, Some(3)).await.unwrap(),
        three
    );

    signed
        .create_deployment(&common::deployment(f.id, 1, "tier=edge"))
        .await
        .unwrap();
    let route = signed
        .create_route(&RouteRequest {
            host: None,
            path: "/hello".into(),
            methods: vec![],
            function_id: f.id,
        })
        .await
        .unwrap();
    signed.delete_route(route.id).await.unwrap();
    // Problems come through signed requests as usual.
    let err = signed.get_route(route.id).await.unwrap_err();
    assert_eq!(err.code(), Some("route_not_found"));

    // The signing key wins over a bearer key configured beside it.
    let both = server
        .builder()
        .api_key(&key.secret)
        .signing_key(key.key.id, &key.secret)
        .build()
        .unwrap();
    both.list_deployments().await.unwrap();

    // A wrong secret or an unknown key id does not verify.
    let wrong = server
        .builder()
        .signing_key(key.key.id, "esk_not_the_secret")
        .build()
        .unwrap();
    let err = wrong.list_routes().await.unwrap_err();
    assert_eq!(err.code(), Some("request_signature_invalid"), "{err}");
    let unknown = server
        .builder()
        .signing_key(Uuid::new_v4(), &key.secret)
        .build()
        .unwrap();
    let err = unknown.list_routes().await.unwrap_err();
    assert_eq!(err.status().map(|s| s.as_u16()), Some(401), "{err}");
}
