//! Sync plans: the ordered actions that take a node from what it runs to its target.

use serde::{Deserialize, Serialize};

use super::ids::{DeploymentId, FunctionId, NodeId, PlanId, RouteId};
use super::time::Timestamp;

/// A plan handed to a node.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SyncPlan {
    /// Identity; the node acknowledges with it.
    pub plan_id: PlanId,
    /// The node.
    pub node_id: NodeId,
    /// The target revision the node reaches by applying every action.
    pub revision: String,
    /// What to do, in order.
    pub actions: Vec<PlanAction>,
    /// When the plan was first handed out.
    pub issued_at: Timestamp,
}

/// One numbered action of a plan.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PlanAction {
    /// Index within the plan (0, 1, 2 …); results refer to it.
    pub id: u32,
    /// What to do.
    pub action: Action,
}

/// The kinds of action, in the order plans list them.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Action {
    /// Apply a schema migration to the node's local database.
    ApplyMigration {
        /// Migration version.
        version: u64,
        /// Its name.
        name: String,
        /// The SQL to run.
        up_sql: String,
        /// The migration's checksum, for the node's ledger.
        checksum: String,
    },
    /// Download (verify SHA-256) and install a function version.
    InstallFunction(InstallFunction),
    /// Replace the node's whole route table.
    SetRoutes {
        /// Revision of the table.
        revision: String,
        /// Every route the node serves.
        routes: Vec<RouteEntry>,
    },
    /// Stop running a function and drop it.
    RemoveFunction {
        /// The function.
        function_id: FunctionId,
    },
}

impl Action {
    /// The wire name of the kind.
    pub fn kind(&self) -> &'static str {
        match self {
            Action::ApplyMigration { .. } => "apply_migration",
            Action::InstallFunction(_) => "install_function",
            Action::SetRoutes { .. } => "set_routes",
            Action::RemoveFunction { .. } => "remove_function",
        }
    }

    /// A short description for history and logs.
    pub fn subject(&self) -> String {
        match self {
            Action::ApplyMigration { version, name, .. } => format!("migration {version} ({name})"),
            Action::InstallFunction(i) => format!("{}@{}", i.name, i.version),
            Action::SetRoutes { revision, routes } => {
                format!("{} routes (revision {revision})", routes.len())
            }
            Action::RemoveFunction { function_id } => format!("remove {function_id}"),
        }
    }
}

/// What a node needs to install one function version. The artifact URL is signed when the plan
/// is served, so it is not part of the stored plan.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct InstallFunction {
    /// The function.
    pub function_id: FunctionId,
    /// Its name.
    pub name: String,
    /// The version to run.
    pub version: u32,
    /// The deployment that chose this version.
    pub deployment_id: DeploymentId,
    /// Lowercase hex SHA-256 the downloaded bytes must have.
    pub sha256: String,
    /// Size in bytes.
    pub size: u64,
    /// Export to invoke.
    pub entrypoint: String,
    /// Memory limit in 64 KiB pages.
    pub memory_pages: u32,
    /// Time limit per invocation.
    pub max_execution_ms: u32,
    /// Concurrent invocations.
    pub max_concurrency: u32,
}

/// A route as a node receives it.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct RouteEntry {
    /// The route.
    pub route_id: RouteId,
    /// Host pattern, or any host.
    pub host: Option<String>,
    /// Path pattern.
    pub path: String,
    /// Methods (empty: all).
    pub methods: Vec<String>,
    /// The function serving it.
    pub function_id: FunctionId,
    /// The version the node runs.
    pub version: u32,
}

/// What a node reports for one action.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActionResult {
    /// The action's id in the plan.
    pub action_id: u32,
    /// Whether it succeeded.
    pub succeeded: bool,
    /// Machine-readable cause when it failed (e.g. `sha256_mismatch`).
    pub error_code: Option<String>,
    /// Human-readable error text when it failed.
    pub error: Option<String>,
}
