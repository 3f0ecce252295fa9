//! `/api/v1/schemas`: the schema migrations nodes apply to their local databases.

use edgesync_core::EdgeSync;
use edgesync_core::model::Scope;
use edgesync_wire as w;
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, OpenApi};

use super::ApiTags;
use super::auth::ApiKeyAuth;
use super::convert;
use super::error::ApiResult;
use super::json::JsonBody;

/// Schema migration endpoints.
pub struct SchemasApi {
    pub(crate) edgesync: EdgeSync,
}

/// The registered migration: `201` when new, `200` when it existed with the same content.
#[derive(ApiResponse)]
pub enum MigrationRegistered {
    /// Registered; nodes receive it on their next sync.
    #[oai(status = 201)]
    Created(Json<w::MigrationInfo>),
    /// Already registered with the same checksum; nothing changed.
    #[oai(status = 200)]
    Existing(Json<w::MigrationInfo>),
}

#[OpenApi(prefix_path = "/api/v1/schemas", tag = "ApiTags::Schemas")]
impl SchemasApi {
    /// Register a schema migration
    ///
    /// Migrations are immutable and their versions increase. Posting a registered version
    /// again with the same content answers 200 and changes nothing; with other content 409
    /// `schema_checksum_mismatch`. A version not above the head is 409
    /// `schema_version_not_increasing`. Needs `deploy`.
    #[oai(path = "/", method = "post", operation_id = "create_migration")]
    async fn create(
        &self,
        auth: ApiKeyAuth,
        body: JsonBody<w::CreateMigrationRequest>,
    ) -> ApiResult<MigrationRegistered> {
        auth.require(&self.edgesync, Scope::Deploy)?;
        let (migration, created) = self
            .edgesync
            .add_migration(convert::migration_from_wire(body.0))
            .await?;
        let body = Json(convert::migration(&migration));
        Ok(if created {
            MigrationRegistered::Created(body)
        } else {
            MigrationRegistered::Existing(body)
        })
    }

    /// List schema migrations
    ///
    /// Every migration, ascending by version.
    #[oai(path = "/", method = "get", operation_id = "list_migrations")]
    async fn list(&self, auth: ApiKeyAuth) -> ApiResult<Json<w::MigrationList>> {
        auth.require(&self.edgesync, Scope::Read)?;
        Ok(Json(w::MigrationList {
            items: self
                .edgesync
                .migrations()
                .iter()
                .map(convert::migration)
                .collect(),
        }))
    }
}
