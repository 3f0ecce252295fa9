//! The authorization matrix: EVERY operation in the OpenAPI document, called with no
//! credentials, a wrong key, an expired key, a revoked key, a key lacking the scope, a node
//! token and another node's token, is refused with 401/403 and changes nothing; the right
//! credential gets past authentication.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use common::{Harness, json_of};
use edgesync_core::control::NewApiKey;
use edgesync_core::model::Scope;
use edgesync_core::store::{Collection, StoreExt};
use serde_json::{Value, json};

/// What each operation requires. A new operation must be added here, or the test fails.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Needs {
    Scope(Scope),
    /// The token of the node in the path.
    OwnNode,
    /// No header: the request carries its own credential (a signed URL, a refresh secret) or
    /// none (health).
    Open,
}

fn table() -> BTreeMap<&'static str, Needs> {
    use Needs::{Open, OwnNode};
    use Scope::{Admin, Deploy, NodesRegister, Read};
    let scope = Needs::Scope;
    BTreeMap::from([
        ("register_node", scope(NodesRegister)),
        ("node_heartbeat", OwnNode),
        ("refresh_node_token", OwnNode),
        ("refresh_node_token_with_secret", Open),
        ("reissue_node_credentials", scope(Admin)),
        ("get_node", scope(Read)),
        ("list_nodes", scope(Read)),
        ("update_node", scope(Admin)),
        ("upload_function", scope(Deploy)),
        ("list_functions", scope(Read)),
        ("get_function", scope(Read)),
        ("download_function", scope(Read)),
        ("delete_function", scope(Deploy)),
        ("delete_function_version", scope(Deploy)),
        ("register_function", scope(Deploy)),
        ("list_function_versions", scope(Read)),
        ("get_function_version", scope(Read)),
        ("rollback_function", scope(Deploy)),
        ("upload_function_binary", Open),
        ("create_deployment", scope(Deploy)),
        ("list_deployments", scope(Read)),
        ("get_deployment", scope(Read)),
        ("delete_deployment", scope(Deploy)),
        ("pause_deployment", scope(Deploy)),
        ("resume_deployment", scope(Deploy)),
        ("abort_deployment", scope(Deploy)),
        ("create_route", scope(Deploy)),
        ("list_routes", scope(Read)),
        ("get_route", scope(Read)),
        ("update_route", scope(Deploy)),
        ("delete_route", scope(Deploy)),
        ("create_migration", scope(Deploy)),
        ("list_migrations", scope(Read)),
        ("get_sync_plan", OwnNode),
        ("ack_sync_plan", OwnNode),
        ("node_sync_history", scope(Read)),
        ("sync_stats", scope(Read)),
        ("create_api_key", scope(Admin)),
        ("list_api_keys", scope(Admin)),
        ("get_api_key", scope(Admin)),
        ("revoke_api_key", scope(Admin)),
        ("rotate_api_key", scope(Admin)),
        ("push_telemetry", OwnNode),
        ("query_telemetry", scope(Read)),
        ("queue_command", scope(Deploy)),
        ("receive_commands", OwnNode),
        ("report_command_result", OwnNode),
        ("cancel_command", scope(Deploy)),
        ("get_command", scope(Read)),
        ("list_commands", scope(Read)),
        ("get_artifact", Open),
        ("health", Open),
        ("ready", Open),
    ])
}

/// Counts of every kind of record: "nothing changed" means these are equal.
async fn snapshot(h: &Harness) -> Vec<usize> {
    let store = h.edgesync.store();
    let mut counts = Vec::new();
    for c in [
        Collection::Nodes,
        Collection::Functions,
        Collection::FunctionVersions { function_id: None },
        Collection::Migrations,
        Collection::Deployments,
        Collection::NodeDeployments {
            deployment_id: None,
        },
        Collection::Routes,
        Collection::SyncRecords { node_id: None },
        Collection::ApiKeys,
    ] {
        counts.push(store.list_all(c).await.unwrap().len());
    }
    let keys: Vec<String> = h
        .edgesync
        .api_keys()
        .iter()
        .map(|k| {
            format!(
                "{}{:?}{:?}",
                k.secret_sha256, k.revoked_at, k.previous_secret_sha256
            )
        })
        .collect();
    counts.push(keys.join(",").len());
    let nodes: Vec<u64> = h
        .edgesync
        .list_nodes(&Default::default())
        .unwrap()
        .0
        .iter()
        .map(|n| n.revision + n.node.credential_generation)
        .collect();
    counts.push(nodes.iter().sum::<u64>() as usize);
    counts
}

fn body_for(op: &str) -> Option<Value> {
    Some(match op {
        "register_node" => json!({"name": "matrix-new", "pop": "fra"}),
        "node_heartbeat" => json!({}),
        "refresh_node_token_with_secret" => json!({"refresh_token": "esr_wrong"}),
        "update_node" => json!({"labels": {"x": "y"}}),
        "create_deployment" => json!({"function_id": uuid::Uuid::new_v4(), "version": 1}),
        "register_function" => json!({"name": "matrix-registered"}),
        "rollback_function" => json!({}),
        "create_route" | "update_route" => {
            json!({"path": "/m", "function_id": uuid::Uuid::new_v4()})
        }
        "create_migration" => json!({"version": 9, "name": "m", "up_sql": "SELECT 1"}),
        "ack_sync_plan" => json!({"plan_id": uuid::Uuid::new_v4(), "results": []}),
        "create_api_key" => json!({"name": "m", "scopes": ["read"]}),
        "push_telemetry" => {
            json!({"points": [{"metric": "m", "value": 1.0, "ts": "2026-11-30T00:00:00Z"}]})
        }
        "queue_command" => json!({"kind": "flush_cache"}),
        "report_command_result" => json!({"status": "succeeded"}),
        "rotate_api_key" => json!({}),
        _ => return None,
    })
}

#[tokio::test]
async fn every_operation_refuses_the_wrong_credentials_and_changes_nothing() {
    let h = Harness::new().await;
    let spec: Value =
        serde_json::from_str(&edgesync_server::openapi_json().await.unwrap()).unwrap();
    let table = table();

    // The cast: keys of every scope, an expired and a revoked key, two nodes.
    let mut keys = BTreeMap::new();
    for scope in Scope::ALL {
        let (_, s) = h
            .edgesync
            .create_api_key(NewApiKey {
                name: format!("k-{}", scope.as_str().replace(':', "-")),
                scopes: vec![scope],
                expires_at: None,
                require_signature: false,
            })
            .await
            .unwrap();
        keys.insert(scope, s.secret);
    }
    let now = edgesync_core::Clock::now(h.clock.as_ref());
    let (_, expired) = h
        .edgesync
        .create_api_key(NewApiKey {
            name: "expired".into(),
            scopes: vec![Scope::Admin],
            expires_at: Some(now.plus(Duration::from_secs(1))),
            require_signature: false,
        })
        .await
        .unwrap();
    let (revoked_key, revoked) = h
        .edgesync
        .create_api_key(NewApiKey {
            name: "revoked".into(),
            scopes: vec![Scope::Admin],
            expires_at: None,
            require_signature: false,
        })
        .await
        .unwrap();
    h.edgesync.revoke_api_key(revoked_key.id).await.unwrap();
    let (node_a, token_a) = h.register("matrix-a", json!({})).await;
    let (_, token_b) = h.register("matrix-b", json!({})).await;
    // Reissuing credentials revokes the node's tokens: that happy path runs on its own node.
    let (node_c, _) = h.register("matrix-c", json!({})).await;
    h.clock.advance(Duration::from_secs(2));
    let wrong = format!("esk_{}", "Z".repeat(43));

    let mut seen = Vec::new();
    for (path, item) in spec["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            let op_id = op["operationId"].as_str().unwrap();
            seen.push(op_id.to_owned());
            let needs = *table
                .get(op_id)
                .unwrap_or_else(|| panic!("{op_id} is missing from the authorization table"));
            let subject = if op_id == "reissue_node_credentials" {
                &node_c
            } else {
                &node_a
            };
            let url = path
                .replace("{id}", subject)
                .replace("{sha256}", &"0".repeat(64))
                .replace("{version}", "1")
                .replace("{cid}", &uuid::Uuid::new_v4().to_string());
            // Operations on other resources than nodes get a random id (404 after auth is fine).
            let url = if path.starts_with("/api/v1/nodes/") {
                url
            } else {
                url.replace(subject.as_str(), &uuid::Uuid::new_v4().to_string())
            };
            let call = |auth: Option<String>| {
                let mut req = match method.as_str() {
                    "get" => h.client.get(&url),
                    "post" => h.client.post(&url),
                    "put" => h.client.put(&url),
                    "patch" => h.client.patch(&url),
                    "delete" => h.client.delete(&url),
                    other => panic!("unexpected method {other}"),
                };
                if let Some(a) = auth {
                    req = req.header("Authorization", format!("Bearer {a}"));
                }
                if op_id == "upload_function" {
                    let (ct, body) = common::multipart(
                        &json!({"name": "matrix-fn"}),
                        &edgesync_core::testkit::wasm_fixtures::hello(),
                    );
                    req = req.content_type(ct).body(body);
                } else if let Some(b) = body_for(op_id) {
                    req = req.body_json(&b);
                }
                req.send()
            };
            let refused = |status: u16| status == 401 || status == 403;

            if let Needs::Open = needs {
                continue;
            }
            let mut attempts: Vec<(&str, Option<String>)> = vec![
                ("no credentials", None),
                ("a wrong key", Some(wrong.clone())),
                ("an expired key", Some(expired.secret.clone())),
                ("a revoked key", Some(revoked.secret.clone())),
            ];
            match needs {
                Needs::Scope(scope) => {
                    for (s, secret) in &keys {
                        if !s.grants(scope) {
                            attempts.push(("a key lacking the scope", Some(secret.clone())));
                        }
                    }
                    attempts.push(("a node token", Some(token_a.clone())));
                }
                Needs::OwnNode => {
                    attempts.push(("another node's token", Some(token_b.clone())));
                    attempts.push(("an admin key", Some(keys[&Scope::Admin].clone())));
                }
                Needs::Open => unreachable!(),
            }
            for (what, cred) in attempts {
                let before = snapshot(&h).await;
                let resp = call(cred).await;
                let status = resp.0.status().as_u16();
                let body = json_of(resp).await;
                assert!(
                    refused(status),
                    "{method} {path} ({op_id}) with {what} answered {status}: {body}"
                );
                assert!(
                    body["code"].is_string(),
                    "{op_id}: not a problem body: {body}"
                );
                assert_eq!(
                    snapshot(&h).await,
                    before,
                    "{op_id} with {what} changed something"
                );
            }
            // The right credential gets past authentication.
            let right = match needs {
                Needs::Scope(scope) => keys[&scope].clone(),
                Needs::OwnNode => token_a.clone(),
                Needs::Open => unreachable!(),
            };
            let status = call(Some(right)).await.0.status().as_u16();
            assert!(
                !refused(status),
                "{method} {path} ({op_id}) refused the right credential: {status}"
            );
        }
    }
    let missing: Vec<_> = table
        .keys()
        .filter(|k| !seen.iter().any(|s| s == *k))
        .collect();
    assert!(
        missing.is_empty(),
        "the table names operations the document lacks: {missing:?}"
    );
}
