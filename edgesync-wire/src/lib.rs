//! # edgesync-wire
//!
//! The request and response bodies of the EdgeSync HTTP API, defined once. The server derives
//! its OpenAPI document from them (feature `openapi`); the typed client and the edge agent use
//! the same definitions through serde, so the two sides cannot drift apart.
//!
//! Field names are the wire names. Timestamps are RFC 3339 strings.

pub mod api_keys;
pub mod commands;
pub mod deployments;
pub mod functions;
pub mod health;
pub mod nodes;
pub mod problem;
pub mod routes;
pub mod schemas;
pub mod sync;
pub mod telemetry;

pub use api_keys::*;
pub use commands::*;
pub use deployments::*;
pub use functions::*;
pub use health::*;
pub use nodes::*;
pub use problem::*;
pub use routes::*;
pub use schemas::*;
pub use sync::*;
pub use telemetry::*;

/// `BTreeMap<String, String>` of labels.
pub type Labels = std::collections::BTreeMap<String, String>;
