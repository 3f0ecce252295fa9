//! Routes: host and path patterns (and methods) mapped to functions.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use uuid::Uuid;

/// `POST /api/v1/routes` and `PUT /api/v1/routes/{id}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(poem_openapi::Object))]
#[cfg_attr(feature = "openapi", oai(deny_unknown_fields))]
#[serde(deny_unknown_fields)]
pub struct RouteRequest {
    /// Host pattern (`api.example.com`, `*.example.com`); absent matches any host.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", oai(skip_serializing_if_is_none))]
    pub host: Option<String>,
    /// Path pattern (`/users/:id`, `/static/...`).
    pub path: String,
    /// HTTP methods; empty (the default) means every method.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", oai(default))]
    pub methods: Vec<String>,
    /// The function that serves the route.
    pub function_id: Uuid,
}

/// A route.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(poem_openapi::Object))]
pub struct RouteInfo {
    /// Id.
    pub id: Uuid,
    /// Host pattern (normalized); absent matches any host.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", oai(skip_serializing_if_is_none))]
    pub host: Option<String>,
    /// Path pattern (normalized).
    pub path: String,
    /// Methods (normalized); empty means every method.
    pub methods: Vec<String>,
    /// The function that serves it.
    pub function_id: Uuid,
    /// When it was created.
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    /// When it last changed.
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
}

/// Every route.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(poem_openapi::Object))]
pub struct RouteList {
    /// The routes, oldest first.
    pub items: Vec<RouteInfo>,
}
