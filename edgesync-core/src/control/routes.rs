//! Routes: host and path patterns (and methods) mapped to functions.

use super::EdgeSync;
use super::functions::function_not_found;
use crate::error::{Error, ErrorCode, Result};
use crate::model::{FunctionId, Route, RouteId};
use crate::route_pattern::RoutePattern;
use crate::store::{Expect, Record, RecordKey, StoreExt, Write};

/// What an operator sends for a route.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RouteSpec {
    /// Host pattern (`api.example.com`, `*.example.com`), or any host.
    pub host: Option<String>,
    /// Path pattern (`/users/:id`, `/static/...`).
    pub path: String,
    /// Methods; empty means all.
    pub methods: Vec<String>,
    /// The function that serves it.
    pub function_id: FunctionId,
}

impl EdgeSync {
    async fn check_route(&self, spec: &RouteSpec, except: Option<RouteId>) -> Result<RoutePattern> {
        let pattern = RoutePattern::parse(spec.host.as_deref(), &spec.path, &spec.methods)
            .map_err(|e| Error::invalid(format!("route: {e}")))?;
        if self
            .inner
            .store
            .get_function(spec.function_id)
            .await?
            .is_none()
        {
            return Err(function_not_found(spec.function_id));
        }
        for other in self.inner.catalog.routes() {
            if Some(other.id) == except {
                continue;
            }
            let Ok(p) = RoutePattern::parse(other.host.as_deref(), &other.path, &other.methods)
            else {
                continue;
            };
            if pattern.conflicts_with(&p) {
                return Err(Error::new(
                    ErrorCode::RouteConflict,
                    format!("route {} already serves {p}", other.id),
                ));
            }
        }
        Ok(pattern)
    }

    /// Adds a route. Identical patterns (same host, path shape and a shared method) conflict.
    pub async fn create_route(&self, spec: RouteSpec) -> Result<Route> {
        let pattern = self.check_route(&spec, None).await?;
        let now = self.now();
        let route = Route {
            id: RouteId::random(),
            host: pattern.host().map(str::to_owned),
            path: pattern.path().to_owned(),
            methods: pattern.methods().to_vec(),
            function_id: spec.function_id,
            created_at: now,
            updated_at: now,
        };
        self.commit_control(&[Write::create(Record::Route(route.clone()))])
            .await?;
        self.inner.catalog.put_route(route.clone());
        self.retarget(super::Affected::Running(&[route.function_id]));
        tracing::info!(route_id = %route.id, %pattern, function_id = %route.function_id, "route created");
        Ok(route)
    }

    /// Replaces a route's pattern and function.
    pub async fn update_route(&self, id: RouteId, spec: RouteSpec) -> Result<Route> {
        let current = self.inner.store.get(&RecordKey::Route { id }).await?;
        let Some(stored) = current else {
            return Err(route_not_found(id));
        };
        let Record::Route(old) = stored.record else {
            return Err(Error::internal("a route key holds another record"));
        };
        let pattern = self.check_route(&spec, Some(id)).await?;
        let route = Route {
            id,
            host: pattern.host().map(str::to_owned),
            path: pattern.path().to_owned(),
            methods: pattern.methods().to_vec(),
            function_id: spec.function_id,
            created_at: old.created_at,
            updated_at: self.now(),
        };
        self.commit_control(&[Write::update(Record::Route(route.clone()), stored.revision)])
            .await?;
        self.inner.catalog.put_route(route.clone());
        self.retarget(super::Affected::Running(&[
            old.function_id,
            route.function_id,
        ]));
        Ok(route)
    }

    /// Deletes a route.
    pub async fn delete_route(&self, id: RouteId) -> Result<()> {
        let Some(old) = self.inner.catalog.route(id) else {
            return Err(route_not_found(id));
        };
        self.commit_control(&[Write::Delete {
            key: RecordKey::Route { id },
            expect: Expect::Any,
        }])
        .await?;
        self.inner.catalog.remove_route(id);
        self.retarget(super::Affected::Running(&[old.function_id]));
        Ok(())
    }

    /// Every route, oldest first.
    pub fn routes(&self) -> Vec<Route> {
        self.inner.catalog.routes()
    }

    /// One route.
    pub fn route(&self, id: RouteId) -> Result<Route> {
        self.inner
            .catalog
            .route(id)
            .ok_or_else(|| route_not_found(id))
    }
}

fn route_not_found(id: RouteId) -> Error {
    Error::new(ErrorCode::RouteNotFound, format!("no route with id {id}"))
}
