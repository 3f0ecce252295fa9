//! One pass over an uploaded module: size limit, SHA-256, WebAssembly validation and a staged
//! write to the artifact store, chunk by chunk. The module is never held in memory whole.
//! Also what is kept of a module with its version, and the compatibility check between two
//! versions' kept summaries.

use futures::StreamExt;

use super::EdgeSync;
use crate::artifacts::{ArtifactKey, ByteStream};
use crate::error::{Error, ErrorCode, Result};
use crate::model::{
    Compatibility, CompatibilityStatus, FunctionSpec, FunctionVersion, ModuleItem, ModuleSummary,
};
use crate::wasm::{
    ExportInfo, ExternKind, FuncSignature, ImportInfo, InspectLimits, MemoryInfo, WasmError,
    WasmInspector, WasmReport,
};

impl EdgeSync {
    /// Streams `body` into the artifact store while validating it against `spec` (and, when the
    /// client declared one, against `declared_sha256`, lowercase hex). On success the artifact is
    /// visible under its content address; on any failure nothing is.
    pub(super) async fn ingest(
        &self,
        spec: &FunctionSpec,
        mut body: ByteStream,
        declared_sha256: Option<&str>,
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
            let report = inspector.finish().map_err(wasm_error)?;
            match declared_sha256 {
                Some(declared) if declared != report.sha256_hex() => Err(Error::new(
                    ErrorCode::Sha256Mismatch,
                    format!(
                        "the uploaded bytes hash to {}, not to the declared {declared}",
                        report.sha256_hex()
                    ),
                )),
                _ => Ok(report),
            }
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

/// Whether an ingest error is a verdict on the bytes themselves (the same bytes always fail the
/// same way), as opposed to a failure to receive or store them.
pub(super) fn is_rejection(code: ErrorCode) -> bool {
    matches!(
        code,
        ErrorCode::InvalidWasm
            | ErrorCode::EmptyWasm
            | ErrorCode::WasmComponentUnsupported
            | ErrorCode::EntrypointMissing
            | ErrorCode::EntrypointNotFunction
            | ErrorCode::MemoryLimitExceeded
            | ErrorCode::WasmTooLarge
            | ErrorCode::Sha256Mismatch
    )
}

/// Checks a client-declared SHA-256 (64 hex digits) and returns it in lowercase.
pub(super) fn parse_declared_sha256(declared: &str) -> Result<String> {
    let declared = declared.trim();
    if declared.len() != 64 || !declared.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(Error::invalid(
            "X-Content-SHA256 must be the SHA-256 of the body as 64 hex digits",
        ));
    }
    Ok(declared.to_ascii_lowercase())
}

/// Compares a new version's module with the previous ready version's (`None`: there is none).
/// Both sides go through the kept [`ModuleSummary`], so the verdict only depends on what is
/// stored and can be recomputed from it.
pub(super) fn compatibility(
    previous: Option<&FunctionVersion>,
    next: &ModuleSummary,
    entrypoint: &str,
) -> Compatibility {
    let Some((against, before)) = previous.and_then(|p| p.module.as_ref().map(|m| (p.version, m)))
    else {
        return Compatibility {
            status: CompatibilityStatus::First,
            against_version: None,
            reasons: Vec::new(),
        };
    };
    let verdict = crate::wasm::compare(&report_of(before), &report_of(next), entrypoint);
    Compatibility {
        status: if verdict.breaking {
            CompatibilityStatus::Breaking
        } else {
            CompatibilityStatus::Compatible
        },
        against_version: Some(against),
        reasons: verdict.reasons,
    }
}

/// Rebuilds the parts of a [`WasmReport`] that [`crate::wasm::compare`] reads from a summary.
fn report_of(summary: &ModuleSummary) -> WasmReport {
    WasmReport {
        sha256: [0; 32],
        size: 0,
        exports: summary
            .exports
            .iter()
            .filter_map(|e| {
                Some(ExportInfo {
                    name: e.name.clone(),
                    kind: kind_of(&e.kind)?,
                    signature: e.signature.as_deref().map(signature_of),
                })
            })
            .collect(),
        imports: summary
            .imports
            .iter()
            .filter_map(|i| {
                Some(ImportInfo {
                    module: i.module.clone().unwrap_or_default(),
                    name: i.name.clone(),
                    kind: kind_of(&i.kind)?,
                    signature: i.signature.as_deref().map(signature_of),
                })
            })
            .collect(),
        memory: summary
            .memory_initial_pages
            .map(|initial_pages| MemoryInfo {
                initial_pages,
                maximum_pages: summary.memory_maximum_pages,
                memory64: false,
                shared: false,
                imported: false,
            }),
    }
}

fn kind_of(kind: &str) -> Option<ExternKind> {
    [
        ExternKind::Function,
        ExternKind::Table,
        ExternKind::Memory,
        ExternKind::Global,
        ExternKind::Tag,
    ]
    .into_iter()
    .find(|k| k.as_str() == kind)
}

/// Parses the `(i32, i32) -> (i64)` rendering of [`FuncSignature`]'s `Display` back. Anything
/// else is kept whole as a single parameter, which still compares equal to itself.
fn signature_of(rendered: &str) -> FuncSignature {
    fn list(part: &str) -> Option<Vec<String>> {
        let inner = part.trim().strip_prefix('(')?.strip_suffix(')')?;
        Some(if inner.trim().is_empty() {
            Vec::new()
        } else {
            inner.split(", ").map(str::to_owned).collect()
        })
    }
    rendered
        .split_once(" -> ")
        .and_then(|(params, results)| {
            Some(FuncSignature {
                params: list(params)?,
                results: list(results)?,
            })
        })
        .unwrap_or_else(|| FuncSignature {
            params: vec![rendered.to_owned()],
            results: Vec::new(),
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wasm::{InspectLimits, inspect};

    fn summary(wat: &str) -> ModuleSummary {
        let bytes = wat::parse_str(wat).expect("test WAT parses");
        summarize(
            &inspect(
                &bytes,
                InspectLimits {
                    max_size_bytes: 1 << 20,
                    max_memory_pages: 16,
                    entrypoint: "_start".into(),
                },
            )
            .expect("test module is valid"),
        )
    }

    fn version(n: u32, module: ModuleSummary) -> FunctionVersion {
        let mut v =
            crate::testkit::fixtures::function_version(crate::model::FunctionId::random(), n);
        v.module = Some(module);
        v
    }

    #[test]
    fn signatures_round_trip_through_their_rendering() {
        for sig in [
            FuncSignature::default(),
            FuncSignature {
                params: vec!["i32".into(), "i64".into()],
                results: vec!["f32".into()],
            },
            FuncSignature {
                params: vec!["externref".into()],
                results: vec!["i32".into(), "i32".into()],
            },
        ] {
            assert_eq!(signature_of(&sig.to_string()), sig);
        }
        assert_eq!(signature_of("odd").params, vec!["odd".to_owned()]);
    }

    #[test]
    fn compatibility_over_summaries() {
        let v1 = summary(
            r#"(module (memory (export "memory") 1 4)
                 (func (export "_start")) (func (export "f") (param i32) (result i32) local.get 0))"#,
        );
        assert_eq!(
            compatibility(None, &v1, "_start").status,
            CompatibilityStatus::First
        );
        let same_plus = summary(
            r#"(module (memory (export "memory") 2 4)
                 (func (export "_start")) (func (export "f") (param i32) (result i32) local.get 0)
                 (func (export "g")))"#,
        );
        let c = compatibility(Some(&version(1, v1.clone())), &same_plus, "_start");
        assert_eq!(c.status, CompatibilityStatus::Compatible, "{c:?}");
        assert_eq!(c.against_version, Some(1));
        assert!(c.reasons.iter().all(|r| r.starts_with("info: ")), "{c:?}");

        let changed = summary(
            r#"(module (import "env" "now" (func (result i64))) (memory (export "memory") 1 4)
                 (func (export "_start") (param i32)) (func (export "f") (param i64) (result i32) i32.const 0))"#,
        );
        let c = compatibility(Some(&version(3, v1)), &changed, "_start");
        assert_eq!(c.status, CompatibilityStatus::Breaking);
        assert_eq!(c.against_version, Some(3));
        let text = c.reasons.join("\n");
        assert!(
            text.contains("entrypoint `_start` signature changed"),
            "{text}"
        );
        assert!(
            text.contains("function export `f` signature changed"),
            "{text}"
        );
        assert!(text.contains("new host import `env.now`"), "{text}");
    }

    #[test]
    fn declared_digests_are_checked_for_shape() {
        let ok = "AB".repeat(32);
        assert_eq!(parse_declared_sha256(&ok).unwrap(), "ab".repeat(32));
        for bad in ["", "abc", &"zz".repeat(32), &"a".repeat(65)] {
            assert_eq!(
                parse_declared_sha256(bad).unwrap_err().code(),
                ErrorCode::InvalidRequest
            );
        }
    }
}
