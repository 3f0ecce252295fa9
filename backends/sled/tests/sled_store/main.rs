//! Tests of `SledStore`, in one binary (the crash test re-runs this binary as its child).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

mod conformance;
mod crash;
mod durability;
mod equivalence;
mod group_commit;
mod listing;
mod upgrade;
