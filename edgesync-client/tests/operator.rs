//! Every operator method against the real server: the happy path and one problem answer.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use bytes::Bytes;
use common::{TestServer, deployment, metadata, register_request};
use edgesync_client::wire::{
    CreateApiKeyRequest, CreateMigrationRequest, DeploymentStatus, NodeLifecycle, NodeStatus,
    RouteRequest, ScopeName, UpdateNodeRequest, VersionStatus,
};
use edgesync_client::{Client, ClientError, NodeFilter, WasmBody};
use edgesync_core::testkit::wasm_fixtures;
use uuid::Uuid;

/// Asserts a problem answer with this status and code.
#[track_caller]
fn assert_problem<T: std::fmt::Debug>(result: Result<T, ClientError>, status: u16, code: &str) {
    match result {
        Err(e @ ClientError::Problem { .. }) => {
            assert_eq!(e.status().map(|s| s.as_u16()), Some(status), "{e}");
            assert_eq!(e.code(), Some(code), "{e}");
            assert!(!e.request_id().unwrap_or_default().is_empty());
        }
        other => panic!("expected a {status} {code} problem, got {other:?}"),
    }
}

#[tokio::test]
async fn health_and_ready() {
    let server = TestServer::start().await;
    // No credentials needed.
    let anonymous = server.builder().build().unwrap();
    let health = anonymous.health().await.unwrap();
    assert_eq!(health.status, "ok");
    let ready = anonymous.ready().await.unwrap();
    assert!(ready.ready, "{ready:?}");
    assert!(ready.checks.iter().any(|c| c.name == "store"));
    // An operator endpoint without credentials is a problem answer.
    assert_problem(anonymous.list_routes().await, 401, "missing_credentials");
    // Nothing listens here: a transport error, not a problem.
    let nowhere = Client::builder("http://127.0.0.1:9")
        .retries(0)
        .build()
        .unwrap();
    let err = nowhere.health().await.unwrap_err();
    assert!(matches!(err, ClientError::Transport(_)), "{err}");
    assert!(err.retryable());
}

#[tokio::test]
async fn nodes() {
    let server = TestServer::start().await;
    let client = server.admin();

    let a = client
        .register_node(&register_request("edge-a", &[("tier", "edge")]))
        .await
        .unwrap();
    assert!(a.token.len() > 20 && a.refresh_token.starts_with("esr_"));
    let b = client
        .register_node(&register_request("edge-b", &[("tier", "core")]))
        .await
        .unwrap();
    assert_problem(
        client.register_node(&register_request("edge-a", &[])).await,
        409,
        "node_name_taken",
    );

    let got = client.get_node(a.node_id).await.unwrap();
    assert_eq!(got.name, "edge-a");
    assert_problem(client.get_node(Uuid::new_v4()).await, 404, "node_not_found");

    // Filters and paging.
    let edge = client
        .list_nodes(&NodeFilter {
            selector: Some("tier in (edge)".into()),
            ..NodeFilter::default()
        })
        .await
        .unwrap();
    assert_eq!(edge.items.len(), 1);
    assert_eq!(edge.items[0].id, a.node_id);
    let page = client
        .list_nodes(&NodeFilter {
            limit: Some(1),
            pop: Some("fra".into()),
            ..NodeFilter::default()
        })
        .await
        .unwrap();
    assert_eq!(page.items.len(), 1);
    assert_eq!(page.next.as_deref(), Some("edge-a"));
    let offline = client
        .list_nodes(&NodeFilter {
            status: Some(NodeStatus::Offline),
            ..NodeFilter::default()
        })
        .await
        .unwrap();
    assert!(
        offline
            .items
            .iter()
            .all(|n| n.status == NodeStatus::Offline)
    );
    let all = client
        .list_all_nodes(&NodeFilter {
            limit: Some(1),
            ..NodeFilter::default()
        })
        .await
        .unwrap();
    assert_eq!(
        all.iter().map(|n| n.id).collect::<Vec<_>>(),
        vec![a.node_id, b.node_id]
    );
    assert_problem(
        client
            .list_nodes(&NodeFilter {
                selector: Some("tier in (".into()),
                ..NodeFilter::default()
            })
            .await,
        400,
        "invalid_selector",
    );

    // Conditional update: the right revision applies, a stale one is a final conflict.
    let labels = [("tier".to_owned(), "canary".to_owned())]
        .into_iter()
        .collect();
    let updated = client
        .update_node(
            a.node_id,
            &UpdateNodeRequest {
                labels: Some(labels),
                lifecycle: None,
            },
            Some(got.revision),
        )
        .await
        .unwrap();
    assert_eq!(updated.labels["tier"], "canary");
    assert!(updated.revision > got.revision);
    assert_problem(
        client
            .update_node(
                a.node_id,
                &UpdateNodeRequest {
                    labels: None,
                    lifecycle: Some(NodeLifecycle::Draining),
                },
                Some(got.revision),
            )
            .await,
        412,
        "precondition_failed",
    );
    let drained = client
        .update_node(
            b.node_id,
            &UpdateNodeRequest {
                labels: None,
                lifecycle: Some(NodeLifecycle::Draining),
            },
            None,
        )
        .await
        .unwrap();
    assert_eq!(drained.lifecycle, NodeLifecycle::Draining);

    // Reissued credentials: the old token stops working, the new refresh secret works.
    let node = client.node_with_token(a.node_id, &a.token);
    node.heartbeat(&Default::default()).await.unwrap();
    let creds = client.reissue_node_credentials(a.node_id).await.unwrap();
    assert_problem(
        node.heartbeat(&Default::default()).await,
        401,
        "invalid_credentials",
    );
    node.refresh_token_with_secret(&creds.refresh_token)
        .await
        .unwrap();
    node.heartbeat(&Default::default()).await.unwrap();
    assert_problem(
        client.reissue_node_credentials(Uuid::new_v4()).await,
        404,
        "node_not_found",
    );
}

#[tokio::test]
async fn functions() {
    let server = TestServer::start().await;
    let client = server.admin();
    let hello = wasm_fixtures::hello();

    // From bytes.
    let v1 = client
        .upload_function(&metadata("hello"), hello.clone())
        .await
        .unwrap();
    assert_eq!((v1.version, v1.status), (1, VersionStatus::Ready));
    assert_eq!(v1.size, Some(hello.len() as u64));
    // From a file, streamed.
    let two = wasm_fixtures::numbered(2);
    let path = server.dir.path().join("two.wasm");
    std::fs::write(&path, &two).unwrap();
    let v2 = client
        .upload_function(&metadata("hello"), WasmBody::from_file(&path))
        .await
        .unwrap();
    assert_eq!((v2.id, v2.version), (v1.id, 2));
    // From a stream of small chunks.
    let three = wasm_fixtures::numbered(3);
    let chunks: Vec<Result<Bytes, std::io::Error>> = three
        .chunks(10)
        .map(|c| Ok(Bytes::copy_from_slice(c)))
        .collect();
    let v3 = client
        .upload_function(
            &metadata("hello"),
            WasmBody::from_stream(futures::stream::iter(chunks), Some(three.len() as u64)),
        )
        .await
        .unwrap();
    assert_eq!(v3.version, 3);
    assert_problem(
        client
            .upload_function(&metadata("broken"), b"not wasm at all".to_vec())
            .await,
        400,
        "invalid_wasm",
    );

    let other = client
        .upload_function(&metadata("other"), wasm_fixtures::numbered(9))
        .await
        .unwrap();
    let list = client.list_functions(None, Some(1)).await.unwrap();
    assert_eq!(list.items.len(), 1);
    assert!(list.next.is_some());
    let all = client.list_all_functions().await.unwrap();
    assert_eq!(all.len(), 2);
    assert_problem(
        client.list_functions(None, Some(0)).await,
        400,
        "invalid_request",
    );

    let info = client.get_function(v1.id).await.unwrap();
    assert_eq!(info.latest_version, 3);
    assert_eq!(info.versions.len(), 3);
    assert_problem(
        client.get_function(Uuid::new_v4()).await,
        404,
        "function_not_found",
    );

    let dl = client.function_download_info(v1.id, Some(2)).await.unwrap();
    assert_eq!((dl.version, dl.size), (2, two.len() as u64));
    assert_eq!(Some(dl.sha256.clone()), v2.sha256);
    assert_problem(
        client.function_download_info(Uuid::new_v4(), None).await,
        404,
        "function_not_found",
    );
    assert_eq!(
        client.download_function(v1.id, Some(1)).await.unwrap(),
        hello
    );
    assert_eq!(client.download_function(v1.id, None).await.unwrap(), three);
    let direct = client.download_artifact(&dl.url, &dl.sha256).await.unwrap();
    assert_eq!(direct, two);

    // In use by a live deployment: neither the version nor the function can go.
    let d = client
        .create_deployment(&deployment(v1.id, 3, ""))
        .await
        .unwrap();
    assert_problem(
        client.delete_function_version(v1.id, 3).await,
        409,
        "function_in_use",
    );
    assert_problem(client.delete_function(v1.id).await, 409, "function_in_use");
    client.delete_function_version(v1.id, 1).await.unwrap();
    assert_eq!(client.get_function(v1.id).await.unwrap().versions.len(), 2);
    client.delete_deployment(d.deployment.id).await.unwrap();
    client.delete_function(v1.id).await.unwrap();
    client.delete_function(other.id).await.unwrap();
    assert_problem(client.get_function(v1.id).await, 404, "function_not_found");
}

#[tokio::test]
async fn deployments() {
    let server = TestServer::start().await;
    let client = server.admin();
    let f = client
        .upload_function(&metadata("hello"), wasm_fixtures::hello())
        .await
        .unwrap();
    let node = client
        .register_node(&register_request("edge-a", &[("tier", "edge")]))
        .await
        .unwrap();

    let created = client
        .create_deployment(&deployment(f.id, 1, "tier=edge"))
        .await
        .unwrap();
    assert_eq!(created.deployment.status, DeploymentStatus::InProgress);
    assert_eq!(created.deployment.counts.targeted, 1);
    assert_eq!(created.nodes[0].node_id, node.node_id);
    assert_problem(
        client
            .create_deployment(&deployment(f.id, 1, "tier in ("))
            .await,
        400,
        "invalid_selector",
    );

    let list = client.list_deployments().await.unwrap();
    assert_eq!(list.items.len(), 1);
    let got = client.get_deployment(created.deployment.id).await.unwrap();
    assert_eq!(got.deployment.id, created.deployment.id);
    assert_problem(
        client.get_deployment(Uuid::new_v4()).await,
        404,
        "deployment_not_found",
    );

    let stopped = client
        .delete_deployment(created.deployment.id)
        .await
        .unwrap();
    assert_eq!(stopped.deployment.status, DeploymentStatus::Aborted);
    assert_problem(
        client.delete_deployment(Uuid::new_v4()).await,
        404,
        "deployment_not_found",
    );

    // A read-only key may look but not deploy.
    let read = client
        .create_api_key(&CreateApiKeyRequest {
            name: "reader".into(),
            scopes: vec![ScopeName::Read],
            expires_at: None,
            require_signature: false,
        })
        .await
        .unwrap();
    let reader = server.builder().api_key(&read.secret).build().unwrap();
    reader.list_deployments().await.unwrap();
    assert_problem(
        reader.create_deployment(&deployment(f.id, 1, "")).await,
        403,
        "forbidden",
    );
}

#[tokio::test]
async fn routes() {
    let server = TestServer::start().await;
    let client = server.admin();
    let f = client
        .upload_function(&metadata("hello"), wasm_fixtures::hello())
        .await
        .unwrap();
    let request = RouteRequest {
        host: Some("api.example.com".into()),
        path: "/users/:id".into(),
        methods: vec!["GET".into()],
        function_id: f.id,
    };
    let route = client.create_route(&request).await.unwrap();
    assert_eq!(route.path, "/users/:id");
    assert_problem(client.create_route(&request).await, 409, "route_conflict");

    assert_eq!(client.list_routes().await.unwrap().items.len(), 1);
    assert_eq!(client.get_route(route.id).await.unwrap(), route);
    assert_problem(
        client.get_route(Uuid::new_v4()).await,
        404,
        "route_not_found",
    );

    let replaced = client
        .update_route(
            route.id,
            &RouteRequest {
                methods: vec!["GET".into(), "POST".into()],
                ..request.clone()
            },
        )
        .await
        .unwrap();
    assert_eq!(replaced.methods.len(), 2);
    assert_problem(
        client.update_route(Uuid::new_v4(), &request).await,
        404,
        "route_not_found",
    );

    client.delete_route(route.id).await.unwrap();
    assert_problem(client.delete_route(route.id).await, 404, "route_not_found");
}

#[tokio::test]
async fn schemas() {
    let server = TestServer::start().await;
    let client = server.admin();
    let m1 = CreateMigrationRequest {
        version: 1,
        name: "users".into(),
        up_sql: "CREATE TABLE users (id INTEGER PRIMARY KEY)".into(),
        down_sql: Some("DROP TABLE users".into()),
    };
    let (migration, created) = client.create_migration(&m1).await.unwrap();
    assert!(created);
    assert_eq!(migration.version, 1);
    let (again, created) = client.create_migration(&m1).await.unwrap();
    assert!(!created, "the same content again is 200, not created");
    assert_eq!(again.checksum, migration.checksum);
    assert_problem(
        client
            .create_migration(&CreateMigrationRequest {
                up_sql: "CREATE TABLE people (id INTEGER)".into(),
                ..m1.clone()
            })
            .await,
        409,
        "schema_checksum_mismatch",
    );
    let list = client.list_migrations().await.unwrap();
    assert_eq!(list.items.len(), 1);
}

#[tokio::test]
async fn sync_history_and_stats() {
    let server = TestServer::start().await;
    let client = server.admin();
    let reg = client
        .register_node(&register_request("edge-a", &[]))
        .await
        .unwrap();
    let f = client
        .upload_function(&metadata("hello"), wasm_fixtures::hello())
        .await
        .unwrap();
    client
        .create_deployment(&deployment(f.id, 1, ""))
        .await
        .unwrap();
    let node = client.node_with_token(reg.node_id, &reg.token);
    let edgesync_client::SyncPoll::Plan(plan, _) = node.sync(None, None).await.unwrap() else {
        panic!("expected a plan");
    };
    node.ack(&common_ack(&plan)).await.unwrap();

    let history = client
        .sync_history(reg.node_id, None, Some(10))
        .await
        .unwrap();
    assert_eq!(history.items.len(), 1);
    assert_eq!(history.items[0].plan_id, plan.plan_id);
    assert_problem(
        client.sync_history(Uuid::new_v4(), None, None).await,
        404,
        "node_not_found",
    );

    let stats = client
        .sync_stats(Some(Duration::from_secs(600)), Some(reg.node_id))
        .await
        .unwrap();
    assert_eq!((stats.total, stats.succeeded), (1, 1));
    let fleet = client.sync_stats(None, None).await.unwrap();
    assert_eq!(fleet.total, 1);
    assert_problem(
        client
            .sync_stats(Some(Duration::from_secs(365 * 86_400)), None)
            .await,
        400,
        "invalid_request",
    );
}

fn common_ack(plan: &edgesync_client::wire::SyncPlan) -> edgesync_client::wire::SyncAckRequest {
    use edgesync_client::wire::{ActionResult, ActionStatus, SyncAckRequest};
    SyncAckRequest {
        plan_id: plan.plan_id,
        results: plan
            .actions
            .iter()
            .map(|a| ActionResult {
                action_id: a.id(),
                status: ActionStatus::Succeeded,
                error: None,
                error_code: None,
            })
            .collect(),
        state: None,
    }
}

#[tokio::test]
async fn api_keys() {
    let server = TestServer::start().await;
    let client = server.admin();
    let created = client
        .create_api_key(&CreateApiKeyRequest {
            name: "deployer".into(),
            scopes: vec![ScopeName::Deploy],
            expires_at: None,
            require_signature: false,
        })
        .await
        .unwrap();
    assert!(created.secret.starts_with("esk_"));
    assert_problem(
        client
            .create_api_key(&CreateApiKeyRequest {
                name: "nothing".into(),
                scopes: vec![],
                expires_at: None,
                require_signature: false,
            })
            .await,
        400,
        "invalid_request",
    );

    let list = client.list_api_keys().await.unwrap();
    assert_eq!(list.items.len(), 2);
    let got = client.get_api_key(created.key.id).await.unwrap();
    assert_eq!(got.name, "deployer");
    assert_problem(
        client.get_api_key(Uuid::new_v4()).await,
        404,
        "api_key_not_found",
    );

    // Rotation: both secrets work during the grace period.
    let rotated = client
        .rotate_api_key(created.key.id, Some(Duration::from_secs(60)))
        .await
        .unwrap();
    assert_ne!(rotated.secret, created.secret);
    assert!(rotated.key.previous_valid_until.is_some());
    for secret in [&created.secret, &rotated.secret] {
        let c = server.builder().api_key(secret).build().unwrap();
        c.list_routes().await.unwrap();
    }

    let revoked = client.revoke_api_key(created.key.id).await.unwrap();
    assert!(revoked.revoked_at.is_some());
    let c = server.builder().api_key(&rotated.secret).build().unwrap();
    assert_problem(c.list_routes().await, 401, "invalid_credentials");
    assert_problem(
        client.rotate_api_key(created.key.id, None).await,
        409,
        "api_key_inactive",
    );
    assert_problem(
        client.revoke_api_key(Uuid::new_v4()).await,
        404,
        "api_key_not_found",
    );
}

#[tokio::test]
async fn function_versions_two_step_upload_and_rollback() {
    let server = TestServer::start().await;
    let client = server.admin();
    let hello = wasm_fixtures::hello();

    // Register, then PUT the binary to the signed URL.
    let registered = client
        .register_function(&metadata("two-step"))
        .await
        .unwrap();
    assert_eq!(registered.status, VersionStatus::PendingUpload);
    assert_problem(
        client
            .register_function(&metadata("not a valid name!"))
            .await,
        400,
        "invalid_request",
    );
    let sha = {
        use sha2::Digest;
        hex::encode(sha2::Sha256::digest(&hello))
    };
    let tampered = format!("{}0", registered.upload_url);
    assert_problem(
        client
            .upload_function_binary(&tampered, hello.clone(), Some(&sha))
            .await,
        403,
        "invalid_signature",
    );
    let v1 = client
        .upload_function_binary(&registered.upload_url, hello.clone(), Some(&sha))
        .await
        .unwrap();
    assert_eq!((v1.version, v1.status), (1, VersionStatus::Ready));
    assert_eq!(v1.sha256.as_deref(), Some(sha.as_str()));

    let v2 = client
        .upload_function(&metadata("two-step"), wasm_fixtures::numbered(2))
        .await
        .unwrap();
    let versions = client.list_function_versions(v1.id).await.unwrap();
    assert_eq!(
        versions.items.iter().map(|v| v.version).collect::<Vec<_>>(),
        vec![1, 2]
    );
    assert_eq!(
        client.get_function_version(v1.id, 2).await.unwrap().sha256,
        v2.sha256
    );
    assert_problem(
        client.get_function_version(v1.id, 99).await,
        404,
        "function_not_found",
    );
    assert_problem(
        client.list_function_versions(Uuid::new_v4()).await,
        404,
        "function_not_found",
    );

    // Rollback needs a live deployment.
    assert_problem(
        client.rollback_function(v1.id, None).await,
        409,
        "rollback_unavailable",
    );
    client
        .create_deployment(&deployment(v1.id, 2, ""))
        .await
        .unwrap();
    let rolled = client.rollback_function(v1.id, Some(1)).await.unwrap();
    assert_eq!(rolled.to_version, 1);
    assert!(rolled.entry.is_some());
    assert!(rolled.deployments.iter().all(|d| d.version == 1));
    // The same explicit rollback again changes nothing.
    let again = client.rollback_function(v1.id, Some(1)).await.unwrap();
    assert!(again.entry.is_none());
}
