//! The HTTP API: one poem-openapi struct per resource, combined into one service.

pub mod api_keys;
pub mod artifacts;
pub mod auth;
pub mod commands;
mod convert;
pub mod deployments;
pub mod error;
pub mod functions;
pub mod health;
pub mod json;
pub mod nodes;
pub mod routes;
pub mod schemas;
pub mod sync;
pub mod telemetry;
pub mod upload;
pub mod uploads;

use edgesync_core::EdgeSync;
use poem_openapi::{OpenApiService, Tags};

/// Groups of operations in the OpenAPI document.
#[derive(Tags)]
pub enum ApiTags {
    /// Edge nodes: registration, heartbeats, status, labels.
    Nodes,
    /// WASM functions and their versions.
    Functions,
    /// Function versions running on the nodes a label selector picks.
    Deployments,
    /// Host and path patterns mapped to functions.
    Routes,
    /// Schema migrations for the nodes' local databases.
    Schemas,
    /// The sync loop: plans, acknowledgements, history and statistics.
    Sync,
    /// Binary downloads through signed URLs.
    Artifacts,
    /// Operator API keys: scopes, rotation, revocation.
    ApiKeys,
    /// Metrics and events nodes push.
    Telemetry,
    /// Commands queued for nodes.
    Commands,
    /// Liveness and readiness.
    Health,
}

/// Every API module, combined.
pub type Apis = (
    nodes::NodesApi,
    functions::FunctionsApi,
    deployments::DeploymentsApi,
    routes::RoutesApi,
    schemas::SchemasApi,
    sync::SyncApi,
    api_keys::ApiKeysApi,
    telemetry::TelemetryApi,
    commands::CommandsApi,
    artifacts::ArtifactsApi,
    uploads::UploadsApi,
    health::HealthApi,
);

/// The OpenAPI service over a control plane.
pub fn service(edgesync: &EdgeSync) -> OpenApiService<Apis, ()> {
    OpenApiService::new(
        (
            nodes::NodesApi {
                edgesync: edgesync.clone(),
            },
            functions::FunctionsApi {
                edgesync: edgesync.clone(),
            },
            deployments::DeploymentsApi {
                edgesync: edgesync.clone(),
            },
            routes::RoutesApi {
                edgesync: edgesync.clone(),
            },
            schemas::SchemasApi {
                edgesync: edgesync.clone(),
            },
            sync::SyncApi {
                edgesync: edgesync.clone(),
            },
            api_keys::ApiKeysApi {
                edgesync: edgesync.clone(),
            },
            telemetry::TelemetryApi {
                edgesync: edgesync.clone(),
            },
            commands::CommandsApi {
                edgesync: edgesync.clone(),
            },
            artifacts::ArtifactsApi {
                edgesync: edgesync.clone(),
            },
            uploads::UploadsApi {
                edgesync: edgesync.clone(),
            },
            health::HealthApi {
                edgesync: edgesync.clone(),
            },
        ),
        "EdgeSync",
        env!("CARGO_PKG_VERSION"),
    )
    .description(DESCRIPTION)
}

const DESCRIPTION: &str = "The control plane of a fleet of edge nodes that run WebAssembly \
functions.\n\nOperator endpoints take an API key (`Authorization: Bearer esk_…`); node \
endpoints take the node's token from registration (`Authorization: Bearer <JWT>`). Every error \
is `application/problem+json` with a stable `code`, a `retryable` flag and the `request_id`.";
