//! What the agent has applied, on disk: `<data-dir>/state.json`, written atomically after
//! every change, so a restarted agent serves the same functions and routes before it even
//! reaches the control plane.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use edgesync_client::wire::{InstallFunctionAction, RouteEntry};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::error::{AgentError, Result};
use crate::fsutil::write_atomic;

/// File name under the data directory.
const FILE: &str = "state.json";

/// One installed function version: what to run and under which limits.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct FunctionSpec {
    /// The function.
    pub(crate) function_id: Uuid,
    /// Its name.
    pub(crate) name: String,
    /// The version.
    pub(crate) version: u32,
    /// The deployment that chose it.
    pub(crate) deployment_id: Uuid,
    /// SHA-256 of the module (lowercase hex): the artifact's name in the cache.
    pub(crate) sha256: String,
    /// Module size in bytes.
    pub(crate) size: u64,
    /// The export invoked per request.
    pub(crate) entrypoint: String,
    /// Memory limit in 64 KiB pages.
    pub(crate) memory_pages: u32,
    /// Time limit per request in milliseconds.
    pub(crate) max_execution_ms: u32,
    /// Concurrent requests on this node.
    pub(crate) max_concurrency: u32,
}

impl From<&InstallFunctionAction> for FunctionSpec {
    fn from(a: &InstallFunctionAction) -> Self {
        Self {
            function_id: a.function_id,
            name: a.name.clone(),
            version: a.version,
            deployment_id: a.deployment_id,
            sha256: a.sha256.to_ascii_lowercase(),
            size: a.size,
            entrypoint: a.entrypoint.clone(),
            memory_pages: a.memory_pages,
            max_execution_ms: a.max_execution_ms,
            max_concurrency: a.max_concurrency,
        }
    }
}

/// A function's running version (if any) and the versions kept for a quick rollback.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct FunctionSlot {
    /// The version serving requests; `None` once removed.
    pub(crate) current: Option<FunctionSpec>,
    /// Recently installed versions, newest first, the current one included.
    #[serde(default)]
    pub(crate) history: Vec<FunctionSpec>,
}

impl FunctionSlot {
    /// Makes `spec` current and remembers it, keeping at most `keep` versions.
    pub(crate) fn install(&mut self, spec: FunctionSpec, keep: usize) {
        self.history
            .retain(|h| !(h.version == spec.version && h.sha256 == spec.sha256));
        self.history.insert(0, spec.clone());
        self.history.truncate(keep.max(1));
        self.current = Some(spec);
    }
}

/// The route table the agent serves.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct RoutesState {
    /// Its revision (reported as `routes_revision`); `None` before the first `set_routes`.
    pub(crate) revision: Option<String>,
    /// The routes.
    #[serde(default)]
    pub(crate) routes: Vec<RouteEntry>,
}

/// Everything applied so far.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct AppliedState {
    /// Functions by id.
    #[serde(default)]
    pub(crate) functions: BTreeMap<Uuid, FunctionSlot>,
    /// The route table.
    #[serde(default)]
    pub(crate) routes: RoutesState,
    /// The target revision last reached in full (sent as `If-None-Match`).
    #[serde(default)]
    pub(crate) sync_revision: Option<String>,
}

impl AppliedState {
    /// The versions currently running.
    pub(crate) fn running(&self) -> impl Iterator<Item = &FunctionSpec> {
        self.functions.values().filter_map(|s| s.current.as_ref())
    }

    /// Every artifact worth keeping: the versions in any function's history.
    pub(crate) fn kept_artifacts(&self) -> std::collections::HashSet<String> {
        self.functions
            .values()
            .flat_map(|s| s.history.iter().map(|h| h.sha256.clone()))
            .collect()
    }
}

/// The state file.
#[derive(Clone, Debug)]
pub(crate) struct StateFile {
    path: PathBuf,
}

impl StateFile {
    /// The state file of a data directory.
    pub(crate) fn new(data_dir: &Path) -> Self {
        Self {
            path: data_dir.join(FILE),
        }
    }

    /// The saved state; the empty state when there is none yet.
    pub(crate) fn load(&self) -> Result<AppliedState> {
        match std::fs::read(&self.path) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| AgentError::Corrupt {
                path: self.path.clone(),
                message: format!("not a valid agent state ({e})"),
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(AppliedState::default()),
            Err(e) => Err(AgentError::io(&self.path, e)),
        }
    }

    /// Saves the state atomically.
    pub(crate) fn save(&self, state: &AppliedState) -> Result<()> {
        let bytes = serde_json::to_vec_pretty(state).map_err(|e| AgentError::Corrupt {
            path: self.path.clone(),
            message: e.to_string(),
        })?;
        write_atomic(&self.path, &bytes, None)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn spec(version: u32) -> FunctionSpec {
        FunctionSpec {
            function_id: Uuid::nil(),
            name: "hello".into(),
            version,
            deployment_id: Uuid::nil(),
            sha256: format!("{version:064}"),
            size: 1,
            entrypoint: "_start".into(),
            memory_pages: 1,
            max_execution_ms: 100,
            max_concurrency: 1,
        }
    }

    #[test]
    fn history_keeps_the_newest_versions() {
        let mut slot = FunctionSlot::default();
        for v in 1..=4 {
            slot.install(spec(v), 3);
        }
        slot.install(spec(3), 3); // a rollback moves it to the front
        let versions: Vec<u32> = slot.history.iter().map(|h| h.version).collect();
        assert_eq!(versions, [3, 4, 2]);
        assert_eq!(slot.current.as_ref().unwrap().version, 3);
    }

    #[test]
    fn round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let file = StateFile::new(dir.path());
        assert_eq!(file.load().unwrap(), AppliedState::default());
        let mut state = AppliedState::default();
        state
            .functions
            .entry(Uuid::nil())
            .or_default()
            .install(spec(1), 3);
        state.sync_revision = Some("r1".into());
        file.save(&state).unwrap();
        assert_eq!(file.load().unwrap(), state);
        assert_eq!(state.kept_artifacts().len(), 1);
    }
}
