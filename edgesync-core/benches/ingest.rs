//! Ingest throughput, as ratios against bare `wasmparser` validation of the same bytes measured
//! in the same run (goal: the one-pass ingest keeps at least 0.8× the validation throughput).
//!
//! ```text
//! cargo bench -p edgesync-core --bench ingest            # default: 15 rounds
//! cargo bench -p edgesync-core --bench ingest -- 40      # more rounds
//! ```
//!
//! For each module it measures, interleaved round by round so that drift hits all alike, and
//! reports the median of each:
//! * `validate`: `wasmparser::Validator::validate_all` on the whole buffer (the baseline);
//! * `sha256`: SHA-256 of the buffer alone;
//! * `inspect`: the streaming inspector (hash + validate + exports/imports/memory) fed 64 KiB
//!   chunks, which is what an upload does besides storing;
//! * `ingest`: the whole one-pass upload through the facade (`EdgeSync::upload_function`):
//!   inspector + staged write to the in-memory artifact store + the version record.
//!
//! Ratios are throughput ratios (`t_validate / t_x`): 1.0 is as fast as bare validation.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use edgesync_core::model::FunctionSpec;
use edgesync_core::store::memory::MemoryStore;
use edgesync_core::testkit::MemArtifacts;
use edgesync_core::wasm::{InspectLimits, WasmInspector};
use edgesync_core::{Config, EdgeSync};
use futures::StreamExt;
use sha2::{Digest, Sha256};

const CHUNK: usize = 64 * 1024;
const REAL: &[u8] = include_bytes!("../tests/fixtures/brotli_wasm_bg.wasm");

/// A code-heavy module of about `target` bytes: many functions with arithmetic and control
/// flow, so validation has real work to do. Like a compiled program, it exports few of them
/// (one in a thousand).
fn generated_code(target: usize) -> Vec<u8> {
    let mut wat =
        String::from("(module (memory (export \"memory\") 1) (func (export \"_start\"))\n");
    // Locals: 0 is the i32 parameter, 1 an i32, 2 an i64.
    let body = "(local i32 i64) \
        (local.set 1 (i32.add (local.get 0) (i32.const 7))) \
        (block (loop (br_if 1 (i32.eqz (local.get 1))) \
          (local.set 1 (i32.sub (local.get 1) (i32.const 1))) \
          (local.set 2 (i64.mul (local.get 2) (i64.extend_i32_u (local.get 1)))) \
          (drop (i32.load offset=8 (i32.and (local.get 1) (i32.const 1023)))) \
          (br 0))) \
        (i32.wrap_i64 (local.get 2))";
    let func = |i: usize| {
        let export = if i.is_multiple_of(1000) {
            format!("(export \"f{i}\")")
        } else {
            String::new()
        };
        format!("(func {export} (param i32) (result i32) {body})\n")
    };
    // Size per function from a sample, then the count that reaches the target.
    let sample: String = (0..1000).map(func).collect();
    let per_func = wat::parse_str(format!("(module {sample})")).unwrap().len() / 1000;
    for i in 0..target / per_func.max(1) {
        wat.push_str(&func(i));
    }
    wat.push(')');
    wat::parse_str(&wat).unwrap()
}

/// A data-heavy module of about `target` bytes: one big data segment and little code.
fn generated_data(target: usize) -> Vec<u8> {
    let bytes: String = (0..target)
        .map(|i| format!("\\{:02x}", (i * 31 % 251) as u8))
        .collect();
    let pages = target / 65_536 + 1;
    wat::parse_str(format!(
        "(module (memory (export \"memory\") {pages}) (data (i32.const 0) \"{bytes}\") (func (export \"_start\")))"
    ))
    .unwrap()
}

fn spec(name: &str, entrypoint: &str) -> FunctionSpec {
    FunctionSpec {
        name: name.into(),
        entrypoint: entrypoint.into(),
        memory_pages: 65_536,
        max_execution_ms: 1000,
        max_concurrency: 1,
        description: String::new(),
    }
}

fn time(f: impl FnOnce()) -> Duration {
    let start = Instant::now();
    f();
    start.elapsed()
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort_unstable();
    v[v.len() / 2]
}

struct Case {
    name: &'static str,
    bytes: Vec<u8>,
    entrypoint: &'static str,
    /// Whether the goal applies: validation skips the bytes of data segments, so for a
    /// data-only module the "baseline" reads almost nothing while hashing must read everything.
    goal: bool,
}

fn main() {
    let rounds: usize = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(15);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let cases = [
        Case {
            name: "brotli-wasm (real, 1.0 MB)",
            bytes: REAL.to_vec(),
            entrypoint: "compress",
            goal: true,
        },
        Case {
            name: "generated code (8 MB)",
            bytes: generated_code(8 << 20),
            entrypoint: "_start",
            goal: true,
        },
        Case {
            name: "generated data (8 MB)",
            bytes: generated_data(8 << 20),
            entrypoint: "_start",
            goal: false,
        },
    ];
    println!(
        "ingest benchmark: {rounds} rounds, median of each; ratio = throughput / bare validation"
    );
    println!(
        "{:<30} {:>9} | {:>10} {:>10} {:>10} {:>10} | {:>7} {:>7} {:>7}",
        "module", "size", "validate", "sha256", "inspect", "ingest", "sha256", "inspect", "ingest"
    );
    let mut worst = f64::INFINITY;
    for case in &cases {
        let bytes = &case.bytes;
        let limits = InspectLimits {
            max_size_bytes: 1 << 30,
            max_memory_pages: 65_536,
            entrypoint: case.entrypoint.into(),
        };
        let edgesync = rt.block_on(async {
            EdgeSync::builder()
                .store(Arc::new(MemoryStore::new()))
                .artifacts(Arc::new(MemArtifacts::default()))
                .config(Config {
                    max_module_bytes: 1 << 30,
                    ..Config::default()
                })
                .build()
                .await
                .unwrap()
        });
        let chunks: Vec<Bytes> = bytes.chunks(CHUNK).map(Bytes::copy_from_slice).collect();
        let (mut validate, mut sha, mut inspect, mut ingest) =
            (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        for round in 0..=rounds {
            let v = time(|| {
                wasmparser::Validator::new()
                    .validate_all(black_box(bytes))
                    .unwrap();
            });
            let s = time(|| {
                black_box(Sha256::digest(black_box(bytes)));
            });
            let i = time(|| {
                let mut inspector = WasmInspector::new(limits.clone());
                for c in bytes.chunks(CHUNK) {
                    inspector.update(black_box(c)).unwrap();
                }
                black_box(inspector.finish().unwrap());
            });
            let g = time(|| {
                let body = futures::stream::iter(chunks.clone().into_iter().map(Ok)).boxed();
                rt.block_on(edgesync.upload_function(spec("bench", case.entrypoint), body))
                    .unwrap();
            });
            // Round 0 warms caches and allocators up.
            if round > 0 {
                validate.push(v);
                sha.push(s);
                inspect.push(i);
                ingest.push(g);
            }
        }
        let (v, s, i, g) = (
            median(validate),
            median(sha),
            median(inspect),
            median(ingest),
        );
        let ratio = |d: Duration| v.as_secs_f64() / d.as_secs_f64();
        let mbps = |d: Duration| bytes.len() as f64 / d.as_secs_f64() / 1e6;
        if case.goal {
            worst = worst.min(ratio(g));
        }
        println!(
            "{:<30} {:>7.2}MB | {:>6.0}MB/s {:>6.0}MB/s {:>6.0}MB/s {:>6.0}MB/s | {:>6.2}x {:>6.2}x {:>6.2}x",
            if case.goal {
                case.name.to_owned()
            } else {
                format!("{} *", case.name)
            },
            bytes.len() as f64 / 1e6,
            mbps(v),
            mbps(s),
            mbps(i),
            mbps(g),
            ratio(s),
            ratio(i),
            ratio(g),
        );
    }
    println!(
        "* validation skips data-segment bytes, hashing cannot: not a meaningful baseline, \
         shown for the absolute figures"
    );
    println!(
        "worst ingest ratio: {worst:.2}x bare validation (goal >= 0.80): {}",
        if worst >= 0.8 { "met" } else { "NOT met" }
    );
}
