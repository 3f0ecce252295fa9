//! Schema migrations for the nodes' local databases.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

/// `POST /api/v1/schemas`: a new migration. Migrations are immutable and their versions increase.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(poem_openapi::Object))]
#[cfg_attr(feature = "openapi", oai(deny_unknown_fields))]
#[serde(deny_unknown_fields)]
pub struct CreateMigrationRequest {
    /// Version, above every registered one (≥ 1).
    pub version: u64,
    /// Short name: 1–63 letters, digits, `-`, `_`, `.`.
    pub name: String,
    /// SQL that applies the migration (at most 1 MiB).
    pub up_sql: String,
    /// SQL that reverts it (at most 1 MiB).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", oai(skip_serializing_if_is_none))]
    pub down_sql: Option<String>,
}

/// A registered migration.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(poem_openapi::Object))]
pub struct MigrationInfo {
    /// Version.
    pub version: u64,
    /// Short name.
    pub name: String,
    /// SQL that applies it.
    pub up_sql: String,
    /// SQL that reverts it, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", oai(skip_serializing_if_is_none))]
    pub down_sql: Option<String>,
    /// Lowercase hex SHA-256 over the name, up and down SQL, computed by the server.
    pub checksum: String,
    /// When it was registered.
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

/// Every migration.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(poem_openapi::Object))]
pub struct MigrationList {
    /// The migrations, ascending by version.
    pub items: Vec<MigrationInfo>,
}
