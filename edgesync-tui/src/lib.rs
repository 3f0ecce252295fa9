//! # edgesync-tui
//!
//! The terminal console of an EdgeSync fleet, k9s-style: nodes, functions, deployments and
//! their rollouts, sync, telemetry, routes, schemas and API keys, refreshed live.
//!
//! State / update / view (ratatui's Elm architecture):
//! * [`app`]: the whole state ([`app::App`]);
//! * [`action`]: events from outside, the actions `update` understands, the effects it asks for;
//! * [`keys`]: key → action (and the help table);
//! * [`update`]: `update(&mut App, Action) -> Vec<Effect>`, no I/O;
//! * [`view`]: `draw(frame, &App)`, one file per view, never mutates;
//! * [`worker`]: HTTP through `edgesync-client` on tokio tasks, answers back as events;
//! * [`run`]: the event loop; [`embedded`]: the in-process server of `--data-dir`.

pub mod action;
pub mod app;
pub mod cli;
pub mod embedded;
pub mod format;
pub mod keys;
pub mod run;
pub mod update;
pub mod view;
pub mod worker;
