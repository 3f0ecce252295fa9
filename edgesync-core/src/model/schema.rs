//! Schema migrations for the edge nodes' local databases.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::time::Timestamp;
use super::validate;
use crate::error::{Error, Result};

/// An immutable migration. Versions strictly increase; nodes apply them in order.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SchemaMigration {
    /// Version (≥ 1).
    pub version: u64,
    /// Short name.
    pub name: String,
    /// SQL that applies it.
    pub up_sql: String,
    /// SQL that reverts it, if any.
    pub down_sql: Option<String>,
    /// Lowercase hex SHA-256 over name, up and down SQL, computed by the server.
    pub checksum: String,
    /// When it was registered.
    pub created_at: Timestamp,
}

/// Maximum size of a migration's SQL.
pub const MAX_SQL_BYTES: usize = 1 << 20;

/// What an operator posts.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewSchemaMigration {
    /// Version (≥ 1).
    pub version: u64,
    /// Short name.
    pub name: String,
    /// SQL that applies it.
    pub up_sql: String,
    /// SQL that reverts it.
    pub down_sql: Option<String>,
}

impl NewSchemaMigration {
    /// Checks every field.
    pub fn validate(&self) -> Result<()> {
        if self.version == 0 || self.version > i64::MAX as u64 {
            return Err(Error::invalid("version must be between 1 and 2^63-1"));
        }
        validate::name("name", &self.name)?;
        if self.up_sql.trim().is_empty() {
            return Err(Error::invalid("up_sql must not be empty"));
        }
        for (field, sql) in [
            ("up_sql", Some(&self.up_sql)),
            ("down_sql", self.down_sql.as_ref()),
        ] {
            if let Some(sql) = sql
                && sql.len() > MAX_SQL_BYTES
            {
                return Err(Error::invalid(format!("{field} must be at most 1 MiB")));
            }
        }
        Ok(())
    }

    /// The checksum: SHA-256 over the name, up SQL and down SQL, each length-prefixed.
    pub fn checksum(&self) -> String {
        let mut h = Sha256::new();
        for part in [
            self.name.as_bytes(),
            self.up_sql.as_bytes(),
            self.down_sql.as_deref().unwrap_or("").as_bytes(),
        ] {
            h.update((part.len() as u64).to_be_bytes());
            h.update(part);
        }
        hex::encode(h.finalize())
    }
}
