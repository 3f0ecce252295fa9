//! Running WASM functions: one wasmtime [`Engine`](wasmtime::Engine) per agent with epoch
//! interruption (a background thread advances the epoch every tick), WASI preview 1 with
//! in-memory pipes and nothing else (no preopened directories, no inherited environment, no
//! network), and per-call limits:
//!
//! * **memory**: a [`ResourceLimiter`](wasmtime::ResourceLimiter) on each call's store refuses
//!   growth beyond `memory_pages` (and traps, so the call ends as
//!   [`CallOutcome::MemoryLimit`]);
//! * **time**: the store's epoch deadline is `max_execution_ms` in ticks, rounded up, plus one
//!   tick; reaching it traps ([`CallOutcome::TimedOut`]);
//! * **output**: stdout is capped; beyond it the call ends as [`CallOutcome::OutputTooLarge`].
//!
//! Concurrency limits are the caller's business (a semaphore per function). Calls block: run
//! them on a blocking thread.
//!
//! [`wagi`] turns an HTTP request into the environment and stdin of a call, and the call's
//! stdout into an HTTP response.

mod engine;
mod limits;
mod outcome;
pub mod wagi;

pub use engine::{CallInput, CallLimits, WasmRuntime};
pub use outcome::CallOutcome;
