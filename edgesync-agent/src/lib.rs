//! # edgesync-agent
//!
//! The edge node of EdgeSync. It registers with the control plane once (credentials kept in
//! `<data-dir>/credentials.json`, mode 0600), heartbeats with what it really runs, long-polls its
//! sync plan and applies it — schema migrations on a local SQLite database, function installs
//! (downloaded through signed URLs and verified against their SHA-256 before anything runs),
//! the route table (swapped atomically), removals — and acknowledges every action with its
//! result. It serves the routes over HTTP, running each request through the function's WASM
//! module with wasmtime, WAGI style, under the function's memory, time and concurrency limits.
//! It pushes telemetry, runs the commands operators queue for it, and survives restarts and
//! server outages: it keeps serving its last good state from its data directory.
//!
//! The pieces, one concern per module:
//!
//! * [`config`]: flags and `EDGESYNC_AGENT_*` variables → [`AgentConfig`].
//! * [`Agent`]: wiring; starts the HTTP server and the background loops.
//! * [`runtime`]: wasmtime engine, epoch ticker, per-call limits, WAGI environment and CGI output.
//! * `sync/`: the long-poll loop and plan application; `db`: the SQLite migration ledger;
//!   `artifacts`: the content-addressed artifact cache; `state`: the applied state on disk.
//! * `http/`: route dispatch and the `/_agent/status` endpoint.
//!
//! See `edgesync-agent/README.md` for the configuration, the WAGI convention, the limits and
//! the data directory layout.

mod agent;
mod artifacts;
mod backoff;
mod commands;
pub mod config;
mod credentials;
mod db;
mod error;
mod fsutil;
mod functions;
mod heartbeat;
mod http;
mod resources;
mod routes;
pub mod runtime;
mod session;
mod shared;
mod state;
mod stats;
mod sync;
mod telemetry;

pub use agent::{Agent, RunningAgent};
pub use config::AgentConfig;
pub use error::{AgentError, Result};
