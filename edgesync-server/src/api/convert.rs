//! Conversions between the domain model and the wire types.

use edgesync_core::control::{
    Ack, AckOutcome, DeploymentDetail, FunctionDetail, NodeView, PendingUpload, RollbackOutcome,
    RouteSpec, ServedAction, ServedPlan, SyncStats,
};
use edgesync_core::model as m;
use edgesync_core::{Error, Result};
use edgesync_wire as w;
use uuid::Uuid;

pub(crate) fn node_status(s: m::NodeStatus) -> w::NodeStatus {
    match s {
        m::NodeStatus::Online => w::NodeStatus::Online,
        m::NodeStatus::Offline => w::NodeStatus::Offline,
        m::NodeStatus::Draining => w::NodeStatus::Draining,
        m::NodeStatus::Decommissioned => w::NodeStatus::Decommissioned,
    }
}

pub(crate) fn node_status_from_wire(s: w::NodeStatus) -> m::NodeStatus {
    match s {
        w::NodeStatus::Online => m::NodeStatus::Online,
        w::NodeStatus::Offline => m::NodeStatus::Offline,
        w::NodeStatus::Draining => m::NodeStatus::Draining,
        w::NodeStatus::Decommissioned => m::NodeStatus::Decommissioned,
    }
}

pub(crate) fn lifecycle(l: m::NodeLifecycle) -> w::NodeLifecycle {
    match l {
        m::NodeLifecycle::Active => w::NodeLifecycle::Active,
        m::NodeLifecycle::Draining => w::NodeLifecycle::Draining,
        m::NodeLifecycle::Decommissioned => w::NodeLifecycle::Decommissioned,
    }
}

pub(crate) fn lifecycle_from_wire(l: w::NodeLifecycle) -> m::NodeLifecycle {
    match l {
        w::NodeLifecycle::Active => m::NodeLifecycle::Active,
        w::NodeLifecycle::Draining => m::NodeLifecycle::Draining,
        w::NodeLifecycle::Decommissioned => m::NodeLifecycle::Decommissioned,
    }
}

pub(crate) fn reported(r: &m::ReportedState) -> w::ReportedState {
    w::ReportedState {
        functions: r
            .functions
            .iter()
            .map(|f| w::RunningFunction {
                function_id: *f.function_id.as_uuid(),
                version: f.version,
            })
            .collect(),
        schema_version: r.schema_version,
        routes_revision: r.routes_revision.clone(),
        sync_revision: r.sync_revision.clone(),
        resources: w::ResourceUsage {
            cpu_percent: r.resources.cpu_percent,
            memory_bytes: r.resources.memory_bytes,
            disk_bytes: r.resources.disk_bytes,
        },
    }
}

pub(crate) fn reported_from_wire(r: w::ReportedState) -> m::ReportedState {
    m::ReportedState {
        functions: r
            .functions
            .into_iter()
            .map(|f| m::RunningFunction {
                function_id: m::FunctionId::from_uuid(f.function_id),
                version: f.version,
            })
            .collect(),
        schema_version: r.schema_version,
        routes_revision: r.routes_revision,
        sync_revision: r.sync_revision,
        resources: m::ResourceUsage {
            cpu_percent: r.resources.cpu_percent,
            memory_bytes: r.resources.memory_bytes,
            disk_bytes: r.resources.disk_bytes,
        },
    }
}

pub(crate) fn node_info(v: &NodeView) -> w::NodeInfo {
    let n = &v.node;
    w::NodeInfo {
        id: *n.id.as_uuid(),
        name: n.name.clone(),
        pop: n.pop.clone(),
        region: n.region.clone(),
        labels: n.labels.clone(),
        agent_version: n.agent_version.clone(),
        capabilities: n.capabilities.clone(),
        memory_budget_bytes: n.memory_budget_bytes,
        status: node_status(v.status),
        lifecycle: lifecycle(n.lifecycle),
        last_seen_at: v.last_seen_at.map(Into::into),
        registered_at: n.registered_at.into(),
        updated_at: n.updated_at.into(),
        reported: reported(&v.reported),
        revision: v.revision,
    }
}

fn item(i: &m::ModuleItem) -> w::ModuleItem {
    w::ModuleItem {
        module: i.module.clone(),
        name: i.name.clone(),
        kind: i.kind.clone(),
        signature: i.signature.clone(),
    }
}

pub(crate) fn version_info(f: &m::Function, v: &m::FunctionVersion) -> w::FunctionVersionInfo {
    let module = v.module.clone().unwrap_or_default();
    w::FunctionVersionInfo {
        id: *f.id.as_uuid(),
        name: f.name.clone(),
        version: v.version,
        status: match v.status {
            m::VersionStatus::PendingUpload => w::VersionStatus::PendingUpload,
            m::VersionStatus::Ready => w::VersionStatus::Ready,
            m::VersionStatus::Rejected => w::VersionStatus::Rejected,
        },
        sha256: v.sha256.clone(),
        size: v.size,
        entrypoint: v.spec.entrypoint.clone(),
        memory_pages: v.spec.memory_pages,
        max_execution_ms: v.spec.max_execution_ms,
        max_concurrency: v.spec.max_concurrency,
        description: v.spec.description.clone(),
        rejection: v.rejection.clone(),
        compatibility: v.compatibility.as_ref().map(compatibility),
        upload_expires_at: v.upload_expires_at.map(Into::into),
        exports: module.exports.iter().map(item).collect(),
        imports: module.imports.iter().map(item).collect(),
        created_at: v.created_at.into(),
    }
}

pub(crate) fn function_info(d: &FunctionDetail) -> w::FunctionInfo {
    w::FunctionInfo {
        id: *d.function.id.as_uuid(),
        name: d.function.name.clone(),
        latest_version: d.function.latest_version,
        created_at: d.function.created_at.into(),
        updated_at: d.function.updated_at.into(),
        versions: d
            .versions
            .iter()
            .map(|v| version_info(&d.function, v))
            .collect(),
        rollbacks: d.function.rollbacks.iter().map(rollback_entry).collect(),
    }
}

fn compatibility(c: &m::Compatibility) -> w::CompatibilityInfo {
    w::CompatibilityInfo {
        status: match c.status {
            m::CompatibilityStatus::Compatible => w::CompatibilityStatus::Compatible,
            m::CompatibilityStatus::Breaking => w::CompatibilityStatus::Breaking,
            m::CompatibilityStatus::First => w::CompatibilityStatus::First,
        },
        against_version: c.against_version,
        reasons: c.reasons.clone(),
    }
}

fn rollback_entry(e: &m::RollbackEntry) -> w::RollbackEntry {
    w::RollbackEntry {
        from_versions: e.from_versions.clone(),
        to_version: e.to_version,
        deployments: e.deployments.iter().map(|d| *d.as_uuid()).collect(),
        by: e.by.clone(),
        at: e.at.into(),
    }
}

pub(crate) fn registered(p: &PendingUpload) -> w::RegisteredFunction {
    w::RegisteredFunction {
        id: *p.function.id.as_uuid(),
        name: p.function.name.clone(),
        version: p.version.version,
        status: w::VersionStatus::PendingUpload,
        upload_url: p.upload_url.clone(),
        expires_at: p.expires_at.into(),
        max_size_bytes: p.max_size_bytes,
    }
}

pub(crate) fn rollback(o: &RollbackOutcome) -> w::RollbackResponse {
    w::RollbackResponse {
        function_id: *o.function_id.as_uuid(),
        to_version: o.to_version,
        entry: o.entry.as_ref().map(rollback_entry),
        deployments: o.deployments.iter().map(deployment_summary).collect(),
    }
}

pub(crate) fn function_summary(f: &m::Function) -> w::FunctionSummary {
    w::FunctionSummary {
        id: *f.id.as_uuid(),
        name: f.name.clone(),
        latest_version: f.latest_version,
        updated_at: f.updated_at.into(),
    }
}

pub(crate) fn spec_from_wire(meta: w::FunctionMetadata) -> m::FunctionSpec {
    m::FunctionSpec {
        name: meta.name,
        entrypoint: meta.entrypoint,
        memory_pages: meta.memory_pages,
        max_execution_ms: meta.max_execution_ms,
        max_concurrency: meta.max_concurrency,
        description: meta.description,
    }
}

pub(crate) fn uuid_of<T: Into<Uuid>>(id: T) -> Uuid {
    id.into()
}

pub(crate) fn migration(v: &m::SchemaMigration) -> w::MigrationInfo {
    w::MigrationInfo {
        version: v.version,
        name: v.name.clone(),
        up_sql: v.up_sql.clone(),
        down_sql: v.down_sql.clone(),
        checksum: v.checksum.clone(),
        created_at: v.created_at.into(),
    }
}

pub(crate) fn migration_from_wire(r: w::CreateMigrationRequest) -> m::NewSchemaMigration {
    m::NewSchemaMigration {
        version: r.version,
        name: r.name,
        up_sql: r.up_sql,
        down_sql: r.down_sql,
    }
}

pub(crate) fn route(r: &m::Route) -> w::RouteInfo {
    w::RouteInfo {
        id: *r.id.as_uuid(),
        host: r.host.clone(),
        path: r.path.clone(),
        methods: r.methods.clone(),
        function_id: *r.function_id.as_uuid(),
        created_at: r.created_at.into(),
        updated_at: r.updated_at.into(),
    }
}

pub(crate) fn route_spec_from_wire(r: w::RouteRequest) -> RouteSpec {
    RouteSpec {
        host: r.host,
        path: r.path,
        methods: r.methods,
        function_id: m::FunctionId::from_uuid(r.function_id),
    }
}

fn deployment_status(s: m::DeploymentStatus) -> w::DeploymentStatus {
    match s {
        m::DeploymentStatus::InProgress => w::DeploymentStatus::InProgress,
        m::DeploymentStatus::Paused => w::DeploymentStatus::Paused,
        m::DeploymentStatus::Halted => w::DeploymentStatus::Halted,
        m::DeploymentStatus::Completed => w::DeploymentStatus::Completed,
        m::DeploymentStatus::RolledBack => w::DeploymentStatus::RolledBack,
        m::DeploymentStatus::Aborted => w::DeploymentStatus::Aborted,
    }
}

pub(crate) fn strategy_from_wire(s: w::RolloutStrategy) -> m::Strategy {
    m::Strategy {
        kind: match s.kind {
            w::StrategyKind::All => m::StrategyKind::All,
            w::StrategyKind::Batches => m::StrategyKind::Batches,
            w::StrategyKind::Canary => m::StrategyKind::Canary,
        },
        batch_size: s.batch_size,
        batch_percent: s.batch_percent,
        order_by: s.order_by,
        max_failure_ratio: s.max_failure_ratio,
        min_executed: s.min_executed,
        batch_timeout_s: s.batch_timeout_s,
        bake_s: s.bake_s,
        max_per_minute: s.max_per_minute,
        auto_rollback: s.auto_rollback,
        max_retries: s.max_retries,
    }
}

fn strategy(s: &m::Strategy) -> w::RolloutStrategy {
    w::RolloutStrategy {
        kind: match s.kind {
            m::StrategyKind::All => w::StrategyKind::All,
            m::StrategyKind::Batches => w::StrategyKind::Batches,
            m::StrategyKind::Canary => w::StrategyKind::Canary,
        },
        batch_size: s.batch_size,
        batch_percent: s.batch_percent,
        order_by: s.order_by.clone(),
        max_failure_ratio: s.max_failure_ratio,
        min_executed: s.min_executed,
        batch_timeout_s: s.batch_timeout_s,
        bake_s: s.bake_s,
        max_per_minute: s.max_per_minute,
        auto_rollback: s.auto_rollback,
        max_retries: s.max_retries,
    }
}

pub(crate) fn preview(p: &edgesync_core::control::Preview) -> w::DeploymentPreview {
    w::DeploymentPreview {
        nodes: p
            .nodes
            .iter()
            .map(|n| w::PreviewNode {
                node_id: *n.node_id.as_uuid(),
                node_name: n.node_name.clone(),
                wins: n.wins,
                winner: n.winner.map(Into::into),
                competing: n.competing.iter().map(|c| (*c).into()).collect(),
                batch: n.batch,
                plan: n.plan.iter().map(|a| a.kind().to_owned()).collect(),
                plan_hash: n.plan_hash.clone(),
            })
            .collect(),
        batches: p
            .batches
            .iter()
            .map(|b| b.iter().map(|n| (*n).into()).collect())
            .collect(),
    }
}

fn node_deployment_state(s: m::NodeDeploymentState) -> w::NodeDeploymentState {
    match s {
        m::NodeDeploymentState::Pending => w::NodeDeploymentState::Pending,
        m::NodeDeploymentState::Installing => w::NodeDeploymentState::Installing,
        m::NodeDeploymentState::Active => w::NodeDeploymentState::Active,
        m::NodeDeploymentState::Failed => w::NodeDeploymentState::Failed,
        m::NodeDeploymentState::Removed => w::NodeDeploymentState::Removed,
        m::NodeDeploymentState::RolledBack => w::NodeDeploymentState::RolledBack,
    }
}

/// The list view: the deployment with its counts, without the per-node list.
pub(crate) fn deployment_summary(d: &DeploymentDetail) -> w::DeploymentSummary {
    let count = |state| d.count(state) as u64;
    let dep = &d.deployment;
    w::DeploymentSummary {
        id: *dep.id.as_uuid(),
        name: dep.name.clone(),
        function_id: *dep.function_id.as_uuid(),
        version: dep.version,
        selector: dep.selector.to_string(),
        pop: dep.pop.clone(),
        priority: dep.priority,
        status: deployment_status(d.status),
        status_reason: dep.status_reason.clone(),
        created_at: dep.created_at.into(),
        updated_at: dep.updated_at.into(),
        counts: w::DeploymentCounts {
            targeted: (d.nodes.len()
                - d.count(m::NodeDeploymentState::Removed)
                - d.count(m::NodeDeploymentState::RolledBack)) as u64,
            pending: count(m::NodeDeploymentState::Pending),
            installing: count(m::NodeDeploymentState::Installing),
            active: count(m::NodeDeploymentState::Active),
            failed: count(m::NodeDeploymentState::Failed),
            removed: count(m::NodeDeploymentState::Removed),
            rolled_back: count(m::NodeDeploymentState::RolledBack),
        },
        failure_reasons: d.failure_reasons(),
        strategy: strategy(&dep.strategy),
        rollout: w::RolloutProgress {
            batches: dep.rollout.batches.len() as u32,
            released: dep.rollout.released,
            batch_sizes: dep.rollout.batches.iter().map(|b| b.len() as u32).collect(),
            excluded: dep.rollout.excluded.len() as u32,
        },
    }
}

/// The detail view: the summary plus every node.
pub(crate) fn deployment_info(d: &DeploymentDetail) -> w::DeploymentInfo {
    w::DeploymentInfo {
        deployment: deployment_summary(d),
        nodes: d
            .nodes
            .iter()
            .map(|n| w::DeploymentNode {
                node_id: *n.node_id.as_uuid(),
                node_name: n.node_name.clone(),
                state: node_deployment_state(n.state),
                error: n.error.clone(),
                error_code: n.error_code.clone(),
                attempts: n.attempts,
                updated_at: n.updated_at.map(Into::into),
                batch: n.batch,
                observed_at: n.observed_at.map(Into::into),
            })
            .collect(),
    }
}

fn route_entry(r: &m::RouteEntry) -> w::RouteEntry {
    w::RouteEntry {
        route_id: *r.route_id.as_uuid(),
        host: r.host.clone(),
        path: r.path.clone(),
        methods: r.methods.clone(),
        function_id: *r.function_id.as_uuid(),
        version: r.version,
    }
}

fn sync_action(served: &ServedAction) -> Result<w::SyncAction> {
    let id = served.action.id;
    Ok(match &served.action.action {
        m::Action::ApplyMigration {
            version,
            name,
            up_sql,
            checksum,
        } => w::SyncAction::ApplyMigration(w::ApplyMigrationAction {
            id,
            version: *version,
            name: name.clone(),
            up_sql: up_sql.clone(),
            checksum: checksum.clone(),
        }),
        m::Action::InstallFunction(i) => {
            let artifact_url = served.artifact_url.clone().ok_or_else(|| {
                Error::internal(format!("install action {id} was served without a URL"))
            })?;
            w::SyncAction::InstallFunction(w::InstallFunctionAction {
                id,
                function_id: *i.function_id.as_uuid(),
                name: i.name.clone(),
                version: i.version,
                deployment_id: *i.deployment_id.as_uuid(),
                artifact_url,
                sha256: i.sha256.clone(),
                size: i.size,
                entrypoint: i.entrypoint.clone(),
                memory_pages: i.memory_pages,
                max_execution_ms: i.max_execution_ms,
                max_concurrency: i.max_concurrency,
            })
        }
        m::Action::SetRoutes { revision, routes } => w::SyncAction::SetRoutes(w::SetRoutesAction {
            id,
            revision: revision.clone(),
            routes: routes.iter().map(route_entry).collect(),
        }),
        m::Action::RemoveFunction { function_id } => {
            w::SyncAction::RemoveFunction(w::RemoveFunctionAction {
                id,
                function_id: *function_id.as_uuid(),
            })
        }
    })
}

pub(crate) fn sync_plan(p: &ServedPlan) -> Result<w::SyncPlan> {
    Ok(w::SyncPlan {
        plan_id: *p.plan_id.as_uuid(),
        revision: p.revision.clone(),
        actions: p.actions.iter().map(sync_action).collect::<Result<_>>()?,
    })
}

pub(crate) fn ack_from_wire(r: w::SyncAckRequest) -> Ack {
    Ack {
        plan_id: m::PlanId::from_uuid(r.plan_id),
        results: r
            .results
            .into_iter()
            .map(|r| m::ActionResult {
                action_id: r.action_id,
                succeeded: r.status == w::ActionStatus::Succeeded,
                error_code: r.error_code,
                error: r.error,
            })
            .collect(),
        state: r.state.map(reported_from_wire),
    }
}

fn sync_status(s: m::SyncStatus) -> w::SyncStatus {
    match s {
        m::SyncStatus::Pending => w::SyncStatus::Pending,
        m::SyncStatus::Succeeded => w::SyncStatus::Succeeded,
        m::SyncStatus::Partial => w::SyncStatus::Partial,
        m::SyncStatus::Failed => w::SyncStatus::Failed,
        m::SyncStatus::Superseded => w::SyncStatus::Superseded,
    }
}

pub(crate) fn ack_outcome(o: &AckOutcome) -> w::SyncAckResponse {
    w::SyncAckResponse {
        sync_id: *o.sync_id.as_uuid(),
        status: sync_status(o.status),
        revision: o.revision.clone(),
        reached_revision: o.reached_revision.clone(),
        applied: o.applied,
    }
}

fn action_kind(a: &m::Action) -> w::ActionKind {
    match a {
        m::Action::ApplyMigration { .. } => w::ActionKind::ApplyMigration,
        m::Action::InstallFunction(_) => w::ActionKind::InstallFunction,
        m::Action::SetRoutes { .. } => w::ActionKind::SetRoutes,
        m::Action::RemoveFunction { .. } => w::ActionKind::RemoveFunction,
    }
}

pub(crate) fn sync_record(r: &m::SyncRecord) -> w::SyncRecordInfo {
    w::SyncRecordInfo {
        id: *r.id.as_uuid(),
        plan_id: *r.plan_id.as_uuid(),
        revision: r.revision.clone(),
        status: sync_status(r.status),
        planned_at: r.planned_at.into(),
        acked_at: r.acked_at.map(Into::into),
        duration_ms: r
            .duration()
            .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX)),
        actions: r
            .actions
            .iter()
            .map(|pa| {
                let result = r.results.iter().find(|res| res.action_id == pa.id);
                w::SyncRecordAction {
                    id: pa.id,
                    kind: action_kind(&pa.action),
                    subject: pa.action.subject(),
                    status: result.map(|res| {
                        if res.succeeded {
                            w::ActionStatus::Succeeded
                        } else {
                            w::ActionStatus::Failed
                        }
                    }),
                    error: result.and_then(|res| res.error.clone()),
                    error_code: result.and_then(|res| res.error_code.clone()),
                }
            })
            .collect(),
    }
}

pub(crate) fn sync_stats(s: &SyncStats) -> w::SyncStats {
    w::SyncStats {
        // The core always sets the window's start.
        since: s.since.unwrap_or(m::Timestamp::UNIX_EPOCH).into(),
        total: s.total,
        succeeded: s.succeeded,
        partial: s.partial,
        failed: s.failed,
        pending: s.pending,
        success_rate: s.success_rate,
        failures_by_code: s.failures_by_code.clone(),
        duration_ms: w::DurationPercentiles {
            p50: s.duration_ms.p50,
            p90: s.duration_ms.p90,
            p99: s.duration_ms.p99,
            max: s.duration_ms.max,
        },
    }
}
