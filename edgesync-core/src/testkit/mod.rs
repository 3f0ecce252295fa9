//! What every backend must pass, and helpers for tests (feature `testkit`).

//!
//! Backends call [`store_suite::run_all`] / [`artifact_suite::run_all`] from their own tests with a
//! factory that makes a fresh, empty instance.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

pub mod artifact_suite;
pub mod counting;
pub mod faulty;
pub mod faulty_artifacts;
pub mod faulty_notifier;
pub mod fixtures;
pub mod mem_artifacts;
pub mod sim;
pub mod store_suite;
pub mod wasm_fixtures;

pub use crate::clock::ManualClock;
pub use mem_artifacts::MemArtifacts;
