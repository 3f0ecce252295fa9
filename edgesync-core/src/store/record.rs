//! The records a [`Store`](super::Store) keeps, their keys and their unique values.

use serde::{Deserialize, Serialize};

use crate::model::*;

/// Every kind of record, one variant per entity.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "data", rename_all = "snake_case")]
pub enum Record {
    /// A node's identity and operator-set state.
    Node(Node),
    /// What a node reports (written behind heartbeats and with acks).
    NodeState(NodeState),
    /// A function.
    Function(Function),
    /// One version of a function.
    FunctionVersion(FunctionVersion),
    /// A schema migration.
    Migration(SchemaMigration),
    /// A deployment.
    Deployment(Deployment),
    /// A deployment's state on one node.
    NodeDeployment(NodeDeployment),
    /// A route.
    Route(Route),
    /// A sync history entry.
    SyncRecord(SyncRecord),
    /// A telemetry sample.
    Telemetry(TelemetryPoint),
    /// A command for a node.
    Command(Command),
    /// An API key.
    ApiKey(ApiKey),
    /// A cluster-wide setting.
    Setting(Setting),
    /// The presence of the nodes of one bucket (written behind heartbeats).
    Presence(PresenceBucket),
}

/// The kinds of record; one table (SQL) or tree (sled) each.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// [`Record::Node`].
    Node,
    /// [`Record::NodeState`].
    NodeState,
    /// [`Record::Function`].
    Function,
    /// [`Record::FunctionVersion`].
    FunctionVersion,
    /// [`Record::Migration`].
    Migration,
    /// [`Record::Deployment`].
    Deployment,
    /// [`Record::NodeDeployment`].
    NodeDeployment,
    /// [`Record::Route`].
    Route,
    /// [`Record::SyncRecord`].
    SyncRecord,
    /// [`Record::Telemetry`].
    Telemetry,
    /// [`Record::Command`].
    Command,
    /// [`Record::ApiKey`].
    ApiKey,
    /// [`Record::Setting`].
    Setting,
    /// [`Record::Presence`]. Last: a kind's position is its key tag, stored in every key.
    Presence,
}

impl Kind {
    /// Every kind.
    pub const ALL: [Kind; 14] = [
        Kind::Node,
        Kind::NodeState,
        Kind::Function,
        Kind::FunctionVersion,
        Kind::Migration,
        Kind::Deployment,
        Kind::NodeDeployment,
        Kind::Route,
        Kind::SyncRecord,
        Kind::Telemetry,
        Kind::Command,
        Kind::ApiKey,
        Kind::Setting,
        Kind::Presence,
    ];

    /// A stable snake_case name (table / tree name).
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Node => "nodes",
            Kind::NodeState => "node_states",
            Kind::Function => "functions",
            Kind::FunctionVersion => "function_versions",
            Kind::Migration => "schema_migrations",
            Kind::Deployment => "deployments",
            Kind::NodeDeployment => "node_function_deployments",
            Kind::Route => "routes",
            Kind::SyncRecord => "sync_records",
            Kind::Telemetry => "telemetry",
            Kind::Command => "commands",
            Kind::ApiKey => "api_keys",
            Kind::Setting => "settings",
            Kind::Presence => "node_presence",
        }
    }

    fn tag(self) -> u8 {
        self as u8
    }
}

/// The primary key of a record. Keys sort by their [encoding](Self::encode): within a kind, in
/// the order of their fields, except that telemetry sorts by the hour of its sample first.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum RecordKey {
    /// A node.
    Node {
        /// The node.
        id: NodeId,
    },
    /// A node's reported state.
    NodeState {
        /// The node.
        node_id: NodeId,
    },
    /// A function.
    Function {
        /// The function.
        id: FunctionId,
    },
    /// A function version.
    FunctionVersion {
        /// The function.
        function_id: FunctionId,
        /// The version.
        version: u32,
    },
    /// A migration.
    Migration {
        /// Its version.
        version: u64,
    },
    /// A deployment.
    Deployment {
        /// The deployment.
        id: DeploymentId,
    },
    /// A deployment's state on a node.
    NodeDeployment {
        /// The deployment.
        deployment_id: DeploymentId,
        /// The node.
        node_id: NodeId,
    },
    /// A route.
    Route {
        /// The route.
        id: RouteId,
    },
    /// A sync record.
    SyncRecord {
        /// The node.
        node_id: NodeId,
        /// The record (time-ordered).
        id: SyncRecordId,
    },
    /// A telemetry sample. Its encoding starts with the sample's hour
    /// ([`telemetry_hour`]), so that retention finds the oldest samples first.
    Telemetry {
        /// The node.
        node_id: NodeId,
        /// The metric.
        metric: String,
        /// Unix nanoseconds of the sample.
        ts_nanos: i64,
        /// Tie breaker.
        seq: u32,
    },
    /// A command.
    Command {
        /// The node.
        node_id: NodeId,
        /// The command (time-ordered).
        id: CommandId,
    },
    /// An API key.
    ApiKey {
        /// The key.
        id: ApiKeyId,
    },
    /// A setting.
    Setting {
        /// Its name.
        name: String,
    },
    /// A presence bucket.
    Presence {
        /// The bucket.
        bucket: u16,
    },
}

impl RecordKey {
    /// The kind of record this key addresses.
    pub fn kind(&self) -> Kind {
        match self {
            RecordKey::Node { .. } => Kind::Node,
            RecordKey::NodeState { .. } => Kind::NodeState,
            RecordKey::Function { .. } => Kind::Function,
            RecordKey::FunctionVersion { .. } => Kind::FunctionVersion,
            RecordKey::Migration { .. } => Kind::Migration,
            RecordKey::Deployment { .. } => Kind::Deployment,
            RecordKey::NodeDeployment { .. } => Kind::NodeDeployment,
            RecordKey::Route { .. } => Kind::Route,
            RecordKey::SyncRecord { .. } => Kind::SyncRecord,
            RecordKey::Telemetry { .. } => Kind::Telemetry,
            RecordKey::Command { .. } => Kind::Command,
            RecordKey::ApiKey { .. } => Kind::ApiKey,
            RecordKey::Setting { .. } => Kind::Setting,
            RecordKey::Presence { .. } => Kind::Presence,
        }
    }

    /// An order-preserving byte encoding: a kind tag, then the fields in order. Byte order of
    /// encodings equals the order of keys, and a collection's keys share its prefix.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(48);
        out.push(self.kind().tag());
        match self {
            RecordKey::Node { id } => out.extend_from_slice(id.as_uuid().as_bytes()),
            RecordKey::NodeState { node_id } => out.extend_from_slice(node_id.as_uuid().as_bytes()),
            RecordKey::Function { id } => out.extend_from_slice(id.as_uuid().as_bytes()),
            RecordKey::FunctionVersion {
                function_id,
                version,
            } => {
                out.extend_from_slice(function_id.as_uuid().as_bytes());
                out.extend_from_slice(&version.to_be_bytes());
            }
            RecordKey::Migration { version } => out.extend_from_slice(&version.to_be_bytes()),
            RecordKey::Deployment { id } => out.extend_from_slice(id.as_uuid().as_bytes()),
            RecordKey::NodeDeployment {
                deployment_id,
                node_id,
            } => {
                out.extend_from_slice(deployment_id.as_uuid().as_bytes());
                out.extend_from_slice(node_id.as_uuid().as_bytes());
            }
            RecordKey::Route { id } => out.extend_from_slice(id.as_uuid().as_bytes()),
            RecordKey::SyncRecord { node_id, id } => {
                out.extend_from_slice(node_id.as_uuid().as_bytes());
                out.extend_from_slice(id.as_uuid().as_bytes());
            }
            RecordKey::Telemetry {
                node_id,
                metric,
                ts_nanos,
                seq,
            } => {
                out.extend_from_slice(&ordered_i64(telemetry_hour(*ts_nanos)));
                out.extend_from_slice(node_id.as_uuid().as_bytes());
                encode_str(&mut out, metric);
                out.extend_from_slice(&ordered_i64(*ts_nanos));
                out.extend_from_slice(&seq.to_be_bytes());
            }
            RecordKey::Command { node_id, id } => {
                out.extend_from_slice(node_id.as_uuid().as_bytes());
                out.extend_from_slice(id.as_uuid().as_bytes());
            }
            RecordKey::ApiKey { id } => out.extend_from_slice(id.as_uuid().as_bytes()),
            RecordKey::Setting { name } => encode_str(&mut out, name),
            RecordKey::Presence { bucket } => out.extend_from_slice(&bucket.to_be_bytes()),
        }
        out
    }
}

/// Nanoseconds in an hour, the span of a telemetry key's leading field.
pub const TELEMETRY_HOUR_NANOS: i64 = 3_600_000_000_000;

/// The hour (since the Unix epoch) a telemetry sample stamped `ts_nanos` falls in: the first
/// field of its key. Samples sort by hour, then node, metric and time, so whole past hours can
/// be dropped by reading only them, and one node's series is a range within each hour.
pub fn telemetry_hour(ts_nanos: i64) -> i64 {
    ts_nanos.div_euclid(TELEMETRY_HOUR_NANOS)
}

/// Strings are NUL-terminated so that a shorter string sorts before its extensions and a prefix
/// of one field never runs into the next. Model validation keeps NUL out of names.
fn encode_str(out: &mut Vec<u8>, s: &str) {
    out.extend_from_slice(s.as_bytes());
    out.push(0);
}

fn ordered_i64(v: i64) -> [u8; 8] {
    ((v as u64) ^ (1 << 63)).to_be_bytes()
}

/// A unique secondary index: no two records of its kind may hold the same value.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UniqueIndex {
    /// Node names.
    NodeName,
    /// Function names.
    FunctionName,
    /// `<node_id>/<idempotency key>` of commands.
    CommandIdempotencyKey,
}

impl UniqueIndex {
    /// Every index.
    pub const ALL: [UniqueIndex; 3] = [
        UniqueIndex::NodeName,
        UniqueIndex::FunctionName,
        UniqueIndex::CommandIdempotencyKey,
    ];

    /// The kind of record the index covers.
    pub fn kind(self) -> Kind {
        match self {
            UniqueIndex::NodeName => Kind::Node,
            UniqueIndex::FunctionName => Kind::Function,
            UniqueIndex::CommandIdempotencyKey => Kind::Command,
        }
    }

    /// A stable snake_case name.
    pub fn as_str(self) -> &'static str {
        match self {
            UniqueIndex::NodeName => "node_name",
            UniqueIndex::FunctionName => "function_name",
            UniqueIndex::CommandIdempotencyKey => "command_idempotency_key",
        }
    }
}

impl Record {
    /// The record's primary key.
    pub fn key(&self) -> RecordKey {
        match self {
            Record::Node(n) => RecordKey::Node { id: n.id },
            Record::NodeState(s) => RecordKey::NodeState { node_id: s.node_id },
            Record::Function(f) => RecordKey::Function { id: f.id },
            Record::FunctionVersion(v) => RecordKey::FunctionVersion {
                function_id: v.function_id,
                version: v.version,
            },
            Record::Migration(m) => RecordKey::Migration { version: m.version },
            Record::Deployment(d) => RecordKey::Deployment { id: d.id },
            Record::NodeDeployment(d) => RecordKey::NodeDeployment {
                deployment_id: d.deployment_id,
                node_id: d.node_id,
            },
            Record::Route(r) => RecordKey::Route { id: r.id },
            Record::SyncRecord(s) => RecordKey::SyncRecord {
                node_id: s.node_id,
                id: s.id,
            },
            Record::Telemetry(t) => RecordKey::Telemetry {
                node_id: t.node_id,
                metric: t.metric.clone(),
                ts_nanos: i64::try_from(t.ts.unix_nanos()).unwrap_or(i64::MAX),
                seq: t.seq,
            },
            Record::Command(c) => RecordKey::Command {
                node_id: c.node_id,
                id: c.id,
            },
            Record::ApiKey(k) => RecordKey::ApiKey { id: k.id },
            Record::Setting(s) => RecordKey::Setting {
                name: s.name().to_owned(),
            },
            Record::Presence(p) => RecordKey::Presence { bucket: p.bucket },
        }
    }

    /// The record's kind.
    pub fn kind(&self) -> Kind {
        self.key().kind()
    }

    /// The values this record holds in unique indexes.
    pub fn unique_values(&self) -> Vec<(UniqueIndex, String)> {
        match self {
            Record::Node(n) => vec![(UniqueIndex::NodeName, n.name.clone())],
            Record::Function(f) => vec![(UniqueIndex::FunctionName, f.name.clone())],
            Record::Command(c) => c
                .idempotency_key
                .as_ref()
                .map(|k| {
                    vec![(
                        UniqueIndex::CommandIdempotencyKey,
                        format!("{}/{k}", c.node_id),
                    )]
                })
                .unwrap_or_default(),
            _ => Vec::new(),
        }
    }
}

/// A set of records to list: a kind, optionally narrowed to the children of a parent.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Collection {
    /// All nodes.
    Nodes,
    /// All node states.
    NodeStates,
    /// All functions.
    Functions,
    /// Versions, of one function or of all.
    FunctionVersions {
        /// Narrow to this function.
        function_id: Option<FunctionId>,
    },
    /// All migrations, ascending by version.
    Migrations,
    /// All deployments.
    Deployments,
    /// Per-node deployment states, of one deployment or of all.
    NodeDeployments {
        /// Narrow to this deployment.
        deployment_id: Option<DeploymentId>,
    },
    /// All routes.
    Routes,
    /// Sync records, of one node or of all.
    SyncRecords {
        /// Narrow to this node.
        node_id: Option<NodeId>,
    },
    /// Telemetry: all of it, of one hour ([`telemetry_hour`]), or of one node (and metric)
    /// within an hour.
    Telemetry {
        /// Narrow to this hour.
        hour: Option<i64>,
        /// Narrow to this node (only together with `hour`).
        node_id: Option<NodeId>,
        /// Narrow to this metric (only together with `node_id`).
        metric: Option<String>,
    },
    /// Commands, of one node or of all.
    Commands {
        /// Narrow to this node.
        node_id: Option<NodeId>,
    },
    /// All API keys.
    ApiKeys,
    /// All settings.
    Settings,
    /// All presence buckets.
    Presence,
}

impl Collection {
    /// Every telemetry sample, oldest hour first.
    pub const ALL_TELEMETRY: Collection = Collection::Telemetry {
        hour: None,
        node_id: None,
        metric: None,
    };

    /// The kind of the records in this collection.
    pub fn kind(&self) -> Kind {
        match self {
            Collection::Nodes => Kind::Node,
            Collection::NodeStates => Kind::NodeState,
            Collection::Functions => Kind::Function,
            Collection::FunctionVersions { .. } => Kind::FunctionVersion,
            Collection::Migrations => Kind::Migration,
            Collection::Deployments => Kind::Deployment,
            Collection::NodeDeployments { .. } => Kind::NodeDeployment,
            Collection::Routes => Kind::Route,
            Collection::SyncRecords { .. } => Kind::SyncRecord,
            Collection::Telemetry { .. } => Kind::Telemetry,
            Collection::Commands { .. } => Kind::Command,
            Collection::ApiKeys => Kind::ApiKey,
            Collection::Settings => Kind::Setting,
            Collection::Presence => Kind::Presence,
        }
    }

    /// The byte prefix every encoded key of this collection starts with.
    pub fn key_prefix(&self) -> Vec<u8> {
        let mut out = vec![self.kind().tag()];
        match self {
            Collection::FunctionVersions {
                function_id: Some(id),
            } => out.extend_from_slice(id.as_uuid().as_bytes()),
            Collection::NodeDeployments {
                deployment_id: Some(id),
            } => out.extend_from_slice(id.as_uuid().as_bytes()),
            Collection::SyncRecords { node_id: Some(id) }
            | Collection::Commands { node_id: Some(id) } => {
                out.extend_from_slice(id.as_uuid().as_bytes())
            }
            Collection::Telemetry {
                hour: Some(hour),
                node_id,
                metric,
            } => {
                out.extend_from_slice(&ordered_i64(*hour));
                if let Some(id) = node_id {
                    out.extend_from_slice(id.as_uuid().as_bytes());
                    if let Some(m) = metric {
                        encode_str(&mut out, m);
                    }
                }
            }
            _ => {}
        }
        out
    }

    /// Whether `key` belongs to this collection.
    pub fn contains(&self, key: &RecordKey) -> bool {
        key.encode().starts_with(&self.key_prefix())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(node_id: NodeId, metric: &str, ts_nanos: i64) -> RecordKey {
        RecordKey::Telemetry {
            node_id,
            metric: metric.into(),
            ts_nanos,
            seq: 0,
        }
    }

    #[test]
    fn telemetry_sorts_by_hour_before_node() {
        let (a, b) = (NodeId::random(), NodeId::random());
        let (low, high) = if a.as_uuid() < b.as_uuid() {
            (a, b)
        } else {
            (b, a)
        };
        let early_high = sample(high, "cpu", TELEMETRY_HOUR_NANOS - 1);
        let late_low = sample(low, "cpu", TELEMETRY_HOUR_NANOS);
        assert!(early_high.encode() < late_low.encode());
        // Within an hour: node, then metric, then time.
        let low_later = sample(low, "cpu", 10);
        let high_earlier = sample(high, "cpu", 5);
        assert!(low_later.encode() < high_earlier.encode());
        assert!(sample(low, "a", 9).encode() < sample(low, "b", 1).encode());
        assert!(sample(low, "a", 1).encode() < sample(low, "a", 9).encode());
    }

    #[test]
    fn hours_of_negative_times_round_down() {
        assert_eq!(telemetry_hour(0), 0);
        assert_eq!(telemetry_hour(TELEMETRY_HOUR_NANOS - 1), 0);
        assert_eq!(telemetry_hour(-1), -1);
        assert!(
            sample(NodeId::random(), "m", -1).encode() < sample(NodeId::random(), "m", 0).encode()
        );
    }

    #[test]
    fn telemetry_collections_narrow_within_an_hour() {
        let node = NodeId::random();
        let key = sample(node, "cpu", 5 * TELEMETRY_HOUR_NANOS + 7);
        let with = |hour, node_id, metric: Option<&str>| Collection::Telemetry {
            hour,
            node_id,
            metric: metric.map(str::to_owned),
        };
        assert!(with(None, None, None).contains(&key));
        assert!(with(Some(5), None, None).contains(&key));
        assert!(with(Some(5), Some(node), None).contains(&key));
        assert!(with(Some(5), Some(node), Some("cpu")).contains(&key));
        assert!(!with(Some(4), Some(node), Some("cpu")).contains(&key));
        assert!(!with(Some(5), Some(NodeId::random()), None).contains(&key));
        assert!(!with(Some(5), Some(node), Some("cp")).contains(&key));
        // A node without an hour does not narrow (it could not be a prefix).
        assert!(with(None, Some(NodeId::random()), None).contains(&key));
    }
}
