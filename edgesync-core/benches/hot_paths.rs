//! Micro-benchmarks of the hot paths, each printed as a ratio against a baseline measured in the
//! same run on the same data (so the figures mean something on any machine):
//!
//! - desired-state computation for a whole fleet (100k nodes × 20 functions) vs. one hash-map
//!   insert per node,
//! - the planner vs. cloning the node's reported state,
//! - label-selector matching vs. one label lookup,
//! - route matching vs. an exact-path hash lookup,
//! - node-token verification vs. one HMAC-SHA256 over the token's bytes.
//!
//! `cargo bench -p edgesync-core --bench hot_paths` (add `-- --nodes 10000` for a quick run).

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::collections::{BTreeMap, HashMap};
use std::hint::black_box;
use std::time::{Duration, Instant};

use edgesync_core::auth::NodeTokenIssuer;
use edgesync_core::desired::{Catalog, target_for, targets_for};
use edgesync_core::model::*;
use edgesync_core::planner;
use edgesync_core::route_pattern::{RoutePattern, RouteTable};
use edgesync_core::selector::Selector;

/// Median time per call of `f` over `rounds` rounds of `iters` calls.
fn time_per_op(rounds: usize, iters: usize, mut f: impl FnMut()) -> Duration {
    let mut samples = Vec::with_capacity(rounds);
    for _ in 0..rounds {
        let start = Instant::now();
        for _ in 0..iters {
            f();
        }
        samples.push(start.elapsed() / iters as u32);
    }
    samples.sort();
    samples[rounds / 2]
}

fn report(name: &str, measured: Duration, baseline_name: &str, baseline: Duration) {
    println!(
        "{name:<44} {:>12.3} µs/op   {:>8.1}× {baseline_name} ({:.3} µs/op)",
        measured.as_secs_f64() * 1e6,
        measured.as_secs_f64() / baseline.as_secs_f64().max(1e-12),
        baseline.as_secs_f64() * 1e6,
    );
}

fn ts() -> Timestamp {
    Timestamp::from_unix_millis(1_767_225_600_000)
}

fn fleet(n: usize) -> Vec<Node> {
    let regions = ["eu", "us", "ap", "sa"];
    (0..n)
        .map(|i| Node {
            id: NodeId::random(),
            name: format!("n{i}"),
            pop: format!("pop{}", i % 50),
            region: regions[i % 4].into(),
            labels: BTreeMap::from([
                ("region".to_owned(), regions[i % 4].to_owned()),
                (
                    "tier".to_owned(),
                    if i % 3 == 0 { "core" } else { "edge" }.to_owned(),
                ),
                ("rack".to_owned(), format!("r{}", i % 200)),
            ]),
            agent_version: "1".into(),
            capabilities: vec![],
            memory_budget_bytes: None,
            lifecycle: NodeLifecycle::Active,
            credential_generation: 1,
            refresh_secret_bcrypt: None,
            registered_at: ts(),
            updated_at: ts(),
        })
        .collect()
}

fn catalog(functions: usize) -> Catalog {
    let selectors = ["tier=edge", "region in (eu,us)", "", "tier=core,region!=ap"];
    let mut deployments = Vec::new();
    let mut versions = Vec::new();
    for f in 0..functions {
        let function_id = FunctionId::random();
        for v in 1..=2u32 {
            versions.push((
                format!("f{f}"),
                FunctionVersion {
                    function_id,
                    version: v,
                    spec: FunctionSpec {
                        name: format!("f{f}"),
                        entrypoint: "_start".into(),
                        memory_pages: 4,
                        max_execution_ms: 100,
                        max_concurrency: 4,
                        description: String::new(),
                    },
                    status: VersionStatus::Ready,
                    rejection: None,
                    sha256: Some(format!("{:064x}", f * 10 + v as usize)),
                    size: Some(1000),
                    module: None,
                    created_at: ts(),
                    compatibility: None,
                    upload_expires_at: None,
                },
            ));
            deployments.push(Deployment {
                id: DeploymentId::ordered(),
                name: String::new(),
                function_id,
                version: v,
                selector: Selector::parse(selectors[(f + v as usize) % 4]).unwrap(),
                pop: None,
                priority: v as i32,
                strategy: Strategy::default(),
                status: DeploymentStatus::InProgress,
                status_reason: None,
                rollout: Rollout::default(),
                created_at: ts(),
                updated_at: ts(),
            });
        }
    }
    Catalog::new(deployments, versions, Vec::new(), 3)
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let nodes_n: usize = args
        .iter()
        .position(|a| a == "--nodes")
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000);
    println!("hot paths on this machine (median of 5 rounds; ratios against same-run baselines)\n");

    // Desired state for the whole fleet.
    let nodes = fleet(nodes_n);
    let cat = catalog(20);
    let whole_fleet = time_per_op(5, 1, || {
        black_box(targets_for(nodes.iter(), &cat));
    });
    let one_by_one = time_per_op(3, 1, || {
        for n in &nodes {
            black_box(target_for(n, &cat));
        }
    });
    let baseline = time_per_op(5, 1, || {
        let mut m: HashMap<NodeId, u64> = HashMap::with_capacity(nodes.len());
        for (i, n) in nodes.iter().enumerate() {
            m.insert(n.id, i as u64);
        }
        black_box(m);
    });
    println!(
        "desired state, {nodes_n} nodes × 20 functions: {:.1} ms for the whole fleet",
        whole_fleet.as_secs_f64() * 1e3
    );
    report(
        "  per fleet (grouped by label set)",
        whole_fleet,
        "one hash insert per node",
        baseline,
    );
    report(
        "  per fleet (node by node)",
        one_by_one,
        "one hash insert per node",
        baseline,
    );

    // The planner.
    let target = target_for(&nodes[1], &cat);
    let reported = ReportedState::default();
    let migrations: Vec<SchemaMigration> = (1..=3)
        .map(|v| SchemaMigration {
            version: v,
            name: format!("m{v}"),
            up_sql: "CREATE TABLE t (x INT)".into(),
            down_sql: None,
            checksum: "00".repeat(32),
            created_at: ts(),
        })
        .collect();
    let plan = time_per_op(5, 20_000, || {
        black_box(planner::plan(&reported, &target, &migrations));
    });
    let clone = time_per_op(5, 20_000, || {
        black_box(reported.clone());
    });
    report(
        "planner (fresh node, 20 functions)",
        plan,
        "clone of the reported state",
        clone,
    );

    // Selector matching.
    let selector = Selector::parse("tier=edge,region in (eu,us),rack!=r7").unwrap();
    let labels = &nodes[1].labels;
    let matching = time_per_op(5, 200_000, || {
        black_box(selector.matches(labels));
    });
    let lookup = time_per_op(5, 200_000, || {
        black_box(labels.get("tier"));
    });
    report(
        "selector match (3 requirements)",
        matching,
        "one label lookup",
        lookup,
    );

    // Route matching.
    let routes: Vec<(RoutePattern, u32)> = (0..200)
        .map(|i| {
            (
                RoutePattern::parse(
                    None,
                    &format!("/api/v{}/items/:id/parts/:part", i % 20),
                    &[],
                )
                .unwrap(),
                i,
            )
        })
        .chain(std::iter::once((
            RoutePattern::parse(None, "/static/...", &[]).unwrap(),
            999,
        )))
        .collect();
    let table = RouteTable::new(routes);
    let exact: HashMap<String, u32> = (0..200).map(|i| (format!("/api/v{i}/items"), i)).collect();
    let route = time_per_op(5, 50_000, || {
        black_box(table.lookup(None, "GET", "/api/v7/items/42/parts/9"));
    });
    let hash = time_per_op(5, 50_000, || {
        black_box(exact.get("/api/v7/items"));
    });
    report(
        "route match (201 routes)",
        route,
        "exact-path hash lookup",
        hash,
    );

    // Node-token verification.
    let issuer = NodeTokenIssuer::new(&[9u8; 32], Duration::from_secs(3600)).unwrap();
    let (token, _) = issuer.issue(NodeId::random(), 1, ts()).unwrap();
    let verify = time_per_op(5, 20_000, || {
        black_box(issuer.verify(&token, ts()).unwrap());
    });
    let hmac = time_per_op(5, 20_000, || {
        black_box(edgesync_core::auth::request_signing::sign(
            &[9u8; 32], &token,
        ));
    });
    report(
        "node token verification (HS256)",
        verify,
        "one HMAC-SHA256 of the token",
        hmac,
    );
}
