//! # edgesync-core
//!
//! The rules of the EdgeSync control plane: the domain model and its validation, label
//! selectors, route patterns, WASM inspection, authentication primitives, and the
//! [`EdgeSync`] facade that embedders and the server call. Storage, artifacts, notifications and
//! time come in through the ports [`Store`], [`ArtifactStore`], [`Notifier`] and [`Clock`]; this
//! crate does no I/O of its own.

pub mod artifacts;
pub mod auth;
pub mod clock;
pub mod control;
pub mod desired;
pub mod error;
pub mod model;
pub mod notify;
pub mod planner;
pub mod route_pattern;
pub mod selector;
pub mod store;
#[cfg(any(test, feature = "testkit"))]
pub mod testkit;
pub mod wasm;

pub use artifacts::{ArtifactKey, ArtifactStore, ArtifactUpload, ByteStream};
pub use clock::{Clock, ManualClock, SystemClock};
pub use control::{Config, EdgeSync, EdgeSyncBuilder, Principal, Quotas, RequiredAccess};
pub use error::{Error, ErrorCode, ErrorKind, Result};
pub use notify::{Notification, Notifier};
pub use store::Store;
