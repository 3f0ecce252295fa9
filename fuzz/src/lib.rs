//! Helpers shared by the fuzz targets in `fuzz_targets/`.
//!
//! [`Plane`] is a real control plane (`EdgeSync` over the in-memory store and artifact store,
//! with a manual clock) for the targets that push decoded input through the public facade, the
//! way the server does after decoding a request. It is built once per fuzzing process and
//! rebuilt after [`Plane::REBUILD_AFTER`] calls that may have stored something, so that memory
//! stays bounded however long the run.

use std::future::Future;
use std::sync::Arc;

use bytes::Bytes;
use edgesync_core::artifacts::ByteStream;
use edgesync_core::model::{FunctionId, FunctionSpec, NodeId, NodeRegistration, Timestamp};
use edgesync_core::store::memory::MemoryStore;
use edgesync_core::testkit::{MemArtifacts, wasm_fixtures};
use edgesync_core::{Config, EdgeSync, ManualClock};
use futures::StreamExt;

/// The fixed "now" of every plane: 2030-01-01T00:00:00Z.
pub const NOW_UNIX_MILLIS: i64 = 1_893_456_000_000;

/// A control plane with one registered node and one function (two ready versions).
pub struct Plane {
    runtime: tokio::runtime::Runtime,
    /// The facade.
    pub edgesync: EdgeSync,
    /// A registered, active node labelled `tier=edge,region=eu`, with a memory budget.
    pub node: NodeId,
    /// The node's refresh secret.
    pub refresh_secret: String,
    /// A function with ready versions 1 and 2 (both the hello module's interface).
    pub function: FunctionId,
    calls_that_may_write: u32,
}

impl Plane {
    /// Calls that may store something before the plane is thrown away and built again.
    pub const REBUILD_AFTER: u32 = 512;

    /// Builds a fresh plane. `config` tunes it (`bcrypt_cost` is lowered to the minimum).
    ///
    /// # Panics
    /// When the in-memory plane cannot be built: the harness itself is broken then.
    #[allow(clippy::expect_used)]
    pub fn new(mut config: Config) -> Self {
        config.bcrypt_cost = 4;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("tokio runtime");
        let (edgesync, node, refresh_secret, function) = runtime.block_on(async {
            let edgesync = EdgeSync::builder()
                .store(Arc::new(MemoryStore::new()))
                .artifacts(Arc::new(MemArtifacts::default()))
                .clock(Arc::new(ManualClock::new(Timestamp::from_unix_millis(
                    NOW_UNIX_MILLIS,
                ))))
                .config(config)
                .build()
                .await
                .expect("build EdgeSync");
            let registered = edgesync
                .register_node(NodeRegistration {
                    name: "fuzz-node-1".into(),
                    pop: "fra1".into(),
                    region: "eu".into(),
                    labels: [("tier", "edge"), ("region", "eu")]
                        .into_iter()
                        .map(|(k, v)| (k.to_owned(), v.to_owned()))
                        .collect(),
                    agent_version: "1.0.0".into(),
                    capabilities: vec!["wasm".into()],
                    memory_budget_bytes: Some(64 << 20),
                })
                .await
                .expect("register the fixture node");
            let spec = FunctionSpec {
                name: "fuzz-fn".into(),
                entrypoint: "_start".into(),
                memory_pages: 16,
                max_execution_ms: 1_000,
                max_concurrency: 4,
                description: String::new(),
            };
            let mut function = None;
            for _ in 0..2 {
                let (f, _) = edgesync
                    .upload_function(spec.clone(), chunks(&wasm_fixtures::hello(), &[]))
                    .await
                    .expect("upload the fixture function");
                function = Some(f.id);
            }
            (
                edgesync,
                registered.node.id,
                registered.refresh_token,
                function.expect("uploaded"),
            )
        });
        Self {
            runtime,
            edgesync,
            node,
            refresh_secret,
            function,
            calls_that_may_write: 0,
        }
    }

    /// Runs a future of the facade to completion.
    pub fn block_on<F: Future>(&self, future: F) -> F::Output {
        self.runtime.block_on(future)
    }

    /// Counts a call that may have stored something; `true` when the plane should be rebuilt.
    pub fn wrote(&mut self) -> bool {
        self.calls_that_may_write += 1;
        self.calls_that_may_write >= Self::REBUILD_AFTER
    }
}

/// `bytes` as an upload body, cut into chunks whose sizes cycle through `cuts` (one chunk when
/// `cuts` is empty; a zero size is read as one byte).
pub fn chunks(bytes: &[u8], cuts: &[usize]) -> ByteStream {
    let owned: Vec<edgesync_core::Result<Bytes>> = split(bytes, cuts)
        .into_iter()
        .map(|c| Ok(Bytes::copy_from_slice(c)))
        .collect();
    futures::stream::iter(owned).boxed()
}

/// `bytes` cut into slices whose sizes cycle through `cuts` (one slice when `cuts` is empty).
pub fn split<'a>(bytes: &'a [u8], cuts: &[usize]) -> Vec<&'a [u8]> {
    if cuts.is_empty() {
        return vec![bytes];
    }
    let mut out = Vec::new();
    let mut rest = bytes;
    for &cut in cuts.iter().cycle() {
        if rest.is_empty() {
            break;
        }
        let (chunk, tail) = rest.split_at(cut.clamp(1, rest.len()));
        out.push(chunk);
        rest = tail;
    }
    out
}

/// The default configuration with a module size limit.
pub fn config_with_module_limit(max_module_bytes: u64) -> Config {
    Config {
        max_module_bytes,
        ..Config::default()
    }
}
