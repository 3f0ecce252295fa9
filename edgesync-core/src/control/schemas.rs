//! Schema migrations for the nodes' local databases: immutable, strictly increasing.

use super::EdgeSync;
use crate::error::{Error, ErrorCode, Result};
use crate::model::{NewSchemaMigration, SchemaMigration};
use crate::store::{Record, Write};

impl EdgeSync {
    /// Registers a migration. Versions must increase; posting an existing version again with the
    /// same content is a no-op that returns it (`false`: not created), with different content a
    /// `schema_checksum_mismatch` conflict.
    pub async fn add_migration(&self, new: NewSchemaMigration) -> Result<(SchemaMigration, bool)> {
        new.validate()?;
        let checksum = new.checksum();
        if let Some(existing) = self.inner.catalog.migration(new.version) {
            return if existing.checksum == checksum {
                Ok((existing, false))
            } else {
                Err(Error::new(
                    ErrorCode::SchemaChecksumMismatch,
                    format!(
                        "migration {} exists with checksum {}; migrations are immutable, register a new version instead",
                        new.version, existing.checksum
                    ),
                ))
            };
        }
        let head = self.inner.catalog.catalog().schema_head();
        if new.version <= head {
            return Err(Error::new(
                ErrorCode::SchemaVersionNotIncreasing,
                format!(
                    "migration versions must increase: the head is {head}, got {}",
                    new.version
                ),
            ));
        }
        let migration = SchemaMigration {
            version: new.version,
            name: new.name,
            up_sql: new.up_sql,
            down_sql: new.down_sql,
            checksum,
            created_at: self.now(),
        };
        match self
            .commit_control(&[Write::create(Record::Migration(migration.clone()))])
            .await
        {
            Ok(_) => {}
            // A concurrent post of the same version: answer as if it had come first.
            Err(e) if e.code() == ErrorCode::AlreadyExists => {
                return Err(Error::new(
                    ErrorCode::RevisionConflict,
                    format!(
                        "migration {} was registered concurrently; retry",
                        migration.version
                    ),
                ));
            }
            Err(e) => return Err(e),
        }
        self.inner.catalog.put_migration(migration.clone());
        let changed = self.retarget(super::Affected::All);
        tracing::info!(version = migration.version, name = %migration.name, nodes_retargeted = changed, "schema migration registered");
        Ok((migration, true))
    }

    /// Every migration, ascending by version.
    pub fn migrations(&self) -> Vec<SchemaMigration> {
        self.inner.catalog.migrations().as_ref().clone()
    }
}
