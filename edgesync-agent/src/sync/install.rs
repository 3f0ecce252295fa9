//! Installing a function version: from the compiled-module cache (a rollback to a kept
//! version is a pointer swap), else from the artifact cache, else downloaded through the
//! plan's signed URL with its SHA-256 checked while it streams. Bytes that do not match are
//! never compiled, stored or run.

use edgesync_client::ClientError;
use edgesync_client::NodeClient;
use edgesync_client::wire::InstallFunctionAction;

use super::apply::Failure;
use crate::artifacts::valid_sha256;
use crate::shared::Shared;
use crate::state::FunctionSpec;
use crate::stats::Stats;

/// Installs `action` and makes it the function's live version.
pub(super) async fn install(
    shared: &Shared,
    node: &NodeClient,
    action: &InstallFunctionAction,
) -> Result<(), Failure> {
    let spec = FunctionSpec::from(action);
    if !valid_sha256(&spec.sha256) {
        return Err(Failure::new(
            "invalid_action",
            format!("{:?} is not a SHA-256", action.sha256),
        ));
    }
    let running = shared
        .snapshot()
        .functions
        .get(&spec.function_id)
        .and_then(|slot| slot.current.clone());
    if running.as_ref() == Some(&spec) && shared.functions.get(spec.function_id).is_some() {
        return Ok(());
    }
    let module = match shared.functions.cached_module(&spec.sha256) {
        Some(m) => m,
        None => {
            let bytes = match shared.artifacts.load(&spec.sha256).await {
                Ok(Some(b)) => b,
                Ok(None) => download(shared, node, action).await?,
                Err(e) => return Err(Failure::new("storage_failed", e.to_string())),
            };
            let runtime = shared.runtime.clone();
            let compiled = tokio::task::spawn_blocking({
                let bytes = bytes.clone();
                move || runtime.compile(&bytes)
            })
            .await
            .map_err(|e| Failure::new("internal", e.to_string()))?
            .map_err(|e| Failure::new("compile_failed", e))?;
            shared
                .artifacts
                .store(&spec.sha256, bytes)
                .await
                .map_err(|e| Failure::new("storage_failed", e.to_string()))?;
            compiled
        }
    };
    shared
        .runtime
        .check(&module, &spec.entrypoint)
        .map_err(|(code, message)| Failure::new(code, message))?;
    shared.functions.cache_module(&spec.sha256, module);
    let keep = shared.config.keep_versions;
    shared
        .update_state(|state| {
            state
                .functions
                .entry(spec.function_id)
                .or_default()
                .install(spec.clone(), keep)
        })
        .map_err(|e| Failure::new("storage_failed", e.to_string()))?;
    tracing::info!(function = %spec.name, version = spec.version, sha256 = %spec.sha256, "function installed");
    shared.functions.activate(spec);
    Ok(())
}

async fn download(
    shared: &Shared,
    node: &NodeClient,
    action: &InstallFunctionAction,
) -> Result<bytes::Bytes, Failure> {
    match node.download_install(action).await {
        Ok(bytes) => {
            Stats::bump(&shared.stats.artifact_downloads);
            tracing::info!(function = %action.name, version = action.version, size = bytes.len(), "artifact downloaded and verified");
            Ok(bytes)
        }
        Err(ClientError::DigestMismatch { expected, actual }) => {
            tracing::error!(function = %action.name, version = action.version, %expected, %actual, "refusing an artifact whose SHA-256 does not match the plan");
            Err(Failure::new(
                "sha256_mismatch",
                format!("the artifact hashes to {actual}, the plan requires {expected}; refused"),
            ))
        }
        Err(ClientError::TooLarge { limit }) => Err(Failure::new(
            "artifact_too_large",
            format!("the artifact exceeds {limit} bytes"),
        )),
        Err(e) => Err(Failure::new("download_failed", e.to_string())),
    }
}
