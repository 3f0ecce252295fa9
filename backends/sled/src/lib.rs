//! # edgesync-sled
//!
//! A [`Store`](edgesync_core::Store) on [sled](https://docs.rs/sled/0.34.7), an embedded
//! database: the storage of a single-binary EdgeSync deployment.
//!
//! ```no_run
//! # fn main() -> edgesync_core::Result<()> {
//! let store = edgesync_sled::SledStore::open("/var/lib/edgesync")?;
//! # Ok(()) }
//! ```
//!
//! Layout (see `layout.rs`): one tree per record kind keyed by `RecordKey::encode()`, one tree
//! per unique index (`uniq_<index>`) mapping a value to its holder's key. Values carry the
//! revision in a fixed header before the record's JSON (`codec.rs`). Commits are sled
//! transactions over all trees (`commit.rs`), acknowledged after a flush shared by concurrent
//! committers (`group_commit.rs`). A database written by an earlier layout is brought up to
//! date when it opens (`upgrade.rs`).

mod codec;
mod commit;
mod error;
mod group_commit;
mod layout;
mod store;
mod upgrade;

pub use store::{DEFAULT_CACHE_BYTES, SledStore};
