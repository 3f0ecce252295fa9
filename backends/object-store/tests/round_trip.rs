//! Property test: arbitrary bytes in arbitrary chunks come back bit-identical.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use edgesync_core::testkit::artifact_suite;
use edgesync_object_store::ObjectArtifactStore;
use proptest::prelude::*;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(32))]

    #[test]
    fn bytes_round_trip_through_memory_and_file(
        bytes in proptest::collection::vec(any::<u8>(), 0..200 * 1024),
        chunk in 1usize..64 * 1024,
        part in 1usize..32 * 1024,
    ) {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async {
            let memory = ObjectArtifactStore::from_url("memory://").unwrap().with_part_size(part);
            artifact_suite::round_trip(&memory, &bytes, chunk).await;

            let dir = tempfile::tempdir().unwrap();
            let file = ObjectArtifactStore::from_url(&format!("file://{}", dir.path().display()))
                .unwrap()
                .with_part_size(part);
            artifact_suite::round_trip(&file, &bytes, chunk).await;
        });
    }
}
