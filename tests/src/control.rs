//! Operator-side helpers over the typed client: example functions, uploads, deployments,
//! routes.

use edgesync_client::Client;
use edgesync_client::wire::{
    CreateDeploymentRequest, DeploymentInfo, FunctionMetadata, FunctionVersionInfo, RouteInfo,
    RouteRequest,
};
use uuid::Uuid;

use crate::ServerProcess;

/// A module of `examples/functions/<name>.wat`, compiled.
pub fn example_wasm(name: &str) -> Vec<u8> {
    let path = format!(
        "{}/../examples/functions/{name}.wat",
        env!("CARGO_MANIFEST_DIR")
    );
    wat::parse_file(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// The typed client with the server's admin key.
pub fn operator(server: &ServerProcess) -> Client {
    Client::builder(server.url.clone())
        .api_key(server.admin_key())
        .build()
        .unwrap()
}

/// Function metadata with explicit limits.
pub fn metadata(
    name: &str,
    memory_pages: u32,
    max_execution_ms: u32,
    max_concurrency: u32,
) -> FunctionMetadata {
    FunctionMetadata {
        name: name.into(),
        entrypoint: "_start".into(),
        memory_pages,
        max_execution_ms,
        max_concurrency,
        description: String::new(),
    }
}

/// Uploads a module.
pub async fn upload(
    client: &Client,
    meta: &FunctionMetadata,
    wasm: Vec<u8>,
) -> FunctionVersionInfo {
    client.upload_function(meta, wasm).await.unwrap()
}

/// Deploys a version to the nodes `selector` picks (breaking changes allowed).
pub async fn deploy(
    client: &Client,
    function_id: Uuid,
    version: u32,
    selector: &str,
) -> DeploymentInfo {
    // From JSON, so that fields added to the request later keep their defaults here.
    let request: CreateDeploymentRequest = serde_json::from_value(serde_json::json!({
        "function_id": function_id,
        "version": version,
        "selector": selector,
        "allow_breaking": true,
    }))
    .unwrap();
    client.create_deployment(&request).await.unwrap()
}

/// Routes `methods path` (any host) to a function.
pub async fn route(client: &Client, path: &str, methods: &[&str], function_id: Uuid) -> RouteInfo {
    client
        .create_route(&RouteRequest {
            host: None,
            path: path.into(),
            methods: methods.iter().map(|m| (*m).to_owned()).collect(),
            function_id,
        })
        .await
        .unwrap()
}
