//! `/api/v1/routes`: host and path patterns mapped to the functions that serve them.

use edgesync_core::EdgeSync;
use edgesync_core::model::{RouteId, Scope};
use edgesync_wire as w;
use poem_openapi::param::Path;
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, OpenApi};
use uuid::Uuid;

use super::ApiTags;
use super::auth::ApiKeyAuth;
use super::convert;
use super::error::ApiResult;
use super::json::JsonBody;

/// Route endpoints.
pub struct RoutesApi {
    pub(crate) edgesync: EdgeSync,
}

/// `201 Created` with the new route.
#[derive(ApiResponse)]
pub enum RouteCreated {
    /// Created; the nodes that run the function receive it on their next sync.
    #[oai(status = 201)]
    Created(Json<w::RouteInfo>),
}

/// `204 No Content`.
#[derive(ApiResponse)]
pub enum RouteDeleted {
    /// Deleted.
    #[oai(status = 204)]
    NoContent,
}

#[OpenApi(prefix_path = "/api/v1/routes", tag = "ApiTags::Routes")]
impl RoutesApi {
    /// Create a route
    ///
    /// Maps a host pattern (`api.example.com`, `*.example.com`, or any host), a path pattern
    /// (`/users/:id`, `/static/...`) and methods (empty: all) to a function. A route with the
    /// same host, path shape and a shared method is 409 `route_conflict`. Needs `deploy`.
    #[oai(path = "/", method = "post", operation_id = "create_route")]
    async fn create(
        &self,
        auth: ApiKeyAuth,
        body: JsonBody<w::RouteRequest>,
    ) -> ApiResult<RouteCreated> {
        auth.require(&self.edgesync, Scope::Deploy)?;
        let route = self
            .edgesync
            .create_route(convert::route_spec_from_wire(body.0))
            .await?;
        Ok(RouteCreated::Created(Json(convert::route(&route))))
    }

    /// List routes
    ///
    /// Every route, oldest first.
    #[oai(path = "/", method = "get", operation_id = "list_routes")]
    async fn list(&self, auth: ApiKeyAuth) -> ApiResult<Json<w::RouteList>> {
        auth.require(&self.edgesync, Scope::Read)?;
        Ok(Json(w::RouteList {
            items: self.edgesync.routes().iter().map(convert::route).collect(),
        }))
    }

    /// Get a route
    #[oai(path = "/:id", method = "get", operation_id = "get_route")]
    async fn get(&self, auth: ApiKeyAuth, id: Path<Uuid>) -> ApiResult<Json<w::RouteInfo>> {
        auth.require(&self.edgesync, Scope::Read)?;
        let route = self.edgesync.route(RouteId::from_uuid(id.0))?;
        Ok(Json(convert::route(&route)))
    }

    /// Replace a route
    ///
    /// Replaces the route's patterns, methods and function. Needs `deploy`.
    #[oai(path = "/:id", method = "put", operation_id = "update_route")]
    async fn update(
        &self,
        auth: ApiKeyAuth,
        id: Path<Uuid>,
        body: JsonBody<w::RouteRequest>,
    ) -> ApiResult<Json<w::RouteInfo>> {
        auth.require(&self.edgesync, Scope::Deploy)?;
        let route = self
            .edgesync
            .update_route(
                RouteId::from_uuid(id.0),
                convert::route_spec_from_wire(body.0),
            )
            .await?;
        Ok(Json(convert::route(&route)))
    }

    /// Delete a route
    ///
    /// Needs `deploy`.
    #[oai(path = "/:id", method = "delete", operation_id = "delete_route")]
    async fn delete(&self, auth: ApiKeyAuth, id: Path<Uuid>) -> ApiResult<RouteDeleted> {
        auth.require(&self.edgesync, Scope::Deploy)?;
        self.edgesync.delete_route(RouteId::from_uuid(id.0)).await?;
        Ok(RouteDeleted::NoContent)
    }
}
