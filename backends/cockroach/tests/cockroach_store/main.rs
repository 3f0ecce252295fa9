//! Tests of `CockroachStore` against a real PostgreSQL server (CockroachDB's wire protocol and,
//! at SERIALIZABLE, its 40001 retry path). Each store gets a fresh database.
//!
//! Set `EDGESYNC_TEST_POSTGRES_URL` (e.g. `postgresql://postgres@127.0.0.1:5432/test`) to a
//! database whose user may create databases; without it every test says it was skipped.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    missing_docs,
    unreachable_pub
)]

mod conformance;
mod connection;
mod equivalence;
mod listing;
mod migrations;
mod retries;
mod sql_tables;
mod support;
