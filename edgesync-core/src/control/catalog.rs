//! The in-memory copy of what targeting depends on: deployments, routes, migrations and the
//! function versions live deployments use. Loaded once, kept current by the mutations this
//! process makes; every change rebuilds the immutable [`Catalog`] that target computation reads.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, PoisonError, RwLock};

use crate::desired::Catalog;
use crate::error::Result;
use crate::model::*;
use crate::store::{Collection, Record, Store, StoreExt};

#[derive(Debug, Default)]
struct Raw {
    deployments: HashMap<DeploymentId, Deployment>,
    routes: HashMap<RouteId, Route>,
    migrations: BTreeMap<u64, SchemaMigration>,
    /// Versions referenced by deployments, with their function's name.
    versions: HashMap<(FunctionId, u32), (String, FunctionVersion)>,
}

/// Deployments, routes, migrations and versions in memory.
#[derive(Debug, Default)]
pub(super) struct CatalogState {
    raw: RwLock<Raw>,
    built: RwLock<Arc<Catalog>>,
    migrations: RwLock<Arc<Vec<SchemaMigration>>>,
}

impl CatalogState {
    pub(super) async fn load(store: &dyn Store) -> Result<Self> {
        let mut raw = Raw::default();
        for s in store.list_all(Collection::Deployments).await? {
            if let Record::Deployment(d) = s.record {
                raw.deployments.insert(d.id, d);
            }
        }
        for s in store.list_all(Collection::Routes).await? {
            if let Record::Route(r) = s.record {
                raw.routes.insert(r.id, r);
            }
        }
        for s in store.list_all(Collection::Migrations).await? {
            if let Record::Migration(m) = s.record {
                raw.migrations.insert(m.version, m);
            }
        }
        let mut names: HashMap<FunctionId, String> = HashMap::new();
        for d in raw.deployments.values() {
            if raw.versions.contains_key(&(d.function_id, d.version)) {
                continue;
            }
            let name = match names.get(&d.function_id) {
                Some(n) => n.clone(),
                None => match store.get_function(d.function_id).await? {
                    Some(f) => {
                        names.insert(d.function_id, f.value.name.clone());
                        f.value.name
                    }
                    None => continue,
                },
            };
            if let Some(v) = store.get_function_version(d.function_id, d.version).await? {
                raw.versions
                    .insert((d.function_id, d.version), (name, v.value));
            }
        }
        let state = Self {
            raw: RwLock::new(raw),
            ..Self::default()
        };
        state.rebuild();
        Ok(state)
    }

    /// Replaces everything with a fresh load (another replica changed the catalog).
    pub(super) fn replace_with(&self, fresh: CatalogState) {
        let raw = fresh
            .raw
            .into_inner()
            .unwrap_or_else(PoisonError::into_inner);
        *self.raw.write().unwrap_or_else(PoisonError::into_inner) = raw;
        self.rebuild();
    }

    fn rebuild(&self) {
        let raw = self.raw.read().unwrap_or_else(PoisonError::into_inner);
        let catalog = Catalog::new(
            raw.deployments.values().cloned(),
            raw.versions.values().cloned(),
            raw.routes.values().cloned().collect(),
            raw.migrations.keys().next_back().copied().unwrap_or(0),
        );
        let migrations: Vec<SchemaMigration> = raw.migrations.values().cloned().collect();
        drop(raw);
        *self.built.write().unwrap_or_else(PoisonError::into_inner) = Arc::new(catalog);
        *self
            .migrations
            .write()
            .unwrap_or_else(PoisonError::into_inner) = Arc::new(migrations);
    }

    fn mutate(&self, f: impl FnOnce(&mut Raw)) {
        f(&mut self.raw.write().unwrap_or_else(PoisonError::into_inner));
        self.rebuild();
    }

    /// The catalog as it would be with one more deployment (for admission checks).
    pub(super) fn catalog_with(
        &self,
        d: Deployment,
        version: (String, FunctionVersion),
    ) -> Catalog {
        let raw = self.raw.read().unwrap_or_else(PoisonError::into_inner);
        let mut versions: Vec<(String, FunctionVersion)> = raw.versions.values().cloned().collect();
        versions.push(version);
        Catalog::new(
            raw.deployments.values().cloned().chain(std::iter::once(d)),
            versions,
            raw.routes.values().cloned().collect(),
            raw.migrations.keys().next_back().copied().unwrap_or(0),
        )
    }

    /// The current catalog.
    pub(super) fn catalog(&self) -> Arc<Catalog> {
        self.built
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Every migration, ascending.
    pub(super) fn migrations(&self) -> Arc<Vec<SchemaMigration>> {
        self.migrations
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    pub(super) fn put_deployment(&self, d: Deployment, version: Option<(String, FunctionVersion)>) {
        self.mutate(|raw| {
            if let Some((name, v)) = version {
                raw.versions.insert((v.function_id, v.version), (name, v));
            }
            raw.deployments.insert(d.id, d);
        });
    }

    pub(super) fn deployment(&self, id: DeploymentId) -> Option<Deployment> {
        self.raw
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .deployments
            .get(&id)
            .cloned()
    }

    /// Every deployment's id and status, without copying their rollouts (which list every node
    /// they target).
    pub(super) fn deployment_statuses(&self) -> Vec<(DeploymentId, DeploymentStatus)> {
        self.raw
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .deployments
            .values()
            .map(|d| (d.id, d.status))
            .collect()
    }

    pub(super) fn deployments(&self) -> Vec<Deployment> {
        self.raw
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .deployments
            .values()
            .cloned()
            .collect()
    }

    pub(super) fn put_route(&self, r: Route) {
        self.mutate(|raw| {
            raw.routes.insert(r.id, r);
        });
    }

    pub(super) fn remove_route(&self, id: RouteId) {
        self.mutate(|raw| {
            raw.routes.remove(&id);
        });
    }

    pub(super) fn route(&self, id: RouteId) -> Option<Route> {
        self.raw
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .routes
            .get(&id)
            .cloned()
    }

    pub(super) fn routes(&self) -> Vec<Route> {
        let mut routes: Vec<Route> = self
            .raw
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .routes
            .values()
            .cloned()
            .collect();
        routes.sort_by(|a, b| a.created_at.cmp(&b.created_at).then(a.id.cmp(&b.id)));
        routes
    }

    pub(super) fn put_migration(&self, m: SchemaMigration) {
        self.mutate(|raw| {
            raw.migrations.insert(m.version, m);
        });
    }

    pub(super) fn migration(&self, version: u64) -> Option<SchemaMigration> {
        self.raw
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .migrations
            .get(&version)
            .cloned()
    }
}
