//! Functions and their versions.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use uuid::Uuid;

/// The `metadata` part of `POST /api/v1/functions` (JSON; it must come before the `wasm` part),
/// and the body of `POST /api/v1/functions/register`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(poem_openapi::Object))]
#[cfg_attr(feature = "openapi", oai(deny_unknown_fields))]
#[serde(deny_unknown_fields)]
pub struct FunctionMetadata {
    /// Function name; uploading an existing name adds its next version.
    pub name: String,
    /// Exported function the runtime invokes (default `_start`).
    #[serde(default = "default_entrypoint")]
    #[cfg_attr(feature = "openapi", oai(default = "default_entrypoint"))]
    pub entrypoint: String,
    /// Memory limit in 64 KiB pages (default 256 = 16 MiB).
    #[serde(default = "default_memory_pages")]
    #[cfg_attr(feature = "openapi", oai(default = "default_memory_pages"))]
    pub memory_pages: u32,
    /// Time limit per invocation in milliseconds (default 1000).
    #[serde(default = "default_max_execution_ms")]
    #[cfg_attr(feature = "openapi", oai(default = "default_max_execution_ms"))]
    pub max_execution_ms: u32,
    /// Concurrent invocations per node (default 16).
    #[serde(default = "default_max_concurrency")]
    #[cfg_attr(feature = "openapi", oai(default = "default_max_concurrency"))]
    pub max_concurrency: u32,
    /// Free-form description.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", oai(default))]
    pub description: String,
}

/// Default entrypoint.
pub fn default_entrypoint() -> String {
    "_start".into()
}
/// Default memory pages.
pub fn default_memory_pages() -> u32 {
    256
}
/// Default time limit.
pub fn default_max_execution_ms() -> u32 {
    1000
}
/// Default concurrency.
pub fn default_max_concurrency() -> u32 {
    16
}

/// Lifecycle of a version's binary.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(poem_openapi::Enum))]
#[cfg_attr(feature = "openapi", oai(rename_all = "snake_case"))]
#[serde(rename_all = "snake_case")]
pub enum VersionStatus {
    /// Registered, binary not uploaded yet.
    PendingUpload,
    /// Stored and validated.
    Ready,
    /// The binary failed validation.
    Rejected,
}

/// An exported or imported item of a module.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(poem_openapi::Object))]
pub struct ModuleItem {
    /// Import module (imports only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", oai(skip_serializing_if_is_none))]
    pub module: Option<String>,
    /// Name.
    pub name: String,
    /// `function`, `memory`, `table`, `global` or `tag`.
    pub kind: String,
    /// Signature of functions, e.g. `(i32) -> (i32)`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", oai(skip_serializing_if_is_none))]
    pub signature: Option<String>,
}

/// One version of a function.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(poem_openapi::Object))]
pub struct FunctionVersionInfo {
    /// The function's id (shared by all versions).
    pub id: Uuid,
    /// The function's name.
    pub name: String,
    /// Version number (1, 2, 3 …).
    pub version: u32,
    /// Whether the binary is stored and valid.
    pub status: VersionStatus,
    /// Lowercase hex SHA-256 of the binary, computed by the server.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", oai(skip_serializing_if_is_none))]
    pub sha256: Option<String>,
    /// Size in bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", oai(skip_serializing_if_is_none))]
    pub size: Option<u64>,
    /// Entrypoint export.
    pub entrypoint: String,
    /// Memory limit in 64 KiB pages.
    pub memory_pages: u32,
    /// Time limit per invocation in milliseconds.
    pub max_execution_ms: u32,
    /// Concurrent invocations per node.
    pub max_concurrency: u32,
    /// Description.
    pub description: String,
    /// Why the binary was rejected.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", oai(skip_serializing_if_is_none))]
    pub rejection: Option<String>,
    /// The compatibility check against the previous ready version (once the binary is in).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", oai(skip_serializing_if_is_none))]
    pub compatibility: Option<CompatibilityInfo>,
    /// Until when the binary may be uploaded (`pending_upload` versions only).
    #[serde(
        default,
        with = "time::serde::rfc3339::option",
        skip_serializing_if = "Option::is_none"
    )]
    #[cfg_attr(feature = "openapi", oai(skip_serializing_if_is_none))]
    pub upload_expires_at: Option<OffsetDateTime>,
    /// What the module exports.
    pub exports: Vec<ModuleItem>,
    /// What the module imports.
    pub imports: Vec<ModuleItem>,
    /// When the version was created.
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

/// A function with its versions.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(poem_openapi::Object))]
pub struct FunctionInfo {
    /// Id.
    pub id: Uuid,
    /// Unique name.
    pub name: String,
    /// Highest version number so far.
    pub latest_version: u32,
    /// When the first version was uploaded.
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    /// When the latest version was added.
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
    /// Versions, oldest first.
    pub versions: Vec<FunctionVersionInfo>,
    /// Rollbacks, oldest first (the most recent 100).
    #[serde(default)]
    #[cfg_attr(feature = "openapi", oai(default))]
    pub rollbacks: Vec<RollbackEntry>,
}

/// A function in a listing.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(poem_openapi::Object))]
pub struct FunctionSummary {
    /// Id.
    pub id: Uuid,
    /// Unique name.
    pub name: String,
    /// Highest version number so far.
    pub latest_version: u32,
    /// When the latest version was added.
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
}

/// A page of functions.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(poem_openapi::Object))]
pub struct FunctionList {
    /// The functions.
    pub items: Vec<FunctionSummary>,
    /// Pass as `after` for the next page; absent on the last page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", oai(skip_serializing_if_is_none))]
    pub next: Option<Uuid>,
}

/// Where to download a version's binary.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(poem_openapi::Object))]
pub struct DownloadInfo {
    /// Signed, expiring URL of the binary.
    pub url: String,
    /// When the URL stops working.
    #[serde(with = "time::serde::rfc3339")]
    pub expires_at: OffsetDateTime,
    /// Lowercase hex SHA-256 the bytes must have.
    pub sha256: String,
    /// Size in bytes.
    pub size: u64,
    /// The version.
    pub version: u32,
}

/// Verdict of a version's compatibility check.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(poem_openapi::Enum))]
#[cfg_attr(feature = "openapi", oai(rename_all = "snake_case"))]
#[serde(rename_all = "snake_case")]
pub enum CompatibilityStatus {
    /// Callers of the previous ready version keep working.
    Compatible,
    /// Something callers or hosts rely on changed; deploying needs `allow_breaking`.
    Breaking,
    /// The function's first ready version: nothing to compare with.
    First,
}

/// How a version compares with the previous ready version of its function: the entrypoint
/// (still exported, same signature), the other exports (none removed or changed), the imports
/// (no new host requirement) and the memory (initial size within the previous maximum).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(poem_openapi::Object))]
pub struct CompatibilityInfo {
    /// The verdict.
    pub status: CompatibilityStatus,
    /// The version it was compared with (absent for `first`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", oai(skip_serializing_if_is_none))]
    pub against_version: Option<u32>,
    /// The differences, breaking ones first, each prefixed `breaking: ` or `info: `.
    pub reasons: Vec<String>,
}

/// A function's versions.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(poem_openapi::Object))]
pub struct FunctionVersionList {
    /// The versions, oldest first.
    pub items: Vec<FunctionVersionInfo>,
}

/// Answer of `POST /api/v1/functions/register`: the version waits for its binary at
/// `upload_url`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(poem_openapi::Object))]
pub struct RegisteredFunction {
    /// The function's id (shared by all versions).
    pub id: Uuid,
    /// The function's name.
    pub name: String,
    /// The version number this registration took.
    pub version: u32,
    /// Always `pending_upload`.
    pub status: VersionStatus,
    /// `PUT` the raw module here (`Content-Type: application/wasm` or
    /// `application/octet-stream`; optional `X-Content-SHA256`). The URL carries its own
    /// credential: send no `Authorization` header.
    pub upload_url: String,
    /// When the upload URL stops working; a version still pending then is rejected.
    #[serde(with = "time::serde::rfc3339")]
    pub expires_at: OffsetDateTime,
    /// Largest module the upload accepts, in bytes.
    pub max_size_bytes: u64,
}

/// Body of `POST /api/v1/functions/{id}/rollback`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(poem_openapi::Object))]
#[cfg_attr(feature = "openapi", oai(deny_unknown_fields))]
#[serde(deny_unknown_fields)]
pub struct RollbackRequest {
    /// The ready version to run (default: the highest ready version below the one live
    /// deployments run).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", oai(skip_serializing_if_is_none))]
    pub to_version: Option<u32>,
}

/// One rollback in a function's history.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(poem_openapi::Object))]
pub struct RollbackEntry {
    /// The versions the deployments ran before.
    pub from_versions: Vec<u32>,
    /// The version they run since.
    pub to_version: u32,
    /// The deployments retargeted.
    pub deployments: Vec<Uuid>,
    /// Who asked for it (e.g. `api key <id>`).
    pub by: String,
    /// When.
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
}

/// Answer of `POST /api/v1/functions/{id}/rollback`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(poem_openapi::Object))]
pub struct RollbackResponse {
    /// The function.
    pub function_id: Uuid,
    /// The version every live deployment of the function runs now.
    pub to_version: u32,
    /// The history entry recorded; absent when every live deployment already ran
    /// `to_version` (nothing changed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", oai(skip_serializing_if_is_none))]
    pub entry: Option<RollbackEntry>,
    /// The function's live deployments, after the rollback; nodes converge on their next sync.
    pub deployments: Vec<crate::deployments::DeploymentSummary>,
}
