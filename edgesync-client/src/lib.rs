//! # edgesync-client
//!
//! The typed async HTTP client of the EdgeSync API, for operators (API keys, optionally
//! HMAC-signed) and edge nodes (node tokens). Request and response bodies are the
//! [`edgesync_wire`] types the server is built from, so both sides share one definition.
//!
//! ```no_run
//! # async fn demo() -> Result<(), edgesync_client::ClientError> {
//! use edgesync_client::{Client, NodeFilter};
//!
//! let client = Client::builder("http://127.0.0.1:8080")
//!     .api_key("esk_…")
//!     .retries(3)
//!     .build()?;
//! let online = client.list_all_nodes(&NodeFilter::default()).await?;
//! println!("{} nodes", online.len());
//! # Ok(()) }
//! ```
//!
//! * Operator endpoints are methods of [`Client`], one small function each, grouped by resource
//!   under `operator/`.
//! * Node endpoints live on [`NodeClient`] (`client.node(id)`), which carries the node's token
//!   and refreshes it in place.
//! * Every failure is a [`ClientError`]; a `304 Not Modified` sync answer is not an error but
//!   [`SyncPoll::NotModified`].
//! * Retries follow [`RetryPolicy`]: only retryable problems and transport failures, and only
//!   for requests that are safe to repeat.

mod builder;
mod client;
mod download;
mod error;
mod multipart;
mod node;
mod operator;
mod request;
mod retry;
mod secret;
pub mod signing;

pub use builder::ClientBuilder;
pub use client::Client;
pub use edgesync_wire as wire;
pub use error::{ClientError, Result};
pub use multipart::WasmBody;
pub use node::{NodeClient, SyncPoll};
pub use operator::nodes::NodeFilter;
pub use operator::telemetry::TelemetryFilter;
pub use retry::RetryPolicy;
