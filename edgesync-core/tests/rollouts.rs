//! Safe rollouts on a simulated fleet, with time driven by a manual clock: batches and their
//! gates, the breaker and automatic rollback, pause / resume / abort, timeouts, bounded retries,
//! and previews that match what the rollout then does.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use edgesync_core::control::{NewDeployment, plan_hash};
use edgesync_core::model::*;
use edgesync_core::selector::{Labels, Selector};
use edgesync_core::store::memory::MemoryStore;
use edgesync_core::testkit::sim::{SimNode, converge};
use edgesync_core::testkit::{ManualClock, MemArtifacts, wasm_fixtures};
use edgesync_core::{EdgeSync, ErrorCode};
use futures::StreamExt;

struct Fleet {
    es: EdgeSync,
    clock: Arc<ManualClock>,
    nodes: Vec<SimNode>,
    function: FunctionId,
}

async fn fleet(n: usize) -> Fleet {
    let clock = Arc::new(ManualClock::starting_now());
    let es = EdgeSync::builder()
        .store(Arc::new(MemoryStore::new()))
        .artifacts(Arc::new(MemArtifacts::default()))
        .clock(clock.clone())
        .build()
        .await
        .unwrap();
    let mut nodes = Vec::new();
    for i in 0..n {
        let pop = ["fra", "ams", "lhr", "iad"][i % 4];
        let labels: Labels = [("tier".to_owned(), "edge".to_owned())].into();
        nodes.push(
            SimNode::register(&es, &format!("n{i:03}"), pop, labels)
                .await
                .unwrap(),
        );
    }
    let mut function = None;
    for v in 1..=2 {
        let body = futures::stream::iter([Ok(Bytes::from(wasm_fixtures::numbered(v)))]).boxed();
        let (f, _) = es
            .upload_function(
                FunctionSpec {
                    name: "api".into(),
                    entrypoint: "_start".into(),
                    memory_pages: 1,
                    max_execution_ms: 10,
                    max_concurrency: 1,
                    description: String::new(),
                },
                body,
            )
            .await
            .unwrap();
        function = Some(f.id);
    }
    Fleet {
        es,
        clock,
        nodes,
        function: function.unwrap(),
    }
}

impl Fleet {
    async fn deploy(&self, version: u32, strategy: Strategy) -> DeploymentId {
        self.es
            .create_deployment(NewDeployment {
                name: format!("v{version}"),
                function_id: self.function,
                version,
                selector: Selector::parse("tier=edge").unwrap(),
                pop: None,
                priority: 0,
                allow_breaking: true,
                strategy,
            })
            .await
            .unwrap()
            .deployment
            .id
    }

    /// One round: every node syncs, time passes, maintenance (the rollout engine) runs.
    async fn tick(&mut self, secs: u64) {
        converge(&self.es, &mut self.nodes, 1).await.unwrap();
        self.clock.advance(Duration::from_secs(secs));
        self.es.run_maintenance().await.unwrap();
    }

    fn running(&self, version: u32) -> usize {
        self.nodes
            .iter()
            .filter(|n| n.runs().get(&self.function) == Some(&version))
            .count()
    }

    fn status(&self, d: DeploymentId) -> DeploymentStatus {
        self.es.deployment(d).unwrap().status
    }
}

fn batches(size: u32) -> Strategy {
    Strategy {
        kind: StrategyKind::Batches,
        batch_size: Some(size),
        ..Strategy::default()
    }
}

/// Batches of `batch_size`, no retries, rolled back once more than 5 % of at least
/// `min_executed` nodes failed.
fn rolled_back_past_5_percent(min_executed: u32, batch_size: u32) -> Strategy {
    Strategy {
        max_failure_ratio: 0.05,
        min_executed,
        auto_rollback: true,
        max_retries: 0,
        ..batches(batch_size)
    }
}

#[tokio::test]
async fn ten_percent_failing_nodes_trip_the_breaker_and_everything_rolls_back() {
    let mut f = fleet(200).await;
    f.deploy(1, Strategy::default()).await;
    converge(&f.es, &mut f.nodes, 5).await.unwrap();
    assert_eq!(f.running(1), 200);

    // Every tenth node fails every install of the function from now on.
    for (i, n) in f.nodes.iter_mut().enumerate() {
        if i % 10 == 3 {
            n.behavior.failing_functions = vec![f.function];
        }
    }
    let d = f.deploy(2, rolled_back_past_5_percent(10, 20)).await;
    let mut rounds = 0;
    while !f.status(d).is_terminal() {
        f.tick(1).await;
        rounds += 1;
        assert!(rounds < 100, "the rollout never ended");
    }
    assert_eq!(f.status(d), DeploymentStatus::RolledBack);
    // Converge back: every node runs v1 again (the previous deployment's version).
    converge(&f.es, &mut f.nodes, 5).await.unwrap();
    assert_eq!(f.running(1), 200, "every changed node went back");
    assert_eq!(f.running(2), 0);

    let detail = f.es.deployment(d).unwrap();
    let failed = detail.count(NodeDeploymentState::Failed);
    let rolled_back = detail.count(NodeDeploymentState::RolledBack);
    // It halted within its threshold: only the first batch ran.
    assert!(
        failed + rolled_back <= 20,
        "{failed} failed, {rolled_back} rolled back"
    );
    assert!(failed >= 1);
    assert_eq!(
        detail.failure_reasons(),
        BTreeMap::from([("simulated_failure".to_owned(), failed as u64)])
    );
    assert!(
        detail
            .deployment
            .status_reason
            .as_deref()
            .unwrap()
            .contains("rolled back")
    );
}

#[tokio::test]
async fn healthy_batches_release_one_after_another() {
    let mut f = fleet(40).await;
    let d = f
        .deploy(
            1,
            Strategy {
                bake_s: 30,
                ..batches(10)
            },
        )
        .await;
    assert_eq!(
        f.es.deployment(d).unwrap().deployment.rollout.batches.len(),
        4
    );
    f.tick(1).await;
    assert_eq!(f.running(1), 10, "only the first batch");
    // Healthy, but baking.
    f.tick(10).await;
    converge(&f.es, &mut f.nodes, 1).await.unwrap();
    assert_eq!(f.running(1), 10);
    f.tick(25).await;
    converge(&f.es, &mut f.nodes, 1).await.unwrap();
    assert_eq!(f.running(1), 20, "the second batch after the bake time");
    for _ in 0..20 {
        f.tick(31).await;
    }
    assert_eq!(f.running(1), 40);
    assert_eq!(f.status(d), DeploymentStatus::Completed);
}

#[tokio::test]
async fn canary_and_pop_by_pop_plans() {
    let f = fleet(12).await;
    let canary = f
        .deploy(
            1,
            Strategy {
                kind: StrategyKind::Canary,
                ..Strategy::default()
            },
        )
        .await;
    let plan = f.es.deployment(canary).unwrap().deployment.rollout.batches;
    assert_eq!(plan.iter().map(Vec::len).collect::<Vec<_>>(), vec![1, 11]);
    f.es.delete_deployment(canary).await.unwrap();

    let by_pop = f
        .deploy(
            2,
            Strategy {
                kind: StrategyKind::Batches,
                order_by: Some("pop".into()),
                ..Strategy::default()
            },
        )
        .await;
    let plan = f.es.deployment(by_pop).unwrap().deployment.rollout.batches;
    assert_eq!(plan.len(), 4, "one batch per POP");
    for batch in &plan {
        let pops: std::collections::BTreeSet<String> = batch
            .iter()
            .map(|n| f.es.get_node(*n).unwrap().node.pop)
            .collect();
        assert_eq!(pops.len(), 1);
    }
    let limited = f
        .deploy(
            1,
            Strategy {
                max_per_minute: Some(5),
                ..batches(12)
            },
        )
        .await;
    assert!(
        f.es.deployment(limited)
            .unwrap()
            .deployment
            .rollout
            .batches
            .iter()
            .all(|b| b.len() <= 5)
    );
}

#[tokio::test]
async fn pause_resume_and_abort_at_every_stage() {
    let mut f = fleet(30).await;
    let d = f.deploy(1, batches(10)).await;
    // The first batch is released at creation; pause before the engine moves on.
    f.es.pause_deployment(d).await.unwrap();
    for _ in 0..5 {
        f.tick(60).await;
    }
    converge(&f.es, &mut f.nodes, 2).await.unwrap();
    assert_eq!(f.running(1), 10, "paused: no new batch");
    assert_eq!(f.status(d), DeploymentStatus::Paused);
    f.es.resume_deployment(d).await.unwrap();
    f.tick(1).await;
    converge(&f.es, &mut f.nodes, 2).await.unwrap();
    assert_eq!(f.running(1), 20, "resumed: the next batch");
    f.es.abort_deployment(d).await.unwrap();
    converge(&f.es, &mut f.nodes, 3).await.unwrap();
    assert_eq!(f.running(1), 0, "abort: nodes go back to nothing");
    assert_eq!(f.status(d), DeploymentStatus::Aborted);
    assert_eq!(
        f.es.resume_deployment(d).await.unwrap_err().code(),
        ErrorCode::DeploymentNotChangeable
    );
    assert_eq!(
        f.es.pause_deployment(d).await.unwrap_err().code(),
        ErrorCode::DeploymentNotChangeable
    );

    // A halted rollout (no automatic rollback) can be resumed or aborted.
    for n in f.nodes.iter_mut().take(3) {
        n.behavior.fail_all_installs = true;
    }
    let h = f
        .deploy(
            2,
            Strategy {
                max_failure_ratio: 0.1,
                max_retries: 0,
                ..batches(10)
            },
        )
        .await;
    for _ in 0..5 {
        f.tick(1).await;
    }
    assert_eq!(f.status(h), DeploymentStatus::Halted);
    assert_eq!(
        f.running(2),
        7,
        "halted: the healthy nodes of the batch keep it"
    );
    f.es.resume_deployment(h).await.unwrap();
    assert_eq!(f.status(h), DeploymentStatus::InProgress);
    f.es.abort_deployment(h).await.unwrap();
    converge(&f.es, &mut f.nodes, 3).await.unwrap();
    assert_eq!(f.running(2), 0);
}

#[tokio::test]
async fn silent_nodes_time_out_instead_of_hanging_the_rollout() {
    let mut f = fleet(10).await;
    let d = f
        .deploy(
            1,
            Strategy {
                batch_timeout_s: 60,
                ..batches(5)
            },
        )
        .await;
    // Nobody syncs: the first batch times out.
    f.clock.advance(Duration::from_secs(61));
    f.es.run_maintenance().await.unwrap();
    let detail = f.es.deployment(d).unwrap();
    assert_eq!(detail.failure_reasons().get("timeout"), Some(&5));
    // The default breaker never trips, so the rollout goes on and ends.
    for _ in 0..5 {
        f.tick(61).await;
    }
    assert!(f.status(d).is_terminal(), "{:?}", f.status(d));
    assert_eq!(
        f.running(1),
        5,
        "the second batch ran; the timed-out nodes were given up on"
    );
}

#[tokio::test]
async fn failed_nodes_are_retried_a_bounded_number_of_times() {
    let mut f = fleet(4).await;
    f.deploy(1, Strategy::default()).await;
    converge(&f.es, &mut f.nodes, 3).await.unwrap();
    f.nodes[0].behavior.failing_functions = vec![f.function];
    let d = f
        .deploy(
            2,
            Strategy {
                max_retries: 2,
                ..Strategy::default()
            },
        )
        .await;
    for _ in 0..10 {
        f.tick(1).await;
    }
    let detail = f.es.deployment(d).unwrap();
    let n0 = detail
        .nodes
        .iter()
        .find(|n| n.node_id == f.nodes[0].id)
        .unwrap();
    assert_eq!(n0.state, NodeDeploymentState::Failed);
    assert_eq!(n0.attempts, 3, "the first try and two retries");
    assert_eq!(
        f.nodes[0].runs().get(&f.function),
        Some(&1),
        "given up on: stays on v1"
    );
    assert_eq!(f.running(2), 3);
}

#[tokio::test]
async fn previews_match_what_the_rollout_then_does() {
    let mut f = fleet(8).await;
    let v2 = f.es.function_version(f.function, Some(2)).await.unwrap();
    let strategy = batches(3);
    let draft = Deployment {
        id: DeploymentId::ordered(),
        name: "preview".into(),
        function_id: f.function,
        version: 2,
        selector: Selector::parse("tier=edge").unwrap(),
        pop: None,
        priority: 0,
        strategy: strategy.clone(),
        status: DeploymentStatus::InProgress,
        status_reason: None,
        rollout: Rollout::default(),
        created_at: edgesync_core::Clock::now(f.clock.as_ref()),
        updated_at: edgesync_core::Clock::now(f.clock.as_ref()),
    };
    let preview = f.es.preview_deployment(&draft, "api", &v2);
    assert_eq!(preview.nodes.len(), 8);
    assert!(preview.nodes.iter().all(|n| n.wins));
    assert_eq!(f.es.deployments().len(), 0, "a preview changes nothing");

    let d = f.deploy(2, strategy).await;
    let real = f.es.deployment(d).unwrap().deployment.rollout.batches;
    assert_eq!(preview.batches, real, "same batches");
    for node in &preview.nodes {
        if node.batch == Some(0) {
            let plan = f.es.sync_plan(node.node_id).await.unwrap();
            let actions: Vec<Action> = plan
                .actions
                .iter()
                .map(|a| a.action.action.clone())
                .collect();
            assert_eq!(plan_hash(&actions), node.plan_hash, "{}", node.node_name);
        }
    }
    f.tick(1).await;
}

#[tokio::test]
async fn a_rollback_marks_nodes_that_hold_an_unacknowledged_first_install() {
    let mut f = fleet(20).await;
    f.deploy(1, Strategy::default()).await;
    converge(&f.es, &mut f.nodes, 5).await.unwrap();
    for n in &mut f.nodes[..2] {
        n.behavior.failing_functions = vec![f.function];
    }
    let d = f.deploy(2, rolled_back_past_5_percent(2, 10)).await;
    let released: Vec<NodeId> =
        f.es.deployment(d)
            .unwrap()
            .deployment
            .rollout
            .released_nodes()
            .copied()
            .collect();
    // Two released nodes fail their install; two others take their plan and do not answer yet.
    let mut holding = Vec::new();
    for n in &mut f.nodes {
        if !released.contains(&n.id) {
            continue;
        }
        if !n.behavior.failing_functions.is_empty() {
            n.sync_once(&f.es).await.unwrap();
        } else if holding.len() < 2 {
            f.es.sync_plan(n.id).await.unwrap();
            holding.push(n.id);
        }
    }
    assert_eq!(holding.len(), 2, "the first batch holds healthy nodes");
    let state_of = |f: &Fleet, node: NodeId| {
        f.es.deployment(d)
            .unwrap()
            .nodes
            .into_iter()
            .find(|s| s.node_id == node)
            .unwrap()
            .state
    };
    assert_eq!(state_of(&f, holding[0]), NodeDeploymentState::Installing);

    f.es.run_maintenance().await.unwrap();
    assert_eq!(f.status(d), DeploymentStatus::RolledBack);
    for node in holding {
        assert_eq!(state_of(&f, node), NodeDeploymentState::RolledBack);
    }
}
