//! Embedding EdgeSync as a library: a control plane in-process on sled and local files, no
//! server. Registers a node, uploads a function, and reads both back.
//!
//! `cargo run -p edgesync-examples --example embedded`

use std::sync::Arc;

use bytes::Bytes;
use edgesync_core::EdgeSync;
use edgesync_core::model::{FunctionSpec, NodeRegistration};
use edgesync_object_store::ObjectArtifactStore;
use edgesync_sled::SledStore;
use futures::StreamExt;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let dir = std::env::temp_dir().join(format!("edgesync-embedded-{}", std::process::id()));
    let edgesync = EdgeSync::builder()
        .store(Arc::new(SledStore::open(dir.join("store"))?))
        .artifacts(Arc::new(ObjectArtifactStore::from_url(&format!(
            "file://{}",
            dir.join("artifacts").display()
        ))?))
        .build()
        .await?;

    let node = edgesync
        .register_node(NodeRegistration {
            name: "edge-fra-1".into(),
            pop: "fra".into(),
            region: "eu-central".into(),
            labels: [("tier".to_owned(), "edge".to_owned())].into(),
            agent_version: "example".into(),
            capabilities: vec!["wasm".into()],
            memory_budget_bytes: Some(256 << 20),
        })
        .await?;
    println!("registered node {} ({})", node.node.name, node.node.id);

    let wasm = wat::parse_str(include_str!("functions/hello.wat"))?;
    let body = futures::stream::iter([Ok(Bytes::from(wasm))]).boxed();
    let (function, version) = edgesync
        .upload_function(
            FunctionSpec {
                name: "hello".into(),
                entrypoint: "_start".into(),
                memory_pages: 1,
                max_execution_ms: 100,
                max_concurrency: 8,
                description: "says hello".into(),
            },
            body,
        )
        .await?;
    println!(
        "uploaded {} v{} sha256={}",
        function.name,
        version.version,
        version.sha256.as_deref().unwrap_or("?")
    );
    println!("nodes registered: {}", edgesync.node_count());
    std::fs::remove_dir_all(&dir).ok();
    Ok(())
}
