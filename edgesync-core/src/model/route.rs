//! Routes: host and path patterns (and methods) mapped to functions.

use serde::{Deserialize, Serialize};

use super::ids::{FunctionId, RouteId};
use super::time::Timestamp;

/// A route as stored. The pattern fields are kept in normalized form.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Route {
    /// Identity.
    pub id: RouteId,
    /// Host pattern (`api.example.com`, `*.example.com`) or any host.
    pub host: Option<String>,
    /// Path pattern (`/users/:id`, `/static/...`).
    pub path: String,
    /// Methods; empty means every method.
    pub methods: Vec<String>,
    /// The function that serves it.
    pub function_id: FunctionId,
    /// When it was created.
    pub created_at: Timestamp,
    /// When it last changed.
    pub updated_at: Timestamp,
}
