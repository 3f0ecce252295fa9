//! The domain model: every entity the control plane keeps, with its validation.

pub mod api_key;
pub mod command;
pub mod deployment;
pub mod function;
pub mod ids;
pub mod node;
pub mod plan;
pub mod presence;
pub mod route;
pub mod schema;
pub mod settings;
pub mod sync;
pub mod telemetry;
pub mod time;
pub mod validate;

pub use api_key::{ApiKey, Scope};
pub use command::{Command, CommandStatus};
pub use deployment::{
    Deployment, DeploymentStatus, NodeDeployment, NodeDeploymentState, Rollout, Strategy,
    StrategyKind,
};
pub use function::{
    Compatibility, CompatibilityStatus, Function, FunctionSpec, FunctionVersion, ModuleItem,
    ModuleSummary, RollbackEntry, VersionStatus,
};
pub use ids::*;
pub use node::{
    Node, NodeLifecycle, NodeRegistration, NodeState, NodeStatus, NodeUpdate, ReportedState,
    ResourceUsage, RunningFunction,
};
pub use plan::{Action, ActionResult, InstallFunction, PlanAction, RouteEntry, SyncPlan};
pub use presence::{PRESENCE_BUCKETS, PresenceBucket, PresenceEntry, presence_bucket};
pub use route::Route;
pub use schema::{NewSchemaMigration, SchemaMigration};
pub use settings::{Bootstrap, ClusterEpoch, JobLease, ServerSecrets, Setting};
pub use sync::{SyncRecord, SyncStatus};
pub use telemetry::TelemetryPoint;
pub use time::Timestamp;
