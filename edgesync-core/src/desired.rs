//! Desired state: what a node should run, computed (never stored) from the live deployments, the
//! routes and the schema head. Pure functions over a [`Catalog`].

use std::collections::{BTreeMap, HashMap};

use crate::model::{
    Deployment, DeploymentId, DeploymentStatus, FunctionId, FunctionVersion, InstallFunction, Node,
    NodeId, NodeLifecycle, Route, RouteEntry, StrategyKind, VersionStatus,
};

/// Everything targeting depends on, as plain data.
#[derive(Clone, Debug, Default)]
pub struct Catalog {
    /// Live deployments per function, best first (priority, then newest, then id).
    deployments: BTreeMap<FunctionId, Vec<Deployment>>,
    /// The versions live deployments use, with their function's name.
    versions: HashMap<(FunctionId, u32), (String, FunctionVersion)>,
    /// Every route.
    routes: Vec<Route>,
    /// Highest migration version.
    schema_head: u64,
    /// Batched rollouts: the nodes each may target now (absent: every node it selects).
    admitted: HashMap<DeploymentId, std::collections::HashSet<NodeId>>,
    /// Nodes each deployment gave up on (failed past their retries).
    excluded: HashMap<DeploymentId, std::collections::HashSet<NodeId>>,
}

impl Catalog {
    /// Builds a catalog. `versions` must hold every version a live deployment names (with the
    /// function's name); deployments whose version is missing or not ready target nothing.
    pub fn new(
        deployments: impl IntoIterator<Item = Deployment>,
        versions: impl IntoIterator<Item = (String, FunctionVersion)>,
        routes: Vec<Route>,
        schema_head: u64,
    ) -> Self {
        let mut by_function: BTreeMap<FunctionId, Vec<Deployment>> = BTreeMap::new();
        for d in deployments.into_iter().filter(Deployment::is_live) {
            by_function.entry(d.function_id).or_default().push(d);
        }
        for list in by_function.values_mut() {
            list.sort_by(|a, b| {
                b.priority
                    .cmp(&a.priority)
                    .then(b.created_at.cmp(&a.created_at))
                    .then(b.id.cmp(&a.id))
            });
        }
        let mut routes = routes;
        routes.sort_by_key(|r| r.id);
        let mut admitted = HashMap::new();
        let mut excluded = HashMap::new();
        for d in by_function.values().flatten() {
            if d.strategy.kind != StrategyKind::All && d.status != DeploymentStatus::Completed {
                admitted.insert(d.id, d.rollout.released_nodes().copied().collect());
            }
            if !d.rollout.excluded.is_empty() {
                excluded.insert(d.id, d.rollout.excluded.iter().copied().collect());
            }
        }
        Self {
            admitted,
            excluded,
            deployments: by_function,
            versions: versions
                .into_iter()
                .map(|(name, v)| ((v.function_id, v.version), (name, v)))
                .collect(),
            routes,
            schema_head,
        }
    }

    /// The highest migration version.
    pub fn schema_head(&self) -> u64 {
        self.schema_head
    }

    /// Live deployments of a function, best first.
    pub fn deployments_of(&self, function: FunctionId) -> &[Deployment] {
        self.deployments.get(&function).map_or(&[], Vec::as_slice)
    }

    /// Every live deployment.
    pub fn live_deployments(&self) -> impl Iterator<Item = &Deployment> {
        self.deployments.values().flatten()
    }

    /// Whether deployment `d` may target `node` now (rollout batches and exclusions).
    pub fn admits(&self, d: &Deployment, node: NodeId) -> bool {
        !self.excluded.get(&d.id).is_some_and(|e| e.contains(&node))
            && self.admitted.get(&d.id).is_none_or(|a| a.contains(&node))
    }
}

/// What one node should run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NodeTarget {
    /// Schema version the node's database should be at.
    pub schema_version: u64,
    /// Function → the install that should be in place.
    pub functions: BTreeMap<FunctionId, InstallFunction>,
    /// The routes of the functions the node runs, by route id.
    pub routes: Vec<RouteEntry>,
    /// Revision of `routes`.
    pub routes_revision: String,
    /// Changes exactly when what the node should run changes (schema, function versions and
    /// binaries, routes) — not when another deployment of the same version takes over.
    pub revision: String,
}

impl NodeTarget {
    /// The deployment that won function `f` on this node, if any.
    pub fn deployment_for(&self, f: FunctionId) -> Option<DeploymentId> {
        self.functions.get(&f).map(|i| i.deployment_id)
    }
}

/// Targets for many nodes at once. Nodes that nothing tells apart — the same POP, labels and
/// lifecycle, and the same standing in every rollout that admits only some nodes — share one
/// computed target, so a fleet of 100k nodes in a few hundred label sets costs a few hundred
/// target computations plus a cheap pass over the nodes.
pub fn targets_for<'a>(
    nodes: impl IntoIterator<Item = &'a Node>,
    catalog: &Catalog,
) -> Vec<(NodeId, std::sync::Arc<NodeTarget>)> {
    use std::collections::HashMap as Map;
    use std::sync::Arc;
    let restricted: Vec<DeploymentId> = {
        let mut ids: Vec<DeploymentId> = catalog
            .admitted
            .keys()
            .chain(catalog.excluded.keys())
            .copied()
            .collect();
        ids.sort();
        ids.dedup();
        ids
    };
    let mut groups: Map<(&str, &crate::selector::Labels, bool, Vec<bool>), Arc<NodeTarget>> =
        Map::new();
    let mut out = Vec::new();
    for node in nodes {
        let standing: Vec<bool> = restricted
            .iter()
            .map(|d| {
                !catalog
                    .excluded
                    .get(d)
                    .is_some_and(|e| e.contains(&node.id))
                    && catalog.admitted.get(d).is_none_or(|a| a.contains(&node.id))
            })
            .collect();
        let key = (
            node.pop.as_str(),
            &node.labels,
            node.lifecycle == NodeLifecycle::Decommissioned,
            standing,
        );
        let target = groups
            .entry(key)
            .or_insert_with(|| Arc::new(target_for(node, catalog)))
            .clone();
        out.push((node.id, target));
    }
    out
}

/// Whether deployment `d` selects `node` (labels and POP).
pub fn selects(d: &Deployment, node: &Node) -> bool {
    d.pop.as_ref().is_none_or(|p| p == &node.pop) && d.selector.matches(&node.labels)
}

/// The winning deployment of one function on a node, with what it installs.
struct Winner<'c> {
    deployment: &'c Deployment,
    name: &'c String,
    version: &'c FunctionVersion,
    sha256: &'c String,
    size: u64,
}

/// Among `deployments` (one function's, best first), the best that selects `node`, admits it
/// and names a deployable version.
fn winner<'c>(
    node: &Node,
    catalog: &'c Catalog,
    function_id: FunctionId,
    deployments: &'c [Deployment],
) -> Option<Winner<'c>> {
    deployments
        .iter()
        .filter(|d| selects(d, node) && catalog.admits(d, node.id))
        .find_map(|d| {
            let (name, v) = catalog.versions.get(&(function_id, d.version))?;
            match (v.status, &v.sha256, v.size) {
                (VersionStatus::Ready, Some(sha256), Some(size)) => Some(Winner {
                    deployment: d,
                    name,
                    version: v,
                    sha256,
                    size,
                }),
                _ => None,
            }
        })
}

/// The deployment whose version of `function_id` node `node` should run, as in
/// [`target_for`], without computing the node's whole target.
pub fn winning_deployment(
    node: &Node,
    catalog: &Catalog,
    function_id: FunctionId,
) -> Option<DeploymentId> {
    if node.lifecycle == NodeLifecycle::Decommissioned {
        return None;
    }
    winner(
        node,
        catalog,
        function_id,
        catalog.deployments_of(function_id),
    )
    .map(|w| w.deployment.id)
}

/// Computes a node's target. Among the live deployments of a function that select the node, the
/// highest priority wins, then the newest. Decommissioned nodes run nothing.
pub fn target_for(node: &Node, catalog: &Catalog) -> NodeTarget {
    let mut functions = BTreeMap::new();
    if node.lifecycle != NodeLifecycle::Decommissioned {
        for (function_id, deployments) in &catalog.deployments {
            // The best selecting deployment whose version is deployable wins.
            let Some(Winner {
                deployment: d,
                name,
                version: v,
                sha256,
                size,
            }) = winner(node, catalog, *function_id, deployments)
            else {
                continue;
            };
            functions.insert(
                *function_id,
                InstallFunction {
                    function_id: *function_id,
                    name: name.clone(),
                    version: v.version,
                    deployment_id: d.id,
                    sha256: sha256.clone(),
                    size,
                    entrypoint: v.spec.entrypoint.clone(),
                    memory_pages: v.spec.memory_pages,
                    max_execution_ms: v.spec.max_execution_ms,
                    max_concurrency: v.spec.max_concurrency,
                },
            );
        }
    }
    let routes: Vec<RouteEntry> = catalog
        .routes
        .iter()
        .filter_map(|r| {
            functions.get(&r.function_id).map(|i| RouteEntry {
                route_id: r.id,
                host: r.host.clone(),
                path: r.path.clone(),
                methods: r.methods.clone(),
                function_id: r.function_id,
                version: i.version,
            })
        })
        .collect();
    let schema_version = if node.lifecycle == NodeLifecycle::Decommissioned {
        0
    } else {
        catalog.schema_head
    };
    let routes_revision = routes_revision(&routes);
    let revision = target_revision(schema_version, &functions, &routes_revision);
    NodeTarget {
        schema_version,
        functions,
        routes,
        routes_revision,
        revision,
    }
}

/// FNV-1a: a small, stable 64-bit hash. Revisions only need to change when the target does
/// (a 64-bit collision between two consecutive targets of one node is not a practical concern);
/// they are not a security boundary.
#[derive(Clone, Copy)]
struct Fnv(u64);

impl Fnv {
    fn new() -> Self {
        Fnv(0xcbf2_9ce4_8422_2325)
    }

    fn update(&mut self, bytes: impl AsRef<[u8]>) {
        for b in bytes.as_ref() {
            self.0 ^= u64::from(*b);
            self.0 = self.0.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }

    fn hex(self) -> String {
        format!("{:016x}", self.0)
    }
}

/// The revision of a route table: a digest of its entries.
pub fn routes_revision(routes: &[RouteEntry]) -> String {
    let mut h = Fnv::new();
    for r in routes {
        h.update(r.route_id.as_uuid().as_bytes());
        h.update(r.host.as_deref().unwrap_or("*").as_bytes());
        h.update([0]);
        h.update(r.path.as_bytes());
        h.update([0]);
        h.update(r.methods.join(",").as_bytes());
        h.update([0]);
        h.update(r.function_id.as_uuid().as_bytes());
        h.update(r.version.to_be_bytes());
    }
    format!("r-{}", h.hex())
}

fn target_revision(
    schema_version: u64,
    functions: &BTreeMap<FunctionId, InstallFunction>,
    routes_revision: &str,
) -> String {
    let mut h = Fnv::new();
    h.update(schema_version.to_be_bytes());
    for (f, i) in functions {
        h.update(f.as_uuid().as_bytes());
        h.update(i.version.to_be_bytes());
        h.update(i.sha256.as_bytes());
    }
    h.update(routes_revision.as_bytes());
    format!("t-{}", h.hex())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Rollout, Strategy, Timestamp};
    use crate::selector::Selector;
    use crate::testkit::fixtures;

    fn deployment(
        function_id: FunctionId,
        version: u32,
        selector: &str,
        priority: i32,
    ) -> Deployment {
        Deployment {
            id: DeploymentId::ordered(),
            name: String::new(),
            function_id,
            version,
            selector: Selector::parse(selector).unwrap(),
            pop: None,
            priority,
            strategy: Strategy::default(),
            status: DeploymentStatus::InProgress,
            status_reason: None,
            rollout: Rollout::default(),
            created_at: Timestamp::from_unix_millis(1),
            updated_at: Timestamp::from_unix_millis(1),
        }
    }

    fn node(region: &str, tier: &str, lifecycle: NodeLifecycle) -> Node {
        let mut n = fixtures::node(&format!("{region}-{tier}"));
        n.labels = BTreeMap::from([
            ("region".to_owned(), region.to_owned()),
            ("tier".to_owned(), tier.to_owned()),
        ]);
        n.lifecycle = lifecycle;
        n
    }

    #[test]
    fn the_winning_deployment_is_the_one_the_whole_target_installs() {
        let f = FunctionId::random();
        let mut not_ready = fixtures::function_version(f, 3);
        not_ready.status = VersionStatus::PendingUpload;
        let edge = deployment(f, 1, "tier=edge", 1);
        let eu = deployment(f, 2, "region=eu", 2);
        // Best priority, but its version cannot be installed: it wins nothing.
        let broken = deployment(f, 3, "", 9);
        let catalog = Catalog::new(
            [edge.clone(), eu.clone(), broken],
            [
                ("f".to_owned(), fixtures::function_version(f, 1)),
                ("f".to_owned(), fixtures::function_version(f, 2)),
                ("f".to_owned(), not_ready),
            ],
            Vec::new(),
            0,
        );
        let active = NodeLifecycle::Active;
        for (n, expected) in [
            (node("eu", "edge", active), Some(eu.id)),
            (node("us", "edge", active), Some(edge.id)),
            (node("eu", "core", active), Some(eu.id)),
            (node("us", "core", active), None),
            (node("eu", "edge", NodeLifecycle::Decommissioned), None),
        ] {
            let whole = target_for(&n, &catalog).deployment_for(f);
            assert_eq!(winning_deployment(&n, &catalog, f), expected, "{}", n.name);
            assert_eq!(whole, expected, "{}", n.name);
        }
    }
}
