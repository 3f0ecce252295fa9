//! `planner`: desired state (`desired::target_for` / `targets_for` over a `Catalog`) against
//! reported state (`planner::plan`, `number`, `apply`).
//!
//! Input: an `arbitrary` description of a small, valid-shaped world: up to 4 functions with
//! versions 1–3 (ready or not), deployments with selectors, POPs, priorities, statuses and
//! rollout batches, routes, ascending migrations, 1–3 nodes, and what one node reports (one
//! version per function, a schema version, a routes revision) and which actions succeed.
//!
//! Checked, besides "never panics":
//! * `targets_for` (which shares one computation between look-alike nodes) gives each node
//!   exactly `target_for`'s target; targets are deterministic;
//! * a plan lists migrations (ascending, within the node's and the target's schema versions),
//!   then installs, then at most one route table, then removals; nothing twice, nothing both
//!   installed and removed; `number` numbers 0, 1, 2 …;
//! * applying a whole plan reaches the target (its functions, routes revision and revision) and
//!   planning again gives nothing; applying it a second time changes nothing;
//! * after a partial success, the next plan only holds actions of the first one.
#![no_main]

use std::collections::{BTreeMap, BTreeSet};

use arbitrary::Arbitrary;
use edgesync_core::desired::{Catalog, target_for, targets_for};
use edgesync_core::model::{
    Action, ActionResult, Deployment, DeploymentId, DeploymentStatus, FunctionId, FunctionSpec,
    FunctionVersion, Node, NodeId, NodeLifecycle, ReportedState, Rollout, Route, RouteId,
    RunningFunction, SchemaMigration, Strategy, StrategyKind, Timestamp, VersionStatus,
};
use edgesync_core::planner::{apply, number, plan};
use edgesync_core::selector::Selector;
use libfuzzer_sys::fuzz_target;
use uuid::Uuid;

const FUNCTIONS: u8 = 4;
const SELECTORS: [&str; 8] = [
    "",
    "tier=edge",
    "tier!=edge",
    "region in (eu,us)",
    "region notin (us)",
    "canary",
    "!canary",
    "tier=core,region=eu",
];
const PATHS: [&str; 5] = ["/", "/a", "/a/:id", "/static/...", "/a/b"];
const POPS: [&str; 2] = ["fra1", "ams1"];

#[derive(Arbitrary, Debug)]
struct World {
    versions: Vec<VersionIn>,
    deployments: Vec<DeploymentIn>,
    routes: Vec<RouteIn>,
    /// Bit `i` registers migration `i + 1`.
    migrations: u8,
    nodes: Vec<NodeIn>,
    /// What the first node reports.
    reported: ReportedIn,
    /// Which numbered actions succeed, by bit (bit 63 stands for every later one).
    succeeded: u64,
}

#[derive(Arbitrary, Debug)]
struct VersionIn {
    function: u8,
    version: u8,
    ready: bool,
    has_binary: bool,
    sha: u8,
}

#[derive(Arbitrary, Debug)]
struct DeploymentIn {
    function: u8,
    version: u8,
    selector: u8,
    pop: Option<bool>,
    priority: i8,
    status: u8,
    kind: u8,
    created: u8,
    batches: Vec<Vec<u8>>,
    released: u8,
    excluded: Vec<u8>,
}

#[derive(Arbitrary, Debug)]
struct RouteIn {
    function: u8,
    path: u8,
    wildcard_host: Option<bool>,
    get_only: bool,
}

#[derive(Arbitrary, Debug)]
struct NodeIn {
    pop: bool,
    tier: Option<bool>,
    region: Option<bool>,
    canary: bool,
    lifecycle: u8,
}

#[derive(Arbitrary, Debug)]
struct ReportedIn {
    /// Version per function (0: not running).
    functions: [u8; FUNCTIONS as usize],
    schema_version: u8,
    /// 0: none, 1: the target's, other: a stale one.
    routes: u8,
}

fn function_id(i: u8) -> FunctionId {
    FunctionId::from_uuid(Uuid::from_u128(0x1000 + u128::from(i % FUNCTIONS)))
}

fn node_id(i: u8, nodes: usize) -> NodeId {
    NodeId::from_uuid(Uuid::from_u128(
        0x2000 + u128::from(i) % nodes.max(1) as u128,
    ))
}

fn at(seconds: u8) -> Timestamp {
    Timestamp::from_unix_millis(1_893_456_000_000 + i64::from(seconds) * 1_000)
}

fuzz_target!(|world: World| {
    if world.nodes.is_empty() || world.nodes.len() > 3 {
        return;
    }
    let nodes = build_nodes(&world.nodes);
    let migrations = build_migrations(world.migrations);
    let schema_head = migrations.last().map_or(0, |m| m.version);
    let catalog = Catalog::new(
        world
            .deployments
            .iter()
            .take(8)
            .enumerate()
            .map(|(i, d)| build_deployment(i, d, nodes.len())),
        world.versions.iter().take(12).map(build_version),
        world
            .routes
            .iter()
            .take(6)
            .enumerate()
            .map(build_route)
            .collect(),
        schema_head,
    );

    let grouped = targets_for(&nodes, &catalog);
    assert_eq!(grouped.len(), nodes.len());
    for ((id, shared), node) in grouped.iter().zip(&nodes) {
        assert_eq!(*id, node.id);
        assert_eq!(
            **shared,
            target_for(node, &catalog),
            "targets_for vs target_for"
        );
    }
    let node = &nodes[0];
    let target = target_for(node, &catalog);
    assert_eq!(
        target,
        target_for(node, &catalog),
        "target_for is not deterministic"
    );
    for route in &target.routes {
        assert!(target.functions.contains_key(&route.function_id));
    }

    let current = ReportedState {
        functions: (0..FUNCTIONS)
            .zip(world.reported.functions)
            .filter(|(_, v)| *v != 0)
            .map(|(f, v)| RunningFunction {
                function_id: function_id(f),
                version: u32::from(v % 3 + 1),
            })
            .collect(),
        schema_version: u64::from(world.reported.schema_version % 10),
        routes_revision: match world.reported.routes {
            0 => None,
            1 => Some(target.routes_revision.clone()),
            _ => Some("r-stale".into()),
        },
        sync_revision: None,
        resources: Default::default(),
    };

    let actions = plan(&current, &target, &migrations);
    check_shape(&current, &target.schema_version, &actions);
    let numbered = number(actions.clone());
    for (i, a) in numbered.iter().enumerate() {
        assert_eq!(a.id as usize, i);
    }

    // Everything succeeds: the node reaches the target, and nothing is left to do.
    let all: Vec<ActionResult> = numbered.iter().map(|a| result(a.id, true)).collect();
    let done = apply(&current, &numbered, &all, &target.revision);
    assert_eq!(
        done.sync_revision.as_deref(),
        Some(target.revision.as_str())
    );
    let running: BTreeSet<(FunctionId, u32)> = done
        .functions
        .iter()
        .map(|f| (f.function_id, f.version))
        .collect();
    let wanted: BTreeSet<(FunctionId, u32)> = target
        .functions
        .values()
        .map(|i| (i.function_id, i.version))
        .collect();
    assert_eq!(running, wanted, "functions after a whole plan");
    if !(current.routes_revision.is_none() && target.routes.is_empty()) {
        assert_eq!(done.routes_revision.as_ref(), Some(&target.routes_revision));
    }
    assert!(done.schema_version >= current.schema_version);
    let again = plan(&done, &target, &migrations);
    assert!(again.is_empty(), "planning after a whole plan: {again:?}");
    assert_eq!(
        apply(&done, &numbered, &all, &target.revision),
        done,
        "applying a plan twice"
    );

    // Some actions fail: only actions of the first plan are planned again.
    let partial: Vec<ActionResult> = numbered
        .iter()
        .map(|a| result(a.id, world.succeeded >> a.id.min(63) & 1 == 1))
        .collect();
    let after = apply(&current, &numbered, &partial, &target.revision);
    for action in plan(&after, &target, &migrations) {
        assert!(
            actions.contains(&action),
            "new action after a partial ack: {action:?}"
        );
    }
});

fn result(action_id: u32, succeeded: bool) -> ActionResult {
    ActionResult {
        action_id,
        succeeded,
        error_code: None,
        error: None,
    }
}

/// Migrations, installs, routes, removals; ascending migrations in range; nothing twice.
fn check_shape(current: &ReportedState, target_schema: &u64, actions: &[Action]) {
    let rank = |a: &Action| match a {
        Action::ApplyMigration { .. } => 0,
        Action::InstallFunction(_) => 1,
        Action::SetRoutes { .. } => 2,
        Action::RemoveFunction { .. } => 3,
    };
    assert!(
        actions.windows(2).all(|w| rank(&w[0]) <= rank(&w[1])),
        "order: {actions:?}"
    );
    let mut migrations = Vec::new();
    let mut installed = BTreeSet::new();
    let mut removed = BTreeSet::new();
    let mut route_tables = 0;
    for action in actions {
        match action {
            Action::ApplyMigration { version, .. } => {
                assert!(*version > current.schema_version && version <= target_schema);
                migrations.push(*version);
            }
            Action::InstallFunction(i) => {
                assert!(installed.insert(i.function_id), "installed twice")
            }
            Action::SetRoutes { .. } => route_tables += 1,
            Action::RemoveFunction { function_id } => {
                assert!(removed.insert(*function_id), "removed twice")
            }
        }
    }
    assert!(
        migrations.windows(2).all(|w| w[0] < w[1]),
        "migrations {migrations:?}"
    );
    assert!(route_tables <= 1);
    assert!(installed.is_disjoint(&removed), "installed and removed");
}

fn build_nodes(input: &[NodeIn]) -> Vec<Node> {
    input
        .iter()
        .enumerate()
        .map(|(i, n)| {
            let mut labels = BTreeMap::new();
            if let Some(edge) = n.tier {
                labels.insert("tier".into(), if edge { "edge" } else { "core" }.into());
            }
            if let Some(eu) = n.region {
                labels.insert("region".into(), if eu { "eu" } else { "us" }.into());
            }
            if n.canary {
                labels.insert("canary".into(), String::new());
            }
            Node {
                id: node_id(i as u8, input.len()),
                name: format!("node-{i}"),
                pop: POPS[usize::from(n.pop)].into(),
                region: String::new(),
                labels,
                agent_version: "1".into(),
                capabilities: Vec::new(),
                memory_budget_bytes: None,
                lifecycle: match n.lifecycle % 3 {
                    0 => NodeLifecycle::Active,
                    1 => NodeLifecycle::Draining,
                    _ => NodeLifecycle::Decommissioned,
                },
                credential_generation: 0,
                refresh_secret_bcrypt: None,
                registered_at: at(0),
                updated_at: at(0),
            }
        })
        .collect()
}

fn build_migrations(mask: u8) -> Vec<SchemaMigration> {
    (0..8u64)
        .filter(|bit| mask >> bit & 1 == 1)
        .map(|bit| SchemaMigration {
            version: bit + 1,
            name: format!("m{}", bit + 1),
            up_sql: "SELECT 1".into(),
            down_sql: None,
            checksum: format!("{:064x}", bit + 1),
            created_at: at(0),
        })
        .collect()
}

fn build_version(v: &VersionIn) -> (String, FunctionVersion) {
    let function = v.function % FUNCTIONS;
    let version = FunctionVersion {
        function_id: function_id(function),
        version: u32::from(v.version % 3 + 1),
        spec: FunctionSpec {
            name: format!("f{function}"),
            entrypoint: "_start".into(),
            memory_pages: 1,
            max_execution_ms: 1_000,
            max_concurrency: 1,
            description: String::new(),
        },
        status: if v.ready {
            VersionStatus::Ready
        } else {
            VersionStatus::PendingUpload
        },
        rejection: None,
        sha256: v.has_binary.then(|| format!("{:064x}", v.sha)),
        size: v.has_binary.then_some(u64::from(v.sha) + 8),
        module: None,
        compatibility: None,
        upload_expires_at: None,
        created_at: at(0),
    };
    (format!("f{function}"), version)
}

fn build_deployment(i: usize, d: &DeploymentIn, nodes: usize) -> Deployment {
    let node = |n: &u8| node_id(*n, nodes);
    let batches: Vec<Vec<NodeId>> = d
        .batches
        .iter()
        .take(4)
        .map(|b| b.iter().take(4).map(node).collect())
        .collect();
    let released = u32::from(d.released) % (batches.len() as u32 + 1);
    Deployment {
        id: DeploymentId::from_uuid(Uuid::from_u128(0x3000 + i as u128)),
        name: String::new(),
        function_id: function_id(d.function),
        version: u32::from(d.version % 3 + 1),
        selector: Selector::parse(SELECTORS[usize::from(d.selector) % SELECTORS.len()])
            .unwrap_or_else(|e| panic!("fixture selector: {e}")),
        pop: d.pop.map(|p| POPS[usize::from(p)].to_owned()),
        priority: i32::from(d.priority),
        strategy: Strategy {
            kind: match d.kind % 3 {
                0 => StrategyKind::All,
                1 => StrategyKind::Batches,
                _ => StrategyKind::Canary,
            },
            ..Strategy::default()
        },
        status: DeploymentStatus::ALL[usize::from(d.status) % DeploymentStatus::ALL.len()],
        status_reason: None,
        rollout: Rollout {
            batches,
            released,
            batch_started_at: None,
            batch_healthy_at: None,
            excluded: d.excluded.iter().take(3).map(node).collect(),
        },
        created_at: at(d.created),
        updated_at: at(d.created),
    }
}

fn build_route((i, r): (usize, &RouteIn)) -> Route {
    Route {
        id: RouteId::from_uuid(Uuid::from_u128(0x4000 + i as u128)),
        host: r.wildcard_host.map(|w| {
            if w {
                "*.example.com"
            } else {
                "api.example.com"
            }
            .to_owned()
        }),
        path: PATHS[usize::from(r.path) % PATHS.len()].into(),
        methods: if r.get_only {
            vec!["GET".into()]
        } else {
            Vec::new()
        },
        function_id: function_id(r.function),
        created_at: at(0),
        updated_at: at(0),
    }
}
