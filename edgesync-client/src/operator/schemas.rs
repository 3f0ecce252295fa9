//! `/api/v1/schemas`: schema migrations for the nodes' local databases.

use edgesync_wire::{CreateMigrationRequest, MigrationInfo, MigrationList};
use reqwest::StatusCode;

use crate::client::Client;
use crate::error::Result;
use crate::request::Call;

impl Client {
    /// `POST /api/v1/schemas`: registers a migration. Returns it and whether it was created
    /// (201) rather than already registered with the same content (200). Registering the same
    /// content again changes nothing, so the request is retried like a `PUT`.
    pub async fn create_migration(
        &self,
        request: &CreateMigrationRequest,
    ) -> Result<(MigrationInfo, bool)> {
        let call = Call::post("/api/v1/schemas").idempotent().json(request)?;
        let (status, migration) = self.json_with_status(call).await?;
        Ok((migration, status == StatusCode::CREATED))
    }

    /// `GET /api/v1/schemas`: every migration, ascending by version.
    pub async fn list_migrations(&self) -> Result<MigrationList> {
        self.json(Call::get("/api/v1/schemas")).await
    }
}
