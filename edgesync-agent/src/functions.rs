//! The functions a node runs: each live function with its limits and its concurrency
//! semaphore, and a cache of compiled modules by SHA-256 (the running versions and the ones
//! kept for rollback), so that switching versions is a pointer swap.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, PoisonError, RwLock};

use tokio::sync::Semaphore;
use uuid::Uuid;
use wasmtime::Module;

use crate::artifacts::ArtifactCache;
use crate::runtime::WasmRuntime;
use crate::state::FunctionSpec;

/// A function serving requests.
#[derive(Debug)]
pub(crate) struct LiveFunction {
    /// What runs, under which limits.
    pub(crate) spec: FunctionSpec,
    /// One permit per concurrent call (`max_concurrency`).
    pub(crate) slots: Arc<Semaphore>,
}

impl LiveFunction {
    fn new(spec: FunctionSpec) -> Self {
        let permits = usize::try_from(spec.max_concurrency.max(1)).unwrap_or(1);
        Self {
            slots: Arc::new(Semaphore::new(permits)),
            spec,
        }
    }
}

/// Why a module is not available.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ModuleError {
    /// The artifact is not in the cache (or was corrupt).
    #[error("the artifact {0} is not on this node")]
    Missing(String),
    /// It did not compile.
    #[error("the module does not compile: {0}")]
    Compile(String),
    /// Something else failed (I/O, a task).
    #[error("{0}")]
    Other(String),
}

/// Live functions and compiled modules.
#[derive(Debug, Default)]
pub(crate) struct FunctionRegistry {
    live: RwLock<HashMap<Uuid, Arc<LiveFunction>>>,
    modules: RwLock<HashMap<String, Module>>,
}

impl FunctionRegistry {
    /// The live function, if installed.
    pub(crate) fn get(&self, function_id: Uuid) -> Option<Arc<LiveFunction>> {
        self.live
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&function_id)
            .cloned()
    }

    /// Every live function.
    pub(crate) fn all(&self) -> Vec<Arc<LiveFunction>> {
        self.live
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .values()
            .cloned()
            .collect()
    }

    /// Makes `spec` the live version of its function (a fresh semaphore: calls in flight
    /// finish on the old version).
    pub(crate) fn activate(&self, spec: FunctionSpec) {
        let id = spec.function_id;
        self.live
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(id, Arc::new(LiveFunction::new(spec)));
    }

    /// Stops serving a function. Returns whether it was live.
    pub(crate) fn deactivate(&self, function_id: Uuid) -> bool {
        self.live
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&function_id)
            .is_some()
    }

    /// Replaces every live function at once (reload).
    pub(crate) fn replace_all(&self, specs: Vec<FunctionSpec>) {
        let live = specs
            .into_iter()
            .map(|s| (s.function_id, Arc::new(LiveFunction::new(s))))
            .collect();
        *self.live.write().unwrap_or_else(PoisonError::into_inner) = live;
    }

    /// A compiled module from the cache.
    pub(crate) fn cached_module(&self, sha256: &str) -> Option<Module> {
        self.modules
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(sha256)
            .cloned()
    }

    /// Keeps a compiled module.
    pub(crate) fn cache_module(&self, sha256: &str, module: Module) {
        self.modules
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(sha256.to_owned(), module);
    }

    /// Drops one compiled module (the next call compiles it again from disk).
    pub(crate) fn forget_module(&self, sha256: &str) -> bool {
        self.modules
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(sha256)
            .is_some()
    }

    /// Drops every compiled module; returns how many.
    pub(crate) fn flush_modules(&self) -> usize {
        let mut modules = self.modules.write().unwrap_or_else(PoisonError::into_inner);
        let n = modules.len();
        modules.clear();
        n
    }

    /// Drops compiled modules no kept version needs.
    pub(crate) fn retain_modules(&self, keep: &HashSet<String>) {
        self.modules
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .retain(|sha, _| keep.contains(sha));
    }

    /// How many modules are compiled.
    pub(crate) fn module_count(&self) -> usize {
        self.modules
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }

    /// The compiled module of `sha256`: from the cache, else compiled from the artifact on
    /// disk (on a blocking thread) and cached.
    pub(crate) async fn module(
        &self,
        runtime: &Arc<WasmRuntime>,
        artifacts: &ArtifactCache,
        sha256: &str,
    ) -> Result<Module, ModuleError> {
        if let Some(m) = self.cached_module(sha256) {
            return Ok(m);
        }
        let bytes = artifacts
            .load(sha256)
            .await
            .map_err(|e| ModuleError::Other(e.to_string()))?
            .ok_or_else(|| ModuleError::Missing(sha256.to_owned()))?;
        let rt = runtime.clone();
        let module = tokio::task::spawn_blocking(move || rt.compile(&bytes))
            .await
            .map_err(|e| ModuleError::Other(format!("compile task failed: {e}")))?
            .map_err(ModuleError::Compile)?;
        self.cache_module(sha256, module.clone());
        Ok(module)
    }
}
