//! The planner and desired state, data-driven: each case is a compact fixture and the expected
//! plan (or target), so an API change touches the helpers at the top and nothing else. Then
//! properties over random nodes and catalogs: convergence, determinism, partial failure and the
//! order of a plan.
//!
//! Functions and routes are named, not numbered: a function's id is its name's bytes (so ids sort
//! like names, and a plan renders back to names), a route's id is its path's bytes.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicU64, Ordering};

use edgesync_core::desired::{self, Catalog, NodeTarget};
use edgesync_core::model::{
    Action, ActionResult, Deployment, DeploymentId, DeploymentStatus, FunctionId, FunctionVersion,
    Node, NodeLifecycle, PlanAction, ReportedState, Route, RouteId, RunningFunction,
    SchemaMigration, Timestamp, VersionStatus,
};
use edgesync_core::planner;
use edgesync_core::selector::{Labels, Selector};
use edgesync_core::testkit::fixtures;
use proptest::prelude::*;
use uuid::Uuid;

// ---------------------------------------------------------------------------------------------
// Names, ids and records
// ---------------------------------------------------------------------------------------------

/// `name`'s bytes, zero-padded to 128 bits (names are at most 16 bytes).
fn name_bits(name: &str) -> u128 {
    assert!(
        name.len() <= 16,
        "fixture names are at most 16 bytes: {name:?}"
    );
    let mut bytes = [0; 16];
    bytes[..name.len()].copy_from_slice(name.as_bytes());
    u128::from_be_bytes(bytes)
}

/// The id of function `name`.
fn fid(name: &str) -> FunctionId {
    FunctionId::from_uuid(Uuid::from_u128(name_bits(name)))
}

/// The name of the function whose id [`fid`] made.
fn name_of(id: FunctionId) -> String {
    let bytes: Vec<u8> = id
        .as_uuid()
        .as_bytes()
        .iter()
        .copied()
        .take_while(|&b| b != 0)
        .collect();
    String::from_utf8(bytes).expect("a fixture function id")
}

/// The id of the route at `path`.
fn rid(path: &str) -> RouteId {
    RouteId::from_uuid(Uuid::from_u128(name_bits(path)))
}

/// `secs` seconds after a fixed instant.
fn t(secs: i64) -> Timestamp {
    Timestamp::from_unix_millis(1_767_225_600_000 + secs * 1000)
}

/// Parses a selector.
fn sel(selector: &str) -> Selector {
    Selector::parse(selector).expect("a valid selector")
}

/// Parses labels written like a selector of equalities: `tier=edge,region=eu`.
fn labels(spec: &str) -> Labels {
    spec.split(',')
        .filter(|kv| !kv.is_empty())
        .map(|kv| {
            let (k, v) = kv.split_once('=').expect("key=value");
            (k.to_owned(), v.to_owned())
        })
        .collect()
}

/// An active node in POP `pop` with `labels` (see [`labels`]).
fn node(pop: &str, label_spec: &str) -> Node {
    Node {
        pop: pop.to_owned(),
        labels: labels(label_spec),
        ..fixtures::node("n1")
    }
}

/// The SHA-256 every fixture gives `name@version`: distinct per version.
fn sha_of(name: &str, version: u32) -> String {
    format!("{:064x}", name_bits(name) ^ u128::from(version))
}

/// A ready version `name@version`, as [`Catalog::new`] takes it.
fn version(name: &str, version: u32) -> (String, FunctionVersion) {
    let mut v = fixtures::function_version(fid(name), version);
    v.spec.name = name.to_owned();
    v.sha256 = Some(sha_of(name, version));
    (name.to_owned(), v)
}

/// A fresh deployment id; later ids sort higher.
fn next_deployment_id() -> DeploymentId {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    DeploymentId::from_uuid(Uuid::from_u128(u128::from(
        NEXT.fetch_add(1, Ordering::Relaxed),
    )))
}

/// A live deployment of `name@version` to every node: priority 0, created at `t(0)`, any POP.
/// Override fields with `Deployment { priority: 5, ..deploy("hello", 2) }`.
fn deploy(name: &str, version: u32) -> Deployment {
    Deployment {
        id: next_deployment_id(),
        name: String::new(),
        function_id: fid(name),
        version,
        selector: Selector::everything(),
        pop: None,
        priority: 0,
        strategy: Default::default(),
        status: DeploymentStatus::InProgress,
        status_reason: None,
        rollout: Default::default(),
        created_at: t(0),
        updated_at: t(0),
    }
}

/// The route `path` (any host, every method) served by function `name`.
fn route(path: &str, name: &str) -> Route {
    Route {
        id: rid(path),
        host: None,
        path: path.to_owned(),
        methods: vec![],
        function_id: fid(name),
        created_at: t(0),
        updated_at: t(0),
    }
}

/// Ready versions for every version `deployments` name.
fn versions_for(deployments: &[Deployment]) -> Vec<(String, FunctionVersion)> {
    deployments
        .iter()
        .map(|d| version(&name_of(d.function_id), d.version))
        .collect()
}

/// A catalog of `deployments` in which every version they name exists and is ready.
fn catalog(deployments: Vec<Deployment>, routes: Vec<Route>, schema_head: u64) -> Catalog {
    let versions = versions_for(&deployments);
    Catalog::new(deployments, versions, routes, schema_head)
}

/// Registered migrations with these versions.
fn migrations(versions: &[u64]) -> Vec<SchemaMigration> {
    versions
        .iter()
        .map(|&v| SchemaMigration {
            version: v,
            name: format!("m{v}"),
            up_sql: format!("CREATE TABLE t{v} (x)"),
            down_sql: None,
            checksum: format!("{v:064x}"),
            created_at: t(0),
        })
        .collect()
}

/// Every action succeeded.
fn all_succeeded(plan: &[PlanAction]) -> Vec<ActionResult> {
    plan.iter().map(|a| result(a.id, true)).collect()
}

/// The result of action `id`.
fn result(id: u32, succeeded: bool) -> ActionResult {
    ActionResult {
        action_id: id,
        succeeded,
        error_code: (!succeeded).then(|| "failed".to_owned()),
        error: (!succeeded).then(|| "injected failure".to_owned()),
    }
}

// ---------------------------------------------------------------------------------------------
// The planner notation
// ---------------------------------------------------------------------------------------------

/// Parses a target, space-separated: `name@version` is a deployment of that version to every
/// node, `/path>name` a route served by `name`, `schema=N` the schema head (default
/// `default_head`, the highest registered migration). Computed by [`desired::target_for`].
fn target(spec: &str, default_head: u64) -> NodeTarget {
    let mut head = default_head;
    let mut deployments = vec![];
    let mut routes = vec![];
    for token in spec.split_whitespace() {
        if let Some(n) = token.strip_prefix("schema=") {
            head = n.parse().unwrap();
        } else if let Some(r) = token.strip_prefix('/') {
            let (path, name) = r.split_once('>').expect("/path>function");
            routes.push(route(&format!("/{path}"), name));
        } else {
            let (name, v) = token.split_once('@').expect("name@version");
            deployments.push(deploy(name, v.parse().unwrap()));
        }
    }
    desired::target_for(
        &node("fra", "tier=edge"),
        &catalog(deployments, routes, head),
    )
}

/// Parses what a node reports, space-separated: `name@version` runs, `schema=N` (default 0),
/// `routes=same` (the target's route revision), `routes=<other>` (that revision); without
/// `routes=` the node reports no route table.
fn reported(spec: &str, target: &NodeTarget) -> ReportedState {
    let mut state = ReportedState::default();
    for token in spec.split_whitespace() {
        if let Some(n) = token.strip_prefix("schema=") {
            state.schema_version = n.parse().unwrap();
        } else if let Some(r) = token.strip_prefix("routes=") {
            state.routes_revision = Some(match r {
                "same" => target.routes_revision.clone(),
                other => other.to_owned(),
            });
        } else {
            let (name, v) = token.split_once('@').expect("name@version");
            state.functions.push(RunningFunction {
                function_id: fid(name),
                version: v.parse().unwrap(),
            });
        }
    }
    state
}

/// One short line per action: `migrate 3`, `install hello@2`, `routes 2` (the table's size),
/// `remove hello`.
fn render(actions: &[Action]) -> Vec<String> {
    actions
        .iter()
        .map(|a| match a {
            Action::ApplyMigration { version, .. } => format!("migrate {version}"),
            Action::InstallFunction(i) => format!("install {}@{}", i.name, i.version),
            Action::SetRoutes { routes, .. } => format!("routes {}", routes.len()),
            Action::RemoveFunction { function_id } => format!("remove {}", name_of(*function_id)),
        })
        .collect()
}

/// [`render`] over numbered actions.
fn render_plan(plan: &[PlanAction]) -> Vec<String> {
    render(&plan.iter().map(|a| a.action.clone()).collect::<Vec<_>>())
}

/// Plans `current` → `target` (see [`reported`] and [`target`]) with migrations `registered`, and
/// compares the rendered plan (see [`render`]) with `expect`. Also checks that a route table in
/// the plan is the target's, and that applying the whole plan converges (replanning is empty).
#[track_caller]
fn check(current: &str, target_spec: &str, registered: &[u64], expect: &[&str]) {
    let target = target(target_spec, registered.iter().copied().max().unwrap_or(0));
    let state = reported(current, &target);
    let migrations = migrations(registered);
    let actions = planner::plan(&state, &target, &migrations);
    assert_eq!(
        render(&actions),
        expect,
        "plan of {current:?} -> {target_spec:?} with migrations {registered:?}"
    );
    for a in &actions {
        if let Action::SetRoutes { revision, routes } = a {
            assert_eq!(
                (revision, routes),
                (&target.routes_revision, &target.routes)
            );
        }
    }
    let plan = planner::number(actions);
    let after = planner::apply(&state, &plan, &all_succeeded(&plan), &target.revision);
    assert_eq!(
        render(&planner::plan(&after, &target, &migrations)),
        Vec::<String>::new(),
        "replanning after applying every action of {current:?} -> {target_spec:?}"
    );
    assert_eq!(after.sync_revision.as_ref(), Some(&target.revision));
}

// ---------------------------------------------------------------------------------------------
// The desired-state notation
// ---------------------------------------------------------------------------------------------

/// A target as lines: `schema N`, then `name@version` per function, then `/path>name@version`
/// per route, in the target's order.
fn describe(target: &NodeTarget) -> Vec<String> {
    let mut lines = vec![format!("schema {}", target.schema_version)];
    lines.extend(
        target
            .functions
            .values()
            .map(|i| format!("{}@{}", i.name, i.version)),
    );
    lines.extend(
        target
            .routes
            .iter()
            .map(|r| format!("{}>{}@{}", r.path, name_of(r.function_id), r.version)),
    );
    lines
}

/// Computes `node`'s target in `catalog` and compares it, described by [`describe`], with
/// `expect`.
#[track_caller]
fn check_target(node: &Node, catalog: &Catalog, expect: &[&str]) {
    assert_eq!(describe(&desired::target_for(node, catalog)), expect);
}

/// An active node in POP `fra` labelled `tier=edge,region=eu`.
fn edge_node() -> Node {
    node("fra", "tier=edge,region=eu")
}

// =============================================================================================
// Planner cases
// =============================================================================================

#[test]
fn fresh_node_and_empty_target_give_an_empty_plan() {
    check("", "", &[], &[]);
}

#[test]
fn fresh_node_gets_migrations_then_installs_then_routes() {
    check(
        "",
        "world@1 hello@3 /a>hello /b>world /c>world",
        &[1, 2, 3],
        &[
            "migrate 1",
            "migrate 2",
            "migrate 3",
            "install hello@3",
            "install world@1",
            "routes 3",
        ],
    );
}

#[test]
fn every_kind_of_action_in_order() {
    check(
        "schema=1 hello@2 old@1 routes=stale",
        "hello@3 world@1 /a>hello",
        &[1, 2, 3],
        &[
            "migrate 2",
            "migrate 3",
            "install hello@3",
            "install world@1",
            "routes 1",
            "remove old",
        ],
    );
}

#[test]
fn converged_node_gets_an_empty_plan() {
    check(
        "schema=3 world@1 hello@3 routes=same",
        "hello@3 world@1 /a>hello /b>world",
        &[1, 2, 3],
        &[],
    );
}

#[test]
fn old_version_is_replaced_by_an_install_not_a_removal() {
    check(
        "hello@2 routes=stale",
        "hello@3 /a>hello",
        &[],
        &["install hello@3", "routes 1"],
    );
    check(
        "hello@2 routes=same",
        "hello@3 /a>hello",
        &[],
        &["install hello@3"],
    );
}

#[test]
fn newer_version_is_rolled_back_by_an_install() {
    check("hello@3", "hello@2", &[], &["install hello@2"]);
}

#[test]
fn function_not_in_target_is_removed_after_the_routes() {
    check(
        "hello@1 gone@4 routes=stale",
        "hello@1 /a>hello",
        &[],
        &["routes 1", "remove gone"],
    );
    check("gone@1", "", &[], &["remove gone"]);
}

#[test]
fn node_ahead_of_the_schema_head_gets_no_migrations() {
    check("schema=5 hello@1", "hello@1", &[1, 2, 3], &[]);
}

#[test]
fn node_part_way_gets_only_the_missing_migrations() {
    check("schema=2", "", &[1, 2, 3, 4], &["migrate 3", "migrate 4"]);
    check("schema=2", "", &[1, 3, 7], &["migrate 3", "migrate 7"]);
}

#[test]
fn migrations_stop_at_the_target_schema() {
    check("", "schema=2", &[1, 2, 3, 4], &["migrate 1", "migrate 2"]);
}

#[test]
fn equal_route_revision_needs_no_route_table() {
    check("hello@1 routes=same", "hello@1 /a>hello /b>hello", &[], &[]);
}

#[test]
fn no_routes_anywhere_needs_no_route_table() {
    check("hello@1", "hello@1", &[], &[]);
}

#[test]
fn stale_routes_and_no_target_routes_get_an_empty_table() {
    check("hello@1 routes=stale", "hello@1", &[], &["routes 0"]);
    check("routes=stale", "", &[], &["routes 0"]);
}

#[test]
fn missing_route_table_is_sent_when_the_target_has_routes() {
    check("hello@1", "hello@1 /a>hello", &[], &["routes 1"]);
}

#[test]
fn installs_and_removals_are_in_function_order_whatever_the_input_order() {
    let installs = ["install alpha@2", "install mid@1", "install zeta@1"];
    check("", "zeta@1 alpha@2 mid@1", &[], &installs);
    check("", "mid@1 zeta@1 alpha@2", &[], &installs);
    check(
        "zeta@1 alpha@1 mid@1",
        "",
        &[],
        &["remove alpha", "remove mid", "remove zeta"],
    );
    check(
        "mid@1 alpha@1 zeta@1",
        "",
        &[],
        &["remove alpha", "remove mid", "remove zeta"],
    );
}

#[test]
fn number_counts_actions_from_zero() {
    let target = target("a@1 b@1 /x>a", 2);
    let plan = planner::number(planner::plan(
        &ReportedState::default(),
        &target,
        &migrations(&[1, 2]),
    ));
    let ids: Vec<u32> = plan.iter().map(|a| a.id).collect();
    assert_eq!(ids, [0, 1, 2, 3, 4]);
}

// =============================================================================================
// Desired-state cases
// =============================================================================================

#[test]
fn higher_priority_wins_whatever_the_order() {
    let low = Deployment {
        priority: 5,
        created_at: t(50),
        ..deploy("hello", 1)
    };
    let high = Deployment {
        priority: 10,
        ..deploy("hello", 2)
    };
    for deployments in [
        vec![low.clone(), high.clone()],
        vec![high.clone(), low.clone()],
    ] {
        let catalog = catalog(deployments, vec![], 0);
        check_target(&edge_node(), &catalog, &["schema 0", "hello@2"]);
        let target = desired::target_for(&edge_node(), &catalog);
        assert_eq!(target.deployment_for(fid("hello")), Some(high.id));
    }
}

#[test]
fn equal_priority_newest_wins() {
    let older = Deployment {
        created_at: t(1),
        ..deploy("hello", 2)
    };
    let newer = Deployment {
        created_at: t(2),
        ..deploy("hello", 1)
    };
    for deployments in [
        vec![older.clone(), newer.clone()],
        vec![newer.clone(), older.clone()],
    ] {
        check_target(
            &edge_node(),
            &catalog(deployments, vec![], 0),
            &["schema 0", "hello@1"],
        );
    }
}

#[test]
fn selector_mismatch_is_not_targeted() {
    let core = Deployment {
        selector: sel("tier=core"),
        priority: 10,
        ..deploy("hello", 2)
    };
    check_target(
        &edge_node(),
        &catalog(vec![core.clone()], vec![], 0),
        &["schema 0"],
    );
    let edge = Deployment {
        selector: sel("tier=edge,region in (eu,us)"),
        ..deploy("hello", 1)
    };
    check_target(
        &edge_node(),
        &catalog(vec![core, edge.clone()], vec![], 0),
        &["schema 0", "hello@1"],
    );
    check_target(
        &node("fra", "tier=edge,region=ap"),
        &catalog(vec![edge], vec![], 0),
        &["schema 0"],
    );
}

#[test]
fn pop_restricts_a_deployment() {
    let ams = Deployment {
        pop: Some("ams".into()),
        priority: 10,
        ..deploy("hello", 2)
    };
    let fra = Deployment {
        pop: Some("fra".into()),
        ..deploy("hello", 1)
    };
    check_target(
        &edge_node(),
        &catalog(vec![ams.clone()], vec![], 0),
        &["schema 0"],
    );
    check_target(
        &edge_node(),
        &catalog(vec![ams.clone(), fra], vec![], 0),
        &["schema 0", "hello@1"],
    );
    check_target(
        &node("ams", "tier=edge"),
        &catalog(vec![ams], vec![], 0),
        &["schema 0", "hello@2"],
    );
}

#[test]
fn aborted_deployments_are_ignored() {
    let aborted = Deployment {
        status: DeploymentStatus::Aborted,
        priority: 10,
        ..deploy("hello", 2)
    };
    let completed = Deployment {
        status: DeploymentStatus::Completed,
        ..deploy("hello", 1)
    };
    check_target(
        &edge_node(),
        &catalog(vec![aborted.clone()], vec![], 0),
        &["schema 0"],
    );
    check_target(
        &edge_node(),
        &catalog(vec![aborted, completed], vec![], 0),
        &["schema 0", "hello@1"],
    );
}

#[test]
fn versions_missing_or_not_ready_target_nothing() {
    let deployments = vec![deploy("hello", 1), deploy("world", 1)];
    let only_world = vec![version("world", 1)];
    check_target(
        &edge_node(),
        &Catalog::new(deployments.clone(), only_world, vec![], 0),
        &["schema 0", "world@1"],
    );
    let not_ready: [fn(&mut FunctionVersion); 4] = [
        |v| v.status = VersionStatus::PendingUpload,
        |v| v.status = VersionStatus::Rejected,
        |v| v.sha256 = None,
        |v| v.size = None,
    ];
    for breaks in not_ready {
        let mut versions = versions_for(&deployments);
        breaks(&mut versions[0].1);
        check_target(
            &edge_node(),
            &Catalog::new(deployments.clone(), versions, vec![], 0),
            &["schema 0", "world@1"],
        );
    }
}

#[test]
fn decommissioned_nodes_get_an_empty_target() {
    let catalog = catalog(vec![deploy("hello", 1)], vec![route("/a", "hello")], 3);
    let retired = Node {
        lifecycle: NodeLifecycle::Decommissioned,
        ..edge_node()
    };
    check_target(&retired, &catalog, &["schema 0"]);
    assert_eq!(
        desired::target_for(&retired, &catalog).routes_revision,
        desired::routes_revision(&[])
    );
    check_target(
        &edge_node(),
        &catalog,
        &["schema 3", "hello@1", "/a>hello@1"],
    );
}

#[test]
fn routes_are_those_of_the_functions_the_node_runs_with_their_versions() {
    let catalog = catalog(
        vec![
            deploy("hello", 1),
            Deployment {
                priority: 1,
                ..deploy("hello", 2)
            },
            Deployment {
                selector: sel("tier=core"),
                ..deploy("world", 1)
            },
        ],
        vec![
            route("/c", "hello"),
            route("/b", "world"),
            route("/a", "hello"),
            route("/d", "nobody"),
        ],
        0,
    );
    check_target(
        &edge_node(),
        &catalog,
        &["schema 0", "hello@2", "/a>hello@2", "/c>hello@2"],
    );
}

/// The inputs of one target, so that a test can vary one thing at a time.
#[derive(Clone)]
struct Inputs {
    deployments: Vec<Deployment>,
    versions: Vec<(String, FunctionVersion)>,
    routes: Vec<Route>,
    schema_head: u64,
}

impl Inputs {
    /// hello@2 and world@1 on every node, a route to each, schema head 3.
    fn base() -> Self {
        let deployments = vec![deploy("hello", 2), deploy("world", 1)];
        Self {
            versions: versions_for(&deployments),
            deployments,
            routes: vec![route("/a", "hello"), route("/b", "world")],
            schema_head: 3,
        }
    }

    /// The target revision of [`edge_node`], from a catalog built from scratch.
    fn revision(&self) -> String {
        let catalog = Catalog::new(
            self.deployments.clone(),
            self.versions.clone(),
            self.routes.clone(),
            self.schema_head,
        );
        desired::target_for(&edge_node(), &catalog).revision
    }

    /// These inputs after `change`.
    fn with(&self, change: impl FnOnce(&mut Self)) -> Self {
        let mut changed = self.clone();
        change(&mut changed);
        changed
    }
}

#[test]
fn revision_is_stable_for_equal_inputs() {
    let base = Inputs::base();
    assert_eq!(base.revision(), base.revision());
    let reordered = base.with(|i| {
        i.deployments.reverse();
        i.versions.reverse();
        i.routes.reverse();
    });
    assert_eq!(reordered.revision(), base.revision());
    let irrelevant = base.with(|i| {
        let elsewhere = Deployment {
            selector: sel("tier=core"),
            priority: 10,
            ..deploy("hello", 3)
        };
        i.versions.push(version("hello", 3));
        i.deployments.push(elsewhere);
        i.routes.push(route("/z", "nobody"));
    });
    assert_eq!(irrelevant.revision(), base.revision());
}

#[test]
fn revision_changes_with_anything_in_the_target() {
    let base = Inputs::base();
    let changes: Vec<(&str, Inputs)> = vec![
        (
            "version",
            base.with(|i| {
                i.deployments[0].version = 3;
                i.versions.push(version("hello", 3));
            }),
        ),
        (
            "sha256",
            base.with(|i| i.versions[0].1.sha256 = Some("ff".repeat(32))),
        ),
        ("schema head", base.with(|i| i.schema_head = 4)),
        ("route path", base.with(|i| i.routes[0].path = "/a2".into())),
        (
            "route host",
            base.with(|i| i.routes[0].host = Some("api.example.com".into())),
        ),
        (
            "route methods",
            base.with(|i| i.routes[0].methods = vec!["GET".into()]),
        ),
        (
            "route added",
            base.with(|i| i.routes.push(route("/c", "hello"))),
        ),
        ("route removed", base.with(|i| i.routes.truncate(1))),
        (
            "function added",
            base.with(|i| {
                i.deployments.push(deploy("extra", 1));
                i.versions.push(version("extra", 1));
            }),
        ),
        (
            "function removed",
            base.with(|i| i.deployments[1].status = DeploymentStatus::Aborted),
        ),
    ];
    let mut seen = BTreeMap::from([(base.revision(), "base")]);
    for (what, inputs) in &changes {
        if let Some(other) = seen.insert(inputs.revision(), what) {
            panic!("changing the {what} gives the same revision as {other}");
        }
    }
}

/// A node at schema 2 reports migration 3 failed and migration 4 succeeded: the node is not
/// considered past 3, so replanning starts with `migrate 3` (the schema only advances through
/// migrations that succeeded before the first failure).
#[test]
fn a_failed_migration_is_planned_again_even_if_a_later_one_succeeded() {
    let target = target("", 4);
    let state = ReportedState {
        schema_version: 2,
        ..ReportedState::default()
    };
    let migrations = migrations(&[1, 2, 3, 4]);
    let plan = planner::number(planner::plan(&state, &target, &migrations));
    assert_eq!(render_plan(&plan), ["migrate 3", "migrate 4"]);
    let after = planner::apply(
        &state,
        &plan,
        &[result(0, false), result(1, true)],
        &target.revision,
    );
    assert_eq!(
        render(&planner::plan(&after, &target, &migrations))
            .first()
            .map(String::as_str),
        Some("migrate 3")
    );
}

// =============================================================================================
// Properties
// =============================================================================================

/// Functions the generators draw from.
const POOL: [&str; 4] = ["alpha", "beta", "gamma", "delta"];
/// Selectors the generators draw from.
const SELECTORS: [&str; 5] = [
    "",
    "",
    "tier=edge",
    "region in (eu,us)",
    "tier=edge,region=eu",
];
/// Route paths the generators draw from.
const PATHS: [&str; 4] = ["/a", "/b", "/c", "/d"];

/// A random planning problem: a node, its catalog's inputs, the registered migrations and what
/// the node reports.
#[derive(Clone, Debug)]
struct Case {
    node: Node,
    deployments: Vec<Deployment>,
    versions: Vec<(String, FunctionVersion)>,
    routes: Vec<Route>,
    migrations: Vec<SchemaMigration>,
    reported: ReportedState,
}

impl Case {
    /// The catalog, built from the inputs in the given order.
    fn catalog(&self) -> Catalog {
        let head = self.migrations.last().map_or(0, |m| m.version);
        Catalog::new(
            self.deployments.clone(),
            self.versions.clone(),
            self.routes.clone(),
            head,
        )
    }

    /// The node's target.
    fn target(&self) -> NodeTarget {
        desired::target_for(&self.node, &self.catalog())
    }
}

/// A node in `fra` or `ams`, with or without `tier` (mostly `edge`) and `region` labels, mostly
/// active.
fn any_node() -> impl Strategy<Value = Node> {
    (
        prop::sample::select(vec!["fra", "ams"]),
        prop::sample::select(vec!["tier=edge", "tier=edge", "tier=core", ""]),
        prop::sample::select(vec!["region=eu", "region=us", "region=ap", ""]),
        prop::sample::select(vec![
            NodeLifecycle::Active,
            NodeLifecycle::Active,
            NodeLifecycle::Active,
            NodeLifecycle::Draining,
            NodeLifecycle::Decommissioned,
        ]),
    )
        .prop_map(|(pop, tier, region, lifecycle)| Node {
            lifecycle,
            ..node(pop, &format!("{tier},{region}"))
        })
}

/// A deployment of a pool function, random in everything targeting looks at.
fn any_deployment() -> impl Strategy<Value = Deployment> {
    (
        prop::sample::select(POOL.to_vec()),
        1..=3u32,
        prop::sample::select(SELECTORS.to_vec()),
        prop::sample::select(vec![None, None, Some("fra"), Some("ams")]),
        0..3i32,
        0..3i64,
        prop::sample::select(vec![
            DeploymentStatus::InProgress,
            DeploymentStatus::InProgress,
            DeploymentStatus::Completed,
            DeploymentStatus::Aborted,
        ]),
    )
        .prop_map(
            |(name, version, selector, pop, priority, created, status)| Deployment {
                selector: sel(selector),
                pop: pop.map(str::to_owned),
                priority,
                created_at: t(created),
                status,
                ..deploy(name, version)
            },
        )
}

/// A random [`Case`]: up to 6 deployments (ids by position), versions for all of them with a few
/// not ready, routes over the pool, migrations a random subset of 1..=5, and a node reporting a
/// random subset of pool versions plus some of its target's functions, the schema head or a
/// schema in 0..5, and no, a stale or the target's route revision.
fn any_case() -> impl Strategy<Value = Case> {
    (
        any_node(),
        prop::collection::vec(any_deployment(), 0..7),
        prop::collection::btree_set((prop::sample::select(POOL.to_vec()), 1..=3u32), 0..3),
        prop::collection::btree_map(
            prop::sample::select(PATHS.to_vec()),
            prop::sample::select(POOL.to_vec()),
            0..4,
        ),
        prop::collection::btree_set(1..=5u64, 0..5),
        prop::collection::btree_set((prop::sample::select(POOL.to_vec()), 1..=3u32), 0..4),
        prop::collection::vec(any::<bool>(), POOL.len()),
        prop::sample::select(vec![None, Some(0), Some(1), Some(2), Some(3), Some(4)]),
        0..3u8,
    )
        .prop_map(
            |(
                node,
                mut deployments,
                broken,
                routes,
                migration_versions,
                running,
                keep,
                schema,
                r,
            )| {
                for (i, d) in deployments.iter_mut().enumerate() {
                    d.id = DeploymentId::from_uuid(Uuid::from_u128(i as u128 + 1));
                }
                let mut versions = versions_for(&deployments);
                for (_, v) in &mut versions {
                    if broken.contains(&(name_of(v.function_id).as_str(), v.version)) {
                        v.status = VersionStatus::PendingUpload;
                    }
                }
                let migration_versions: Vec<u64> = migration_versions.into_iter().collect();
                let head = migration_versions.last().copied().unwrap_or(0);
                let mut case = Case {
                    node,
                    deployments,
                    versions,
                    routes: routes.into_iter().map(|(p, f)| route(p, f)).collect(),
                    migrations: migrations(&migration_versions),
                    reported: ReportedState {
                        functions: running
                            .into_iter()
                            .map(|(name, version)| RunningFunction {
                                function_id: fid(name),
                                version,
                            })
                            .collect(),
                        schema_version: schema.unwrap_or(head),
                        ..ReportedState::default()
                    },
                };
                let target = case.target();
                for (i, keep) in target.functions.values().zip(keep) {
                    if keep {
                        case.reported.functions.push(RunningFunction {
                            function_id: i.function_id,
                            version: i.version,
                        });
                    }
                }
                case.reported.routes_revision = match r {
                    0 => None,
                    1 => Some("r-stale".to_owned()),
                    _ => Some(target.routes_revision),
                };
                case
            },
        )
}

/// The rank of an action's kind in a plan.
fn rank(a: &Action) -> u8 {
    match a {
        Action::ApplyMigration { .. } => 0,
        Action::InstallFunction(_) => 1,
        Action::SetRoutes { .. } => 2,
        Action::RemoveFunction { .. } => 3,
    }
}

/// The key an action is sorted by within its kind.
fn key(a: &Action) -> u128 {
    match a {
        Action::ApplyMigration { version, .. } => u128::from(*version),
        Action::InstallFunction(i) => i.function_id.as_uuid().as_u128(),
        Action::SetRoutes { .. } => 0,
        Action::RemoveFunction { function_id } => function_id.as_uuid().as_u128(),
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, .. ProptestConfig::default() })]

    /// Property 4 (idempotency): when every action of the plan succeeds, planning again from the
    /// state `apply` returns gives an empty plan, and the node's sync revision is the target's.
    #[test]
    fn applying_a_whole_plan_converges(case in any_case()) {
        let target = case.target();
        let plan = planner::number(planner::plan(&case.reported, &target, &case.migrations));
        let after = planner::apply(&case.reported, &plan, &all_succeeded(&plan), &target.revision);
        prop_assert_eq!(render(&planner::plan(&after, &target, &case.migrations)), Vec::<String>::new());
        prop_assert_eq!(after.sync_revision, Some(target.revision));
    }

    /// Determinism: the same inputs, in any order and from a catalog built afresh, give the same
    /// target (and revision) and the same plan.
    #[test]
    fn same_inputs_give_the_same_target_and_plan(case in any_case()) {
        let target = case.target();
        let mut reversed = case.clone();
        reversed.deployments.reverse();
        reversed.versions.reverse();
        reversed.routes.reverse();
        let again = reversed.target();
        prop_assert_eq!(&again, &target);
        prop_assert_eq!(
            planner::plan(&case.reported, &target, &case.migrations),
            planner::plan(&case.reported, &again, &case.migrations)
        );
    }

    /// Partial failure. Let `plan = number(plan(s, t, m))`, let the node report a result for every
    /// action, some failed, with the migrations' results a run of successes followed only by
    /// failures (a node stops migrating at the first failure), and let
    /// `s2 = apply(s, plan, results, t.revision)`. Then `plan(s2, t, m)` is exactly the actions
    /// that failed, in their original order: every failed migration, install, route table and
    /// removal is planned again and nothing that succeeded is. `s2.sync_revision` is the target's
    /// when nothing failed and `s.sync_revision` otherwise.
    #[test]
    fn after_a_partial_failure_exactly_the_failed_actions_are_planned_again(
        case in any_case(),
        failures in prop::collection::vec(prop::bool::weighted(0.3), 16),
        sync_revision in prop::option::of(Just("t-before".to_owned())),
    ) {
        let target = case.target();
        let state = ReportedState { sync_revision, ..case.reported.clone() };
        let plan = planner::number(planner::plan(&state, &target, &case.migrations));
        let mut migration_failed = false;
        let results: Vec<ActionResult> = plan
            .iter()
            .map(|a| {
                let mut failed = failures[a.id as usize % failures.len()];
                if matches!(a.action, Action::ApplyMigration { .. }) {
                    migration_failed |= failed;
                    failed = migration_failed;
                }
                result(a.id, !failed)
            })
            .collect();
        let after = planner::apply(&state, &plan, &results, &target.revision);
        let failed: Vec<Action> = plan
            .iter()
            .zip(&results)
            .filter(|(_, r)| !r.succeeded)
            .map(|(a, _)| a.action.clone())
            .collect();
        prop_assert_eq!(planner::plan(&after, &target, &case.migrations), failed.clone());
        let expected_sync = if failed.is_empty() { Some(target.revision.clone()) } else { state.sync_revision.clone() };
        prop_assert_eq!(after.sync_revision, expected_sync);
    }

    /// Order: every migration before every install, before the route table (at most one),
    /// before every removal; migrations strictly ascending and within what the node lacks up to
    /// the target's schema; installs and removals by strictly ascending function id, and no
    /// function both installed and removed.
    #[test]
    fn plans_are_ordered(case in any_case()) {
        let target = case.target();
        let actions = planner::plan(&case.reported, &target, &case.migrations);
        for pair in actions.windows(2) {
            let (a, b) = (&pair[0], &pair[1]);
            prop_assert!(
                rank(a) < rank(b) || (rank(a) == rank(b) && rank(a) != 2 && key(a) < key(b)),
                "{:?} then {:?}", render(std::slice::from_ref(a)), render(std::slice::from_ref(b))
            );
        }
        let mut installed = BTreeSet::new();
        for a in &actions {
            match a {
                Action::ApplyMigration { version, .. } => {
                    prop_assert!(*version > case.reported.schema_version);
                    prop_assert!(*version <= target.schema_version);
                }
                Action::InstallFunction(i) => {
                    installed.insert(i.function_id);
                }
                Action::RemoveFunction { function_id } => {
                    prop_assert!(!installed.contains(function_id));
                    prop_assert!(!target.functions.contains_key(function_id));
                }
                Action::SetRoutes { .. } => {}
            }
        }
    }
}
