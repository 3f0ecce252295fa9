//! One pass over an uploaded module: size limit, SHA-256, WebAssembly validation and a staged
//! write to the artifact store, chunk by chunk. The module is never held in memory whole.

use futures::StreamExt;

use super::EdgeSync;
use crate::artifacts::{ArtifactKey, ByteStream};
use crate::error::{Error, ErrorCode, Result};
use crate::model::{FunctionSpec, ModuleItem, ModuleSummary};
use crate::wasm::{InspectLimits, WasmError, WasmInspector, WasmReport};

impl EdgeSync {
    /// Streams `body` into the artifact store while validating it against `spec`. On success the
    /// artifact is visible under its content address; on any failure nothing is.
    pub(super) async fn ingest(
        &self,
        spec: &FunctionSpec,
        mut body: ByteStream,
    ) -> Result<WasmReport> {
        let mut inspector = WasmInspector::new(InspectLimits {
            max_size_bytes: self.inner.config.max_module_bytes,
            max_memory_pages: spec.memory_pages,
            entrypoint: spec.entrypoint.clone(),
        });
        let mut upload = self.inner.artifacts.start_upload().await?;
        let outcome: Result<WasmReport> = async {
            while let Some(chunk) = body.next().await {
                let chunk = chunk?;
                inspector.update(&chunk).map_err(wasm_error)?;
                upload.write(chunk).await?;
            }
            inspector.finish().map_err(wasm_error)
        }
        .await;
        match outcome {
            Ok(report) => {
                upload
                    .finish(&ArtifactKey::for_sha256(&report.sha256))
                    .await?;
                Ok(report)
            }
            Err(e) => {
                if let Err(abort) = upload.abort().await {
                    tracing::warn!(error = %abort, "could not discard a rejected upload; garbage collection will");
                }
                Err(e)
            }
        }
    }
}

/// Maps the inspector's errors to catalogue codes.
pub(super) fn wasm_error(e: WasmError) -> Error {
    let code = match &e {
        WasmError::TooLarge { .. } => ErrorCode::WasmTooLarge,
        WasmError::Invalid { .. } => ErrorCode::InvalidWasm,
        WasmError::Empty => ErrorCode::EmptyWasm,
        WasmError::EntrypointMissing { .. } => ErrorCode::EntrypointMissing,
        WasmError::EntrypointNotFunction { .. } => ErrorCode::EntrypointNotFunction,
        WasmError::MemoryTooLarge { .. } => ErrorCode::MemoryLimitExceeded,
        WasmError::Component => ErrorCode::WasmComponentUnsupported,
    };
    Error::new(code, e.to_string())
}

/// What to keep of a report with the version.
pub(super) fn summarize(report: &WasmReport) -> ModuleSummary {
    ModuleSummary {
        exports: report
            .exports
            .iter()
            .map(|e| ModuleItem {
                module: None,
                name: e.name.clone(),
                kind: e.kind.as_str().to_owned(),
                signature: e.signature.as_ref().map(ToString::to_string),
            })
            .collect(),
        imports: report
            .imports
            .iter()
            .map(|i| ModuleItem {
                module: Some(i.module.clone()),
                name: i.name.clone(),
                kind: i.kind.as_str().to_owned(),
                signature: i.signature.as_ref().map(ToString::to_string),
            })
            .collect(),
        memory_initial_pages: report.memory.map(|m| m.initial_pages),
        memory_maximum_pages: report.memory.and_then(|m| m.maximum_pages),
    }
}
