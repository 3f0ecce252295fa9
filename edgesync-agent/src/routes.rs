//! The route table the node serves, swapped atomically: a request holds the `Arc` of the table
//! it started with, a new table replaces the pointer in one step. Matching is
//! `edgesync_core::route_pattern`, the same code the control plane validates routes with.

use std::sync::{Arc, PoisonError, RwLock};

use edgesync_client::wire::RouteEntry;
use edgesync_core::route_pattern::{RoutePattern, RouteTable};
use uuid::Uuid;

/// What a route leads to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct RouteTarget {
    /// The route.
    pub(crate) route_id: Uuid,
    /// The function serving it.
    pub(crate) function_id: Uuid,
    /// The version the control plane planned (the node serves whatever version it runs).
    pub(crate) version: u32,
    /// The pattern, for the function's environment.
    pub(crate) display: String,
}

/// One compiled table and its revision.
#[derive(Debug)]
pub(crate) struct Routes {
    /// The revision (`None` before the first table).
    pub(crate) revision: Option<String>,
    /// The table.
    pub(crate) table: RouteTable<RouteTarget>,
    /// The routes as received.
    pub(crate) entries: Vec<RouteEntry>,
}

impl Routes {
    /// Compiles a table. All or nothing: one invalid pattern refuses the whole table.
    pub(crate) fn compile(
        revision: Option<String>,
        entries: Vec<RouteEntry>,
    ) -> Result<Self, String> {
        let mut compiled = Vec::with_capacity(entries.len());
        for e in &entries {
            let pattern = RoutePattern::parse(e.host.as_deref(), &e.path, &e.methods)
                .map_err(|err| format!("route {}: {err}", e.route_id))?;
            let target = RouteTarget {
                route_id: e.route_id,
                function_id: e.function_id,
                version: e.version,
                display: pattern.to_string(),
            };
            compiled.push((pattern, target));
        }
        Ok(Self {
            revision,
            table: RouteTable::new(compiled),
            entries,
        })
    }

    /// No routes.
    pub(crate) fn empty() -> Self {
        Self {
            revision: None,
            table: RouteTable::new(Vec::new()),
            entries: Vec::new(),
        }
    }
}

/// The current table behind a lock held only to clone or replace the pointer.
#[derive(Debug)]
pub(crate) struct RouteSwitch {
    current: RwLock<Arc<Routes>>,
}

impl Default for RouteSwitch {
    fn default() -> Self {
        Self {
            current: RwLock::new(Arc::new(Routes::empty())),
        }
    }
}

impl RouteSwitch {
    /// The table in force.
    pub(crate) fn current(&self) -> Arc<Routes> {
        self.current
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Puts a new table in force.
    pub(crate) fn swap(&self, routes: Routes) {
        *self.current.write().unwrap_or_else(PoisonError::into_inner) = Arc::new(routes);
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn entry(path: &str, methods: &[&str], host: Option<&str>) -> RouteEntry {
        RouteEntry {
            route_id: Uuid::new_v4(),
            host: host.map(str::to_owned),
            path: path.into(),
            methods: methods.iter().map(|m| (*m).to_owned()).collect(),
            function_id: Uuid::new_v4(),
            version: 1,
        }
    }

    #[test]
    fn swaps_whole_tables_and_matches_with_the_core_matcher() {
        let switch = RouteSwitch::default();
        let before = switch.current();
        assert!(before.table.lookup(None, "GET", "/hello").is_none());
        let hello = entry("/hello/:name", &["GET"], None);
        let api = entry("/...", &[], Some("api.example.com"));
        switch.swap(Routes::compile(Some("r1".into()), vec![hello.clone(), api.clone()]).unwrap());
        let now = switch.current();
        let m = now.table.lookup(Some("x"), "GET", "/hello/bob").unwrap();
        assert_eq!(m.value.function_id, hello.function_id);
        assert_eq!(m.param("name"), Some("bob"));
        assert!(now.table.lookup(Some("x"), "POST", "/hello/bob").is_none());
        let m = now
            .table
            .lookup(Some("API.example.com:8081"), "POST", "/x")
            .unwrap();
        assert_eq!(m.value.function_id, api.function_id);
        // The old snapshot is untouched.
        assert!(before.table.lookup(None, "GET", "/hello/bob").is_none());
        assert!(Routes::compile(None, vec![entry("no-slash", &[], None)]).is_err());
    }
}
