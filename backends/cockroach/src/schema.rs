//! The relational layout: which table holds each kind of record, its key columns (in the order
//! of [`RecordKey`](edgesync_core::store::RecordKey)'s fields) and the copied columns.
//!
//! This must agree with `migrations/`: every commit writes exactly these columns, so the
//! conformance suite's round trip of every kind checks them against the migrated tables.

use edgesync_core::store::{Kind, UniqueIndex};

/// The SQL type of a key column, which decides how it is bound and compared.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum KeyType {
    /// `UUID`: compared bytewise by PostgreSQL and CockroachDB, like `Uuid`'s `Ord`.
    Uuid,
    /// `BIGINT`.
    Int8,
    /// `TEXT`: compared with `COLLATE "C"` (bytewise, like Rust's `str` order).
    Text,
}

/// One record kind's table.
#[derive(Debug)]
pub(crate) struct Table {
    /// The table name (`Kind::as_str()`).
    pub(crate) name: &'static str,
    /// The primary key's columns, in key order.
    pub(crate) key: &'static [(&'static str, KeyType)],
    /// How many leading key columns the database computes from the others (`GENERATED ALWAYS
    /// AS … STORED`): filtered, ordered and deleted by, never inserted. Telemetry's `hour`.
    pub(crate) computed_key: usize,
    /// Columns copied from the record for operators' queries, in the order
    /// `codec::columns` produces their values.
    pub(crate) columns: &'static [&'static str],
}

use KeyType::{Int8, Text, Uuid};

const NODES: Table = Table {
    name: "nodes",
    computed_key: 0,
    key: &[("id", Uuid)],
    columns: &[
        "name",
        "pop",
        "region",
        "lifecycle",
        "agent_version",
        "registered_at",
        "updated_at",
    ],
};
const NODE_STATES: Table = Table {
    name: "node_states",
    computed_key: 0,
    key: &[("node_id", Uuid)],
    columns: &["status", "last_seen_at"],
};
const FUNCTIONS: Table = Table {
    name: "functions",
    computed_key: 0,
    key: &[("id", Uuid)],
    columns: &["name", "latest_version", "created_at", "updated_at"],
};
const FUNCTION_VERSIONS: Table = Table {
    name: "function_versions",
    computed_key: 0,
    key: &[("function_id", Uuid), ("version", Int8)],
    columns: &["status", "sha256", "size", "created_at"],
};
const SCHEMA_MIGRATIONS: Table = Table {
    name: "schema_migrations",
    computed_key: 0,
    key: &[("version", Int8)],
    columns: &["name", "checksum", "created_at"],
};
const DEPLOYMENTS: Table = Table {
    name: "deployments",
    computed_key: 0,
    key: &[("id", Uuid)],
    columns: &[
        "name",
        "function_id",
        "version",
        "status",
        "pop",
        "priority",
        "created_at",
        "updated_at",
    ],
};
const NODE_FUNCTION_DEPLOYMENTS: Table = Table {
    name: "node_function_deployments",
    computed_key: 0,
    key: &[("deployment_id", Uuid), ("node_id", Uuid)],
    columns: &["state", "attempts", "updated_at"],
};
const ROUTES: Table = Table {
    name: "routes",
    computed_key: 0,
    key: &[("id", Uuid)],
    columns: &["host", "path", "function_id", "created_at", "updated_at"],
};
const SYNC_RECORDS: Table = Table {
    name: "sync_records",
    computed_key: 0,
    key: &[("node_id", Uuid), ("id", Uuid)],
    columns: &[
        "plan_id",
        "target_revision",
        "status",
        "planned_at",
        "acked_at",
    ],
};
const TELEMETRY: Table = Table {
    name: "telemetry",
    computed_key: 1,
    key: &[
        ("hour", Int8),
        ("node_id", Uuid),
        ("metric", Text),
        ("ts_nanos", Int8),
        ("seq", Int8),
    ],
    columns: &["ts", "value"],
};
const COMMANDS: Table = Table {
    name: "commands",
    computed_key: 0,
    key: &[("node_id", Uuid), ("id", Uuid)],
    columns: &[
        "kind",
        "status",
        "idempotency_key",
        "created_at",
        "deadline",
    ],
};
const API_KEYS: Table = Table {
    name: "api_keys",
    computed_key: 0,
    key: &[("id", Uuid)],
    columns: &[
        "name",
        "secret_prefix",
        "created_at",
        "expires_at",
        "revoked_at",
    ],
};
const SETTINGS: Table = Table {
    name: "settings",
    computed_key: 0,
    key: &[("name", Text)],
    columns: &[],
};

const NODE_PRESENCE: Table = Table {
    name: "node_presence",
    computed_key: 0,
    key: &[("bucket", Int8)],
    columns: &[],
};

/// The table of a kind.
pub(crate) fn table(kind: Kind) -> &'static Table {
    match kind {
        Kind::Node => &NODES,
        Kind::NodeState => &NODE_STATES,
        Kind::Function => &FUNCTIONS,
        Kind::FunctionVersion => &FUNCTION_VERSIONS,
        Kind::Migration => &SCHEMA_MIGRATIONS,
        Kind::Deployment => &DEPLOYMENTS,
        Kind::NodeDeployment => &NODE_FUNCTION_DEPLOYMENTS,
        Kind::Route => &ROUTES,
        Kind::SyncRecord => &SYNC_RECORDS,
        Kind::Telemetry => &TELEMETRY,
        Kind::Command => &COMMANDS,
        Kind::ApiKey => &API_KEYS,
        Kind::Setting => &SETTINGS,
        Kind::Presence => &NODE_PRESENCE,
    }
}

/// The unique constraint behind each unique index, named in the migrations.
const UNIQUE_CONSTRAINTS: [(UniqueIndex, &str); 3] = [
    (UniqueIndex::NodeName, "nodes_name_key"),
    (UniqueIndex::FunctionName, "functions_name_key"),
    (
        UniqueIndex::CommandIdempotencyKey,
        "commands_idempotency_key",
    ),
];

/// The unique index a violated constraint enforces, if it enforces one.
pub(crate) fn unique_index_of_constraint(constraint: &str) -> Option<UniqueIndex> {
    UNIQUE_CONSTRAINTS
        .iter()
        .find(|(_, name)| *name == constraint)
        .map(|(index, _)| *index)
}

/// The SQL reading the holder of a unique value: its parameters are the value's parts
/// (`codec::unique_parts`).
pub(crate) fn unique_lookup(index: UniqueIndex) -> &'static str {
    match index {
        UniqueIndex::NodeName => "SELECT revision, body FROM nodes WHERE name = $1",
        UniqueIndex::FunctionName => "SELECT revision, body FROM functions WHERE name = $1",
        UniqueIndex::CommandIdempotencyKey => {
            "SELECT revision, body FROM commands WHERE node_id = $1 AND idempotency_key = $2"
        }
    }
}

/// The column list of a key, e.g. `node_id, metric COLLATE "C"`, for `ORDER BY` and row
/// comparisons: text compares bytewise on both databases.
pub(crate) fn ordered_key(table: &Table) -> Vec<String> {
    table
        .key
        .iter()
        .map(|(name, ty)| match ty {
            KeyType::Text => format!("{name} COLLATE \"C\""),
            _ => (*name).to_owned(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_has_its_named_table() {
        for kind in Kind::ALL {
            assert_eq!(table(kind).name, kind.as_str());
            assert!(!table(kind).key.is_empty());
        }
        for index in UniqueIndex::ALL {
            let (_, constraint) = UNIQUE_CONSTRAINTS
                .iter()
                .find(|(i, _)| *i == index)
                .expect("every unique index has a constraint");
            assert_eq!(unique_index_of_constraint(constraint), Some(index));
            assert!(unique_lookup(index).contains(table(index.kind()).name));
        }
        assert_eq!(unique_index_of_constraint("nodes_pkey"), None);
    }

    #[test]
    fn text_keys_order_bytewise() {
        assert_eq!(
            ordered_key(table(Kind::Telemetry)),
            ["hour", "node_id", "metric COLLATE \"C\"", "ts_nanos", "seq"]
        );
    }
}
