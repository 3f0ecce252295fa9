//! Sample records of every kind, valid by the model's rules.

use std::collections::BTreeMap;

use crate::model::*;
use crate::selector::Selector;
use crate::store::Record;

fn t(secs: i64) -> Timestamp {
    Timestamp::from_unix_millis(1_767_225_600_000 + secs * 1000)
}

/// A node named `name` in POP `fra`.
pub fn node(name: &str) -> Node {
    Node {
        id: NodeId::random(),
        name: name.to_owned(),
        pop: "fra".into(),
        region: "eu-central".into(),
        labels: BTreeMap::from([("tier".to_owned(), "edge".to_owned())]),
        agent_version: "0.1.0".into(),
        capabilities: vec!["wasm".into()],
        memory_budget_bytes: Some(1 << 30),
        lifecycle: NodeLifecycle::Active,
        credential_generation: 1,
        refresh_secret_bcrypt: Some(
            "$2b$04$abcdefghijklmnopqrstuu5Pz0XJ1v5Y2QYpXG3cK1h9s1QnVxW8W".into(),
        ),
        registered_at: t(0),
        updated_at: t(0),
    }
}

/// What an agent sends to register node `name` in POP `fra` with `labels`.
pub fn registration(name: &str, labels: crate::selector::Labels) -> NodeRegistration {
    NodeRegistration {
        name: name.to_owned(),
        pop: "fra".into(),
        region: String::new(),
        labels,
        agent_version: "1.0.0".into(),
        capabilities: Vec::new(),
        memory_budget_bytes: None,
    }
}

/// The `i`-th node state of a benchmark fleet as a heartbeating agent reports it: `functions`
/// at varying versions, both revisions, usage, last seen at `seen_ms` (Unix milliseconds).
pub fn heartbeat_state(i: usize, functions: &[FunctionId], seen_ms: i64) -> NodeState {
    NodeState {
        node_id: NodeId::random(),
        last_seen_at: Some(Timestamp::from_unix_millis(seen_ms)),
        status: NodeStatus::Online,
        reported: ReportedState {
            functions: functions
                .iter()
                .map(|&function_id| RunningFunction {
                    function_id,
                    version: 1 + (i % 7) as u32,
                })
                .collect(),
            schema_version: 12,
            routes_revision: Some(format!("{:016x}", i * 7919)),
            sync_revision: Some(format!("{:016x}", i * 104_729)),
            resources: ResourceUsage {
                cpu_percent: 10.0 + (i % 900) as f64 / 10.0,
                memory_bytes: 300 << 20,
                disk_bytes: 2 << 30,
            },
        },
    }
}

/// A function named `name` with `latest_version`.
pub fn function(name: &str, latest_version: u32) -> Function {
    Function {
        id: FunctionId::random(),
        name: name.to_owned(),
        latest_version,
        created_at: t(1),
        updated_at: t(1),
        rollbacks: Vec::new(),
    }
}

/// A ready version of a function.
pub fn function_version(function_id: FunctionId, version: u32) -> FunctionVersion {
    FunctionVersion {
        function_id,
        version,
        spec: FunctionSpec {
            name: "hello".into(),
            entrypoint: "_start".into(),
            memory_pages: 16,
            max_execution_ms: 100,
            max_concurrency: 4,
            description: String::new(),
        },
        status: VersionStatus::Ready,
        rejection: None,
        sha256: Some("ab".repeat(32)),
        size: Some(1234),
        module: Some(ModuleSummary {
            exports: vec![ModuleItem {
                module: None,
                name: "_start".into(),
                kind: "function".into(),
                signature: Some("() -> ()".into()),
            }],
            imports: vec![],
            memory_initial_pages: Some(1),
            memory_maximum_pages: None,
        }),
        compatibility: None,
        upload_expires_at: None,
        created_at: t(2),
    }
}

/// One record of every kind, related to each other.
pub fn one_of_each() -> Vec<Record> {
    let n = node("fixture-node");
    let f = function("fixture-fn", 1);
    let d = Deployment {
        id: DeploymentId::random(),
        name: "canary".into(),
        function_id: f.id,
        version: 1,
        selector: Selector::parse("tier=edge,region in (eu,us)")
            .unwrap_or_else(|_| Selector::everything()),
        pop: Some("fra".into()),
        priority: 10,
        strategy: Strategy {
            kind: StrategyKind::Batches,
            batch_size: Some(2),
            max_failure_ratio: 0.25,
            ..Strategy::default()
        },
        status: DeploymentStatus::InProgress,
        status_reason: None,
        rollout: Rollout {
            batches: vec![vec![NodeId::random()]],
            released: 1,
            ..Rollout::default()
        },
        created_at: t(3),
        updated_at: t(3),
    };
    vec![
        Record::NodeState(NodeState {
            node_id: n.id,
            last_seen_at: Some(t(4)),
            status: NodeStatus::Online,
            reported: ReportedState {
                functions: vec![RunningFunction {
                    function_id: f.id,
                    version: 1,
                }],
                schema_version: 2,
                routes_revision: Some("r1".into()),
                sync_revision: Some("s1".into()),
                resources: ResourceUsage {
                    cpu_percent: 12.5,
                    memory_bytes: 1 << 20,
                    disk_bytes: 1 << 24,
                },
            },
        }),
        Record::FunctionVersion(function_version(f.id, 1)),
        Record::Migration(SchemaMigration {
            version: 1,
            name: "init".into(),
            up_sql: "CREATE TABLE kv (k TEXT PRIMARY KEY, v TEXT)".into(),
            down_sql: Some("DROP TABLE kv".into()),
            checksum: "cd".repeat(32),
            created_at: t(5),
        }),
        Record::NodeDeployment(NodeDeployment {
            deployment_id: d.id,
            node_id: n.id,
            state: NodeDeploymentState::Failed,
            error: Some("sha256 mismatch".into()),
            error_code: Some("sha256_mismatch".into()),
            attempts: 2,
            updated_at: t(6),
        }),
        Record::Route(Route {
            id: RouteId::random(),
            host: Some("*.example.com".into()),
            path: "/users/:id".into(),
            methods: vec!["GET".into()],
            function_id: f.id,
            created_at: t(7),
            updated_at: t(7),
        }),
        Record::SyncRecord(SyncRecord {
            id: SyncRecordId::ordered(),
            node_id: n.id,
            plan_id: PlanId::random(),
            revision: "rev-1".into(),
            base: ReportedState::default(),
            actions: vec![PlanAction {
                id: 0,
                action: Action::RemoveFunction { function_id: f.id },
            }],
            results: vec![ActionResult {
                action_id: 0,
                succeeded: false,
                error_code: Some("sha256_mismatch".into()),
                error: Some("digest differs".into()),
            }],
            status: SyncStatus::Failed,
            planned_at: t(8),
            acked_at: Some(t(9)),
        }),
        Record::Telemetry(TelemetryPoint {
            node_id: n.id,
            metric: "cpu".into(),
            ts: t(10),
            seq: 0,
            value: 0.5,
            labels: BTreeMap::from([("core".to_owned(), "0".to_owned())]),
        }),
        Record::Command(Command {
            id: CommandId::ordered(),
            node_id: n.id,
            kind: "flush_cache".into(),
            payload: serde_json::json!({"all": true}),
            idempotency_key: Some("k1".into()),
            status: CommandStatus::Queued,
            created_at: t(11),
            deadline: t(71),
            delivered_at: None,
            finished_at: None,
            output: None,
            deliveries: 0,
            late_result: None,
        }),
        Record::ApiKey(ApiKey {
            id: ApiKeyId::random(),
            name: "ci".into(),
            scopes: vec![Scope::Deploy, Scope::Read],
            secret_sha256: "ef".repeat(32),
            secret_prefix: "esk_abcd".into(),
            created_at: t(12),
            expires_at: Some(t(1000)),
            revoked_at: None,
            last_used_at: None,
            require_signature: true,
            previous_secret_sha256: Some("01".repeat(32)),
            previous_valid_until: Some(t(500)),
            rotated_at: Some(t(400)),
        }),
        Record::Setting(Setting::ServerSecrets(ServerSecrets {
            jwt_key: "a2V5".into(),
            url_key: "a2V5Mg==".into(),
        })),
        Record::Presence(PresenceBucket {
            bucket: presence_bucket(n.id),
            entries: vec![PresenceEntry {
                node_id: n.id,
                last_seen_at: t(13),
                resources: ResourceUsage {
                    cpu_percent: 12.5,
                    memory_bytes: 1 << 20,
                    disk_bytes: 3,
                },
            }],
        }),
        Record::Deployment(d),
        Record::Function(f),
        Record::Node(n),
    ]
}
