//! `wasm_ingest`: the checks an uploaded WebAssembly module goes through.
//!
//! Input: byte 0 picks the mode and the limits, byte 1 how the upload is cut into chunks; the
//! rest is either the module itself (raw mode: libFuzzer mutates WebAssembly bytes, seeded with
//! real modules) or the seed from which `wasm-smith` builds a valid-shaped module (memories of
//! any declared size, 64-bit and shared memories, imports, exports of every kind).
//!
//! Checked, besides "never panics, never hangs, never balloons":
//! * the streaming `WasmInspector` reaches the same verdict and report however the bytes are cut
//!   into chunks (one chunk is `wasm::inspect`) — except that bytes both too large and invalid
//!   fail with whichever is seen first — and never buffers more than the size limit;
//! * an accepted module's report is true to the bytes: size, SHA-256, the entrypoint exported as
//!   a function, no memory whose initial size is over the limit;
//! * `wasm::compare` finds nothing between a report and itself, and does not panic against the
//!   previously accepted report;
//! * with a valid spec, `EdgeSync::upload_function` (spec validation, quotas, streamed ingest,
//!   compatibility with the previous version) reaches the same verdict with the same digest
//!   (every accepted module, and one rejected module in eight: the facade is slow).
#![no_main]

use std::cell::RefCell;

use arbitrary::Unstructured;
use edgesync_core::model::FunctionSpec;
use edgesync_core::wasm::{self, ExternKind, InspectLimits, WasmError, WasmInspector, WasmReport};
use edgesync_fuzz::{Plane, chunks, config_with_module_limit, split};
use libfuzzer_sys::fuzz_target;
use sha2::{Digest, Sha256};

/// The module size limit of the facade's plane.
const PLANE_MAX_MODULE_BYTES: u64 = 1 << 20;

thread_local! {
    static PLANE: RefCell<Option<Plane>> = const { RefCell::new(None) };
    static PREVIOUS: RefCell<Option<WasmReport>> = const { RefCell::new(None) };
}

fuzz_target!(|data: &[u8]| {
    let [mode, cut, rest @ ..] = data else {
        return;
    };
    let (module, names) = if mode & 1 == 0 {
        (rest.to_vec(), Vec::new())
    } else {
        match smith_module(rest) {
            Some(module) => {
                let names = export_names(&module);
                (module, names)
            }
            None => return,
        }
    };
    let max_memory_pages = [0, 1, 16, 65_536][usize::from((mode >> 1) & 3)];
    let len = module.len() as u64;
    let max_size_bytes =
        [PLANE_MAX_MODULE_BYTES, len, len.saturating_sub(1), 64][usize::from((mode >> 3) & 3)];
    // The entrypoint: `_start`, or (generated modules) one of the module's exports.
    let entrypoint = match usize::from(mode >> 5) {
        0 => "_start".to_owned(),
        pick => names
            .get(pick % names.len().max(1))
            .cloned()
            .unwrap_or_else(|| "_start".to_owned()),
    };
    let limits = InspectLimits {
        max_size_bytes,
        max_memory_pages,
        entrypoint: entrypoint.clone(),
    };
    let cuts = [
        usize::from(*cut),
        usize::from(*cut / 2) + 1,
        3,
        usize::from(*cut) * 3 + 1,
    ];
    let whole = wasm::inspect(&module, limits.clone());
    let streamed = stream(&module, if *cut == 0 { &[] } else { &cuts }, limits.clone());
    same_verdict(&whole, &streamed);

    if let Ok(report) = &whole {
        check_report(&module, report, &limits);
        let same = wasm::compare(report, report, &entrypoint);
        assert!(
            !same.breaking && same.reasons.is_empty(),
            "a module compared with itself: {same:?}"
        );
        PREVIOUS.with(|previous| {
            if let Some(previous) = previous.borrow().as_ref() {
                let verdict = wasm::compare(previous, report, &entrypoint);
                assert_eq!(
                    verdict.breaking,
                    verdict
                        .reasons
                        .iter()
                        .any(|r| r.starts_with(wasm::BREAKING_PREFIX))
                );
            }
            *previous.borrow_mut() = Some(report.clone());
        });
    }

    // The facade, for the limits it can express (a valid spec, the plane's size limit).
    let spec = FunctionSpec {
        name: "fuzz-upload".into(),
        entrypoint,
        memory_pages: max_memory_pages,
        max_execution_ms: 1_000,
        max_concurrency: 1,
        description: String::new(),
    };
    // Accepted modules always, rejected ones one time in eight (the facade is slow).
    if max_size_bytes != PLANE_MAX_MODULE_BYTES
        || spec.validate().is_err()
        || (whole.is_err() && cut % 8 != 0)
    {
        return;
    }
    PLANE.with(|plane| {
        let mut plane = plane.borrow_mut();
        let p = plane
            .get_or_insert_with(|| Plane::new(config_with_module_limit(PLANE_MAX_MODULE_BYTES)));
        let uploaded = p.block_on(p.edgesync.upload_function(spec, chunks(&module, &cuts)));
        match (&whole, &uploaded) {
            (Ok(report), Ok((_, version))) => {
                assert_eq!(
                    version.sha256.as_deref(),
                    Some(report.sha256_hex().as_str())
                );
                assert_eq!(version.size, Some(report.size));
                assert!(version.compatibility.is_some());
            }
            (Err(expected), Err(got)) => assert_eq!(got.code().as_str(), expected.code()),
            _ => panic!("inspect and upload disagree: {whole:?} vs {uploaded:?}"),
        }
        if uploaded.is_ok() && p.wrote() {
            *plane = None;
        }
    });
});

/// The verdict may not depend on how the upload is chunked, with one exception: bytes that are
/// both too large and invalid fail with whichever the inspector sees first (it stops at the
/// first chunk that crosses the limit, and at the first invalid payload).
fn same_verdict(whole: &Result<WasmReport, WasmError>, streamed: &Result<WasmReport, WasmError>) {
    let too_large =
        |r: &Result<WasmReport, WasmError>| matches!(r, Err(WasmError::TooLarge { .. }));
    if too_large(whole) != too_large(streamed) {
        assert!(
            whole.is_err() && streamed.is_err(),
            "{whole:?} vs {streamed:?}"
        );
    } else {
        assert_eq!(whole, streamed, "chunking changed the verdict");
    }
}

/// Feeds `module` to a `WasmInspector` in chunks, checking the buffer bound as it goes.
fn stream(module: &[u8], cuts: &[usize], limits: InspectLimits) -> Result<WasmReport, WasmError> {
    let max = limits.max_size_bytes;
    let mut inspector = WasmInspector::new(limits);
    for chunk in split(module, cuts) {
        let fed = inspector.update(chunk);
        assert!(
            inspector.buffered_bytes() as u64 <= max,
            "buffered past the size limit"
        );
        fed?;
    }
    inspector.finish()
}

fn check_report(module: &[u8], report: &WasmReport, limits: &InspectLimits) {
    assert_eq!(report.size, module.len() as u64);
    assert!(report.size <= limits.max_size_bytes);
    let digest: [u8; 32] = Sha256::digest(module).into();
    assert_eq!(report.sha256, digest);
    let entry = report.export(&limits.entrypoint).map(|e| e.kind);
    assert_eq!(entry, Some(ExternKind::Function));
    if let Some(memory) = report.memory {
        assert!(memory.initial_pages <= u64::from(limits.max_memory_pages));
    }
}

/// A module built by wasm-smith from `seed`, with settings that stress what the inspector
/// collects: several memories of any size, many imports and exports.
fn smith_module(seed: &[u8]) -> Option<Vec<u8>> {
    let mut u = Unstructured::new(seed);
    let mut config = wasm_smith::Config {
        max_memories: 3,
        max_funcs: 20,
        max_imports: 20,
        max_exports: 20,
        min_funcs: 1,
        ..wasm_smith::Config::default()
    };
    config.export_everything = u.arbitrary().ok()?;
    config.memory_max_size_required = u.arbitrary().ok()?;
    config.threads_enabled = u.arbitrary().ok()?;
    wasm_smith::Module::new(config, &mut u)
        .ok()
        .map(|m| m.to_bytes())
}

/// The export names of a module (of every kind: a non-function entrypoint must be rejected).
fn export_names(module: &[u8]) -> Vec<String> {
    let mut names = Vec::new();
    for payload in wasmparser::Parser::new(0).parse_all(module) {
        let Ok(payload) = payload else { break };
        if let wasmparser::Payload::ExportSection(reader) = payload {
            names.extend(reader.into_iter().flatten().map(|e| e.name.to_owned()));
        }
    }
    names
}
