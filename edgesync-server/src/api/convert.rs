//! Conversions between the domain model and the wire types.

use edgesync_core::control::{FunctionDetail, NodeView};
use edgesync_core::model as m;
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
