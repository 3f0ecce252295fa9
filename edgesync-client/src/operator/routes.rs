//! `/api/v1/routes`: create, list, read, replace, delete.

use edgesync_wire::{RouteInfo, RouteList, RouteRequest};
use uuid::Uuid;

use crate::client::Client;
use crate::error::Result;
use crate::request::Call;

impl Client {
    /// `POST /api/v1/routes`. Not retried once sent.
    pub async fn create_route(&self, request: &RouteRequest) -> Result<RouteInfo> {
        self.json(Call::post("/api/v1/routes").json(request)?).await
    }

    /// `GET /api/v1/routes`: every route, oldest first.
    pub async fn list_routes(&self) -> Result<RouteList> {
        self.json(Call::get("/api/v1/routes")).await
    }

    /// `GET /api/v1/routes/{id}`.
    pub async fn get_route(&self, id: Uuid) -> Result<RouteInfo> {
        self.json(Call::get(format!("/api/v1/routes/{id}"))).await
    }

    /// `PUT /api/v1/routes/{id}`: replaces the route.
    pub async fn update_route(&self, id: Uuid, request: &RouteRequest) -> Result<RouteInfo> {
        self.json(Call::put(format!("/api/v1/routes/{id}")).json(request)?)
            .await
    }

    /// `DELETE /api/v1/routes/{id}`.
    pub async fn delete_route(&self, id: Uuid) -> Result<()> {
        self.empty(Call::delete(format!("/api/v1/routes/{id}")))
            .await
    }
}
