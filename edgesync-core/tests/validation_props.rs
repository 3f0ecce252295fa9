//! Property tests of validation: whatever validates is stored and read back unchanged; whatever
//! does not is rejected by every entry point, with nothing stored.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use bytes::Bytes;
use edgesync_core::model::{FunctionSpec, NodeRegistration};
use edgesync_core::store::memory::MemoryStore;
use edgesync_core::store::{Collection, StoreExt};
use edgesync_core::testkit::wasm_fixtures;
use edgesync_core::{ArtifactStore, EdgeSync, ErrorCode};
use futures::StreamExt;
use proptest::prelude::*;

async fn edgesync() -> EdgeSync {
    let artifacts: Arc<dyn ArtifactStore> =
        Arc::new(edgesync_core::testkit::MemArtifacts::default());
    EdgeSync::builder()
        .store(Arc::new(MemoryStore::new()))
        .artifacts(artifacts)
        .build()
        .await
        .unwrap()
}

/// Names drawn from an alphabet that mixes valid and invalid characters.
fn name() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-z0-9][a-z0-9._-]{0,20}[a-z0-9]",
        "[a-zA-Z0-9 ._/!é-]{0,70}",
    ]
}

fn labels() -> impl Strategy<Value = std::collections::BTreeMap<String, String>> {
    proptest::collection::btree_map(
        "[a-z]{1,5}(/[a-z]{1,5})?|[A-Z !]{1,3}",
        "[a-z0-9]{0,5}|[ !]{1,2}",
        0..4,
    )
}

fn registration() -> impl Strategy<Value = NodeRegistration> {
    (name(), name(), labels(), "[ -~]{0,70}").prop_map(|(name, pop, labels, agent_version)| {
        NodeRegistration {
            name,
            pop,
            region: String::new(),
            labels,
            agent_version,
            capabilities: vec![],
            memory_budget_bytes: None,
        }
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, .. ProptestConfig::default() })]

    #[test]
    fn registrations_validate_consistently(reg in registration()) {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        rt.block_on(async {
            let es = edgesync().await;
            let valid = reg.validate().is_ok();
            match es.register_node(reg.clone()).await {
                Ok(registered) => {
                    assert!(valid, "register accepted what validate rejects: {reg:?}");
                    let stored = es.store().get_node(registered.node.id).await.unwrap().unwrap().value;
                    assert_eq!(stored, registered.node);
                    assert_eq!((stored.name, stored.pop, stored.labels), (reg.name, reg.pop, reg.labels));
                    let json = serde_json::to_string(&registered.node).unwrap();
                    assert_eq!(serde_json::from_str::<edgesync_core::model::Node>(&json).unwrap(), registered.node);
                }
                Err(e) => {
                    assert!(!valid, "register rejected what validate accepts: {reg:?}: {e}");
                    assert_eq!(e.code(), ErrorCode::InvalidRequest);
                    assert!(es.store().list_all(Collection::Nodes).await.unwrap().is_empty());
                }
            }
        });
    }

    #[test]
    fn function_specs_validate_consistently(
        name in name(),
        entrypoint in prop_oneof![Just("_start".to_owned()), "[a-z_]{0,3}"],
        memory_pages in prop_oneof![Just(0u32), 1u32..70_000],
        max_execution_ms in prop_oneof![Just(0u32), 1u32..400_000],
        max_concurrency in 0u32..20_000,
    ) {
        let spec = FunctionSpec { name, entrypoint, memory_pages, max_execution_ms, max_concurrency, description: String::new() };
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        rt.block_on(async {
            let es = edgesync().await;
            let body = futures::stream::iter([Ok(Bytes::from(wasm_fixtures::numbered(1)))]).boxed();
            let valid = spec.validate().is_ok();
            match es.upload_function(spec.clone(), body).await {
                Ok((f, v)) => {
                    assert!(valid);
                    assert_eq!(v.spec, spec);
                    let stored = es.store().get_function_version(f.id, 1).await.unwrap().unwrap().value;
                    assert_eq!(stored, v);
                }
                Err(e) => {
                    // Valid metadata may still be refused by the module check (entrypoint).
                    if valid {
                        assert!(matches!(e.code(), ErrorCode::EntrypointMissing | ErrorCode::EntrypointNotFunction), "{e}");
                    } else {
                        assert_eq!(e.code(), ErrorCode::InvalidRequest, "{e}");
                    }
                    assert!(es.store().list_all(Collection::Functions).await.unwrap().is_empty());
                }
            }
        });
    }
}
