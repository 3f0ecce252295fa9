//! Where things live inside the object store.

use edgesync_core::ArtifactKey;
use object_store::path::Path;
use uuid::Uuid;

/// The folder of finished artifacts (`wasm/<sha256>`, as in [`ArtifactKey`]).
pub(crate) const ARTIFACTS: &str = "wasm";
/// The folder of uploads in progress (`staging/<uuid v4>`).
pub(crate) const STAGING: &str = "staging";
/// A path that never holds an object; listing it is the reachability probe.
pub(crate) const PROBE: &str = ".edgesync-probe";

/// The object path of an artifact.
pub(crate) fn artifact_path(key: &ArtifactKey) -> Path {
    Path::from(key.as_str())
}

/// A fresh staging path.
pub(crate) fn new_staging_path() -> Path {
    Path::from(STAGING).join(Uuid::new_v4().to_string())
}
