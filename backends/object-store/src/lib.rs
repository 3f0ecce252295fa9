//! # edgesync-object-store
//!
//! The [`ArtifactStore`](edgesync_core::ArtifactStore) of EdgeSync on the `object_store` crate,
//! chosen at run time by URL:
//!
//! | URL | backend |
//! |---|---|
//! | `memory://` | in process memory (tests, demos) |
//! | `file:///abs/path` | a local directory (created when missing) |
//! | `s3://bucket?endpoint=…&region=…&prefix=…` | S3 or an S3-compatible server |
//!
//! ## Layout and atomicity
//! Finished artifacts live under `wasm/<sha256 hex>`; uploads in progress are streamed into
//! `staging/<uuid v4>` with a multipart upload. [`ArtifactUpload::finish`] completes the staged
//! object, then renames it to its key: an atomic `rename(2)` on `file://`, an atomic copy (plus a
//! delete of the staged copy) on S3 and in memory. Nothing under `wasm/` is ever half written.
//!
//! [`ArtifactUpload::finish`]: edgesync_core::ArtifactUpload::finish

mod backend;
mod config;
mod errors;
mod layout;
mod local;
mod s3;
mod store;
mod upload;

pub use config::{ArtifactStoreConfig, S3Config};
pub use store::ObjectArtifactStore;
