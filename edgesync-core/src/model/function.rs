//! Functions and their immutable, numbered versions.

use serde::{Deserialize, Serialize};

use super::ids::FunctionId;
use super::time::Timestamp;
use super::validate;
use crate::error::{Error, Result};

/// A named function. Its versions are separate records numbered 1, 2, 3 …
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Function {
    /// Identity shared by all versions.
    pub id: FunctionId,
    /// Unique name.
    pub name: String,
    /// Highest version number handed out so far (0 before the first).
    pub latest_version: u32,
    /// When the first version was uploaded.
    pub created_at: Timestamp,
    /// When the latest version was added.
    pub updated_at: Timestamp,
    /// Rollbacks of this function's deployments, oldest first (at most
    /// [`MAX_ROLLBACK_HISTORY`], older entries are dropped).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rollbacks: Vec<RollbackEntry>,
}

/// Most rollback entries kept per function.
pub const MAX_ROLLBACK_HISTORY: usize = 100;

/// One rollback: every live deployment of a function retargeted to an earlier version.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RollbackEntry {
    /// The versions the deployments ran before (distinct, ascending).
    pub from_versions: Vec<u32>,
    /// The version they run now.
    pub to_version: u32,
    /// The deployments that were retargeted.
    pub deployments: Vec<super::ids::DeploymentId>,
    /// Who asked for it (e.g. `api key <id>`).
    pub by: String,
    /// When.
    pub at: Timestamp,
}

/// The lifecycle of a version's binary.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VersionStatus {
    /// Metadata registered, binary not uploaded yet.
    PendingUpload,
    /// Binary stored and validated: deployable.
    Ready,
    /// The uploaded binary failed validation.
    Rejected,
}

/// One immutable version of a function: limits, binary digest and what the module exports.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FunctionVersion {
    /// The function.
    pub function_id: FunctionId,
    /// 1, 2, 3 … per function.
    pub version: u32,
    /// Limits and entrypoint.
    pub spec: FunctionSpec,
    /// Whether the binary is there and valid.
    pub status: VersionStatus,
    /// Why the binary was rejected, when it was.
    pub rejection: Option<String>,
    /// Lowercase hex SHA-256 of the binary, computed by the server.
    pub sha256: Option<String>,
    /// Size of the binary in bytes.
    pub size: Option<u64>,
    /// What the module exports, imports and how much memory it declares (once uploaded).
    pub module: Option<ModuleSummary>,
    /// The compatibility check against the previous ready version, computed once when the
    /// binary was accepted (`None` until then).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub compatibility: Option<Compatibility>,
    /// Until when the binary may be uploaded (two-step registration, while `pending_upload`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upload_expires_at: Option<Timestamp>,
    /// When the version was created.
    pub created_at: Timestamp,
}

/// How a version compares with the previous ready version of its function.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Compatibility {
    /// The verdict.
    pub status: CompatibilityStatus,
    /// The version it was compared with (`None` for the first ready version).
    pub against_version: Option<u32>,
    /// Human-readable differences, breaking ones first (each prefixed `breaking: ` or `info: `).
    pub reasons: Vec<String>,
}

/// The verdict of a compatibility check.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CompatibilityStatus {
    /// Callers of the previous version keep working.
    Compatible,
    /// Something callers or hosts rely on changed; deploying needs `allow_breaking`.
    Breaking,
    /// The first ready version: nothing to compare with.
    First,
}

impl CompatibilityStatus {
    /// The snake_case name.
    pub fn as_str(self) -> &'static str {
        match self {
            CompatibilityStatus::Compatible => "compatible",
            CompatibilityStatus::Breaking => "breaking",
            CompatibilityStatus::First => "first",
        }
    }
}

impl FunctionVersion {
    /// The artifact key of a ready version.
    pub fn artifact_key(&self) -> Option<crate::ArtifactKey> {
        self.sha256
            .as_deref()
            .and_then(|s| crate::ArtifactKey::for_sha256_hex(s).ok())
    }
}

/// Default memory limit in 64 KiB pages (16 MiB).
pub const DEFAULT_MEMORY_PAGES: u32 = 256;
/// Hard cap on memory pages (4 GiB, the wasm32 limit).
pub const MAX_MEMORY_PAGES: u32 = 65_536;
/// Default execution time limit per invocation.
pub const DEFAULT_MAX_EXECUTION_MS: u32 = 1_000;
/// Hard cap on execution time per invocation (5 minutes).
pub const MAX_EXECUTION_MS: u32 = 300_000;
/// Default concurrent invocations per node.
pub const DEFAULT_MAX_CONCURRENCY: u32 = 16;
/// Hard cap on concurrent invocations per node.
pub const MAX_CONCURRENCY: u32 = 10_000;

/// What an operator declares for a function version.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FunctionSpec {
    /// Function name (creates the function on first upload).
    pub name: String,
    /// Exported function the runtime invokes.
    pub entrypoint: String,
    /// Memory limit in 64 KiB pages.
    pub memory_pages: u32,
    /// Time limit per invocation, in milliseconds.
    pub max_execution_ms: u32,
    /// Concurrent invocations per node.
    pub max_concurrency: u32,
    /// Free-form description.
    pub description: String,
}

impl FunctionSpec {
    /// Checks every field; nothing is stored when this fails.
    pub fn validate(&self) -> Result<()> {
        validate::name("name", &self.name)?;
        if self.entrypoint.is_empty() || self.entrypoint.len() > 128 {
            return Err(Error::invalid(
                "entrypoint must be between 1 and 128 characters",
            ));
        }
        validate::text("entrypoint", &self.entrypoint, 128)?;
        validate::range("memory_pages", self.memory_pages, 1, MAX_MEMORY_PAGES)?;
        validate::range(
            "max_execution_ms",
            self.max_execution_ms,
            1,
            MAX_EXECUTION_MS,
        )?;
        validate::range("max_concurrency", self.max_concurrency, 1, MAX_CONCURRENCY)?;
        validate::text("description", &self.description, 1024)?;
        Ok(())
    }

    /// Memory one instance may use, in bytes.
    pub fn memory_bytes(&self) -> u64 {
        u64::from(self.memory_pages) * 65_536
    }
}

/// What a validated module exports and imports, kept with its version for compatibility checks.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModuleSummary {
    /// Exported items.
    pub exports: Vec<ModuleItem>,
    /// Imported items.
    pub imports: Vec<ModuleItem>,
    /// Initial memory in pages, if the module has a memory.
    pub memory_initial_pages: Option<u64>,
    /// Maximum memory in pages, if declared.
    pub memory_maximum_pages: Option<u64>,
}

/// One exported or imported item.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModuleItem {
    /// Import module (for imports only).
    pub module: Option<String>,
    /// Item name.
    pub name: String,
    /// `function`, `memory`, `table`, `global` or `tag`.
    pub kind: String,
    /// Signature for functions, e.g. `(i32, i32) -> (i32)`.
    pub signature: Option<String>,
}
