//! Prometheus metrics (`GET /metrics`, text exposition format). Counters and histograms are
//! recorded as requests and store calls happen; fleet gauges (nodes by status, deployments by
//! state) are read from the control plane's memory at scrape time. Every name starts with
//! `edgesync_`.

use std::fmt::Write as _;
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use bytes::Bytes;
use edgesync_core::artifacts::{ArtifactMeta, ArtifactUpload};
use edgesync_core::model::{DeploymentStatus, NodeDeploymentState, NodeStatus, Timestamp};
use edgesync_core::store::{ListQuery, Page, RecordKey, Stored, UniqueIndex, Write};
use edgesync_core::{ArtifactKey, ArtifactStore, ByteStream, EdgeSync, Result, Store};
use futures::StreamExt;
use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

type Labels = Vec<(&'static str, String)>;

/// How a sync poll was answered (the `answer` label of `sync_plans_served`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SyncAnswer {
    /// A plan with actions.
    Plan,
    /// A plan with nothing to do.
    Empty,
    /// `304 Not Modified`: the node's revision is current.
    NotModified,
}

impl SyncAnswer {
    /// Every answer, in declaration order: `answer as usize` indexes it.
    const ALL: [SyncAnswer; 3] = [Self::Plan, Self::Empty, Self::NotModified];

    /// The label value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Plan => "plan",
            Self::Empty => "empty",
            Self::NotModified => "not_modified",
        }
    }
}

/// Every metric the server records.
pub struct Metrics {
    registry: Registry,
    http_requests: Family<Labels, Counter>,
    http_duration: Family<Labels, Histogram>,
    store_duration: Family<Labels, Histogram>,
    artifact_bytes: Family<Labels, Counter>,
    auth_failures: Family<Labels, Counter>,
    /// `sync_plans_served` by answer, looked up once: a poll answered 304 increments a counter
    /// and allocates nothing.
    sync_plans: [Counter; SyncAnswer::ALL.len()],
    sync_acks: Family<Labels, Counter>,
    rate_limited: Counter,
    /// Reads (connections open, idle) of the SQL store's pool, when there is one.
    pool_probe: std::sync::OnceLock<PoolProbe>,
}

/// Reads a connection pool's size and idle connections.
pub type PoolProbe = Box<dyn Fn() -> (u32, usize) + Send + Sync>;

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

fn latency_histogram() -> Histogram {
    // 100 µs to ~13 s.
    Histogram::new(exponential_buckets(0.0001, 2.0, 18))
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// A fresh registry.
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("edgesync");
        let http_requests = Family::<Labels, Counter>::default();
        let http_duration = Family::<Labels, Histogram>::new_with_constructor(latency_histogram);
        let store_duration = Family::<Labels, Histogram>::new_with_constructor(latency_histogram);
        let artifact_bytes = Family::<Labels, Counter>::default();
        let auth_failures = Family::<Labels, Counter>::default();
        let sync_plans = Family::<Labels, Counter>::default();
        let sync_acks = Family::<Labels, Counter>::default();
        let rate_limited = Counter::default();
        registry.register(
            "http_requests",
            "HTTP requests by operation, method and status",
            http_requests.clone(),
        );
        registry.register(
            "http_request_duration_seconds",
            "HTTP request latency by operation and method",
            http_duration.clone(),
        );
        registry.register(
            "store_operation_duration_seconds",
            "Store call latency by operation, outcome and origin (request or background)",
            store_duration.clone(),
        );
        registry.register(
            "artifact_bytes",
            "Artifact bytes written (in) and read (out)",
            artifact_bytes.clone(),
        );
        registry.register(
            "auth_failures",
            "Refused credentials by reason (error code)",
            auth_failures.clone(),
        );
        registry.register(
            "sync_plans_served",
            "Sync polls by answer: plan, empty or not_modified",
            sync_plans.clone(),
        );
        let sync_plans = SyncAnswer::ALL.map(|answer| {
            sync_plans
                .get_or_create(&vec![("answer", answer.as_str().to_owned())])
                .clone()
        });
        registry.register(
            "sync_acks",
            "Acknowledged plans by status",
            sync_acks.clone(),
        );
        registry.register(
            "rate_limited_requests",
            "Requests refused with 429",
            rate_limited.clone(),
        );
        Self {
            registry,
            http_requests,
            http_duration,
            store_duration,
            artifact_bytes,
            auth_failures,
            sync_plans,
            sync_acks,
            rate_limited,
            pool_probe: std::sync::OnceLock::new(),
        }
    }

    /// Reports the SQL pool's use on every scrape (set once, by the wiring).
    pub fn set_pool_probe(&self, probe: PoolProbe) {
        let _ = self.pool_probe.set(probe);
    }

    /// Records a finished HTTP request.
    pub fn http(&self, operation: &str, method: &str, status: u16, elapsed: Duration) {
        self.http_requests
            .get_or_create(&vec![
                ("operation", operation.to_owned()),
                ("method", method.to_owned()),
                ("status", status.to_string()),
            ])
            .inc();
        self.http_duration
            .get_or_create(&vec![
                ("operation", operation.to_owned()),
                ("method", method.to_owned()),
            ])
            .observe(elapsed.as_secs_f64());
        if status == 429 {
            self.rate_limited.inc();
        }
    }

    /// Records a refused credential.
    pub fn auth_failure(&self, code: &str) {
        self.auth_failures
            .get_or_create(&vec![("reason", code.to_owned())])
            .inc();
    }

    /// Records a sync poll's answer.
    pub fn sync_plan(&self, answer: SyncAnswer) {
        self.sync_plans[answer as usize].inc();
    }

    /// Records an ack's status.
    pub fn sync_ack(&self, status: &str) {
        self.sync_acks
            .get_or_create(&vec![("status", status.to_owned())])
            .inc();
    }

    /// Records a store call; `origin` is `request` when an HTTP request's own task made it and
    /// `background` otherwise (jobs, write-behind flushes), so a request path that should not
    /// touch the store can be seen not to.
    fn store_call(&self, op: &'static str, ok: bool, elapsed: Duration) {
        let origin = if crate::request_id::in_request() {
            "request"
        } else {
            "background"
        };
        self.store_duration
            .get_or_create(&vec![
                ("operation", op.to_owned()),
                ("outcome", if ok { "ok" } else { "error" }.to_owned()),
                ("origin", origin.to_owned()),
            ])
            .observe(elapsed.as_secs_f64());
    }

    fn bytes(&self, direction: &'static str, n: usize) {
        self.artifact_bytes
            .get_or_create(&vec![("direction", direction.to_owned())])
            .inc_by(n as u64);
    }

    /// The exposition text: recorded metrics plus fleet gauges read from `edgesync` now.
    pub fn render(&self, edgesync: &EdgeSync) -> String {
        let mut out = String::new();
        if encode(&mut out, &self.registry).is_err() {
            out.clear();
        }
        // The fleet gauges are computed, not recorded; append them before the end marker.
        if let Some(stripped) = out.strip_suffix("# EOF\n") {
            out = stripped.to_owned();
        }
        let mut by_status = std::collections::BTreeMap::new();
        for s in NodeStatus::ALL {
            by_status.insert(s.as_str(), 0u64);
        }
        for (status, n) in edgesync.node_counts_by_status() {
            by_status.insert(status.as_str(), n);
        }
        let _ = writeln!(
            out,
            "# HELP edgesync_nodes Registered nodes by status.\n# TYPE edgesync_nodes gauge"
        );
        for (s, n) in &by_status {
            let _ = writeln!(out, "edgesync_nodes{{status=\"{s}\"}} {n}");
        }
        let deployments = edgesync.deployments();
        let _ = writeln!(
            out,
            "# HELP edgesync_deployments Deployments by status.\n# TYPE edgesync_deployments gauge"
        );
        for status in [
            DeploymentStatus::InProgress,
            DeploymentStatus::Completed,
            DeploymentStatus::Aborted,
        ] {
            let n = deployments.iter().filter(|d| d.status == status).count();
            let _ = writeln!(
                out,
                "edgesync_deployments{{status=\"{}\"}} {n}",
                status.as_str()
            );
        }
        let _ = writeln!(
            out,
            "# HELP edgesync_deployment_nodes Per-node deployment states, summed over deployments.\n# TYPE edgesync_deployment_nodes gauge"
        );
        for state in [
            NodeDeploymentState::Pending,
            NodeDeploymentState::Installing,
            NodeDeploymentState::Active,
            NodeDeploymentState::Failed,
            NodeDeploymentState::Removed,
        ] {
            let n: usize = deployments.iter().map(|d| d.count(state)).sum();
            let _ = writeln!(
                out,
                "edgesync_deployment_nodes{{state=\"{}\"}} {n}",
                state.as_str()
            );
        }
        let acks: Vec<(String, u64)> = ["succeeded", "partial", "failed"]
            .iter()
            .map(|s| {
                (
                    (*s).to_owned(),
                    self.sync_acks
                        .get_or_create(&vec![("status", (*s).to_owned())])
                        .get(),
                )
            })
            .collect();
        let total: u64 = acks.iter().map(|(_, n)| n).sum();
        let ok = acks
            .iter()
            .find(|(s, _)| s == "succeeded")
            .map_or(0, |(_, n)| *n);
        let rate = if total == 0 {
            1.0
        } else {
            ok as f64 / total as f64
        };
        let _ = writeln!(
            out,
            "# HELP edgesync_sync_success_ratio Fully successful acks over all acks since start.\n# TYPE edgesync_sync_success_ratio gauge\nedgesync_sync_success_ratio {rate}"
        );
        let up = edgesync.notifier_health() == edgesync_core::notify::NotifierHealth::Ok;
        let _ = writeln!(
            out,
            "# HELP edgesync_notifier_up Whether notifications are being delivered.\n# TYPE edgesync_notifier_up gauge\nedgesync_notifier_up {}",
            u8::from(up)
        );
        if let Some(probe) = self.pool_probe.get() {
            let (size, idle) = probe();
            let _ = writeln!(
                out,
                "# HELP edgesync_db_pool_connections Database connections by state.\n# TYPE edgesync_db_pool_connections gauge"
            );
            let _ = writeln!(out, "edgesync_db_pool_connections{{state=\"open\"}} {size}");
            let _ = writeln!(out, "edgesync_db_pool_connections{{state=\"idle\"}} {idle}");
        }
        out.push_str("# EOF\n");
        out
    }
}

/// A [`Store`] that times every call.
#[derive(Debug)]
pub struct MeteredStore {
    inner: Arc<dyn Store>,
    metrics: Arc<Metrics>,
}

impl MeteredStore {
    /// Wraps a store.
    pub fn new(inner: Arc<dyn Store>, metrics: Arc<Metrics>) -> Self {
        Self { inner, metrics }
    }

    async fn timed<T>(
        &self,
        op: &'static str,
        f: impl std::future::Future<Output = Result<T>>,
    ) -> Result<T> {
        let start = Instant::now();
        let r = f.await;
        self.metrics.store_call(op, r.is_ok(), start.elapsed());
        r
    }
}

#[async_trait]
impl Store for MeteredStore {
    async fn get(&self, key: &RecordKey) -> Result<Option<Stored>> {
        self.timed("get", self.inner.get(key)).await
    }
    async fn get_unique(&self, index: UniqueIndex, value: &str) -> Result<Option<Stored>> {
        self.timed("get_unique", self.inner.get_unique(index, value))
            .await
    }
    async fn list(&self, query: &ListQuery) -> Result<Page> {
        self.timed("list", self.inner.list(query)).await
    }
    async fn commit(&self, writes: &[Write]) -> Result<Vec<u64>> {
        self.timed("commit", self.inner.commit(writes)).await
    }
    async fn commit_unsynced(&self, writes: &[Write]) -> Result<Vec<u64>> {
        self.timed("commit_unsynced", self.inner.commit_unsynced(writes))
            .await
    }
    async fn check(&self) -> Result<()> {
        self.timed("check", self.inner.check()).await
    }
}

/// An [`ArtifactStore`] that counts bytes in and out.
#[derive(Debug)]
pub struct MeteredArtifacts {
    inner: Arc<dyn ArtifactStore>,
    metrics: Arc<Metrics>,
}

impl MeteredArtifacts {
    /// Wraps an artifact store.
    pub fn new(inner: Arc<dyn ArtifactStore>, metrics: Arc<Metrics>) -> Self {
        Self { inner, metrics }
    }
}

struct MeteredUpload {
    inner: Box<dyn ArtifactUpload>,
    metrics: Arc<Metrics>,
}

#[async_trait]
impl ArtifactUpload for MeteredUpload {
    async fn write(&mut self, chunk: Bytes) -> Result<()> {
        self.metrics.bytes("in", chunk.len());
        self.inner.write(chunk).await
    }
    async fn finish(self: Box<Self>, key: &ArtifactKey) -> Result<()> {
        self.inner.finish(key).await
    }
    async fn abort(self: Box<Self>) -> Result<()> {
        self.inner.abort().await
    }
}

#[async_trait]
impl ArtifactStore for MeteredArtifacts {
    async fn start_upload(&self) -> Result<Box<dyn ArtifactUpload>> {
        Ok(Box::new(MeteredUpload {
            inner: self.inner.start_upload().await?,
            metrics: self.metrics.clone(),
        }))
    }
    async fn get(&self, key: &ArtifactKey) -> Result<ByteStream> {
        let metrics = self.metrics.clone();
        let stream = self.inner.get(key).await?;
        Ok(stream
            .inspect(move |chunk| {
                if let Ok(c) = chunk {
                    metrics.bytes("out", c.len());
                }
            })
            .boxed())
    }
    async fn head(&self, key: &ArtifactKey) -> Result<Option<ArtifactMeta>> {
        self.inner.head(key).await
    }
    async fn delete(&self, key: &ArtifactKey) -> Result<()> {
        self.inner.delete(key).await
    }
    async fn list(&self) -> Result<Vec<ArtifactMeta>> {
        self.inner.list().await
    }
    async fn remove_stale_uploads(&self, older_than: Timestamp) -> Result<usize> {
        self.inner.remove_stale_uploads(older_than).await
    }
    async fn presigned_url(
        &self,
        key: &ArtifactKey,
        expires_in: Duration,
    ) -> Result<Option<String>> {
        self.inner.presigned_url(key, expires_in).await
    }
    async fn check(&self) -> Result<()> {
        self.inner.check().await
    }
}

#[cfg(test)]
mod tests {
    use edgesync_core::model::{NodeId, NodeState};
    use edgesync_core::store::Record;
    use edgesync_core::store::memory::MemoryStore;
    use edgesync_core::testkit::counting::CountingStore;

    use super::*;

    #[tokio::test]
    async fn unsynced_commits_reach_the_store_unsynced() {
        let counting = Arc::new(CountingStore::new(Arc::new(MemoryStore::new())));
        let metered = MeteredStore::new(counting.clone(), Arc::new(Metrics::new()));
        let state = NodeState::new(NodeId::random());
        metered
            .commit_unsynced(&[Write::put(Record::NodeState(state.clone()))])
            .await
            .unwrap();
        metered
            .commit(&[Write::put(Record::NodeState(state))])
            .await
            .unwrap();
        assert_eq!((counting.commits(), counting.unsynced_commits()), (2, 1));
    }

    #[tokio::test]
    async fn each_sync_answer_counts_under_its_own_label() {
        let metrics = Metrics::new();
        metrics.sync_plan(SyncAnswer::NotModified);
        metrics.sync_plan(SyncAnswer::NotModified);
        metrics.sync_plan(SyncAnswer::Plan);
        let edgesync = crate::wiring::in_memory().await.unwrap();
        let text = metrics.render(&edgesync);
        for (answer, count) in [("not_modified", 2), ("plan", 1), ("empty", 0)] {
            let line = format!("edgesync_sync_plans_served_total{{answer=\"{answer}\"}} {count}");
            assert!(text.lines().any(|l| l == line), "no `{line}` in:\n{text}");
        }
    }

    #[tokio::test]
    async fn store_calls_count_under_the_origin_that_made_them() {
        let metrics = Arc::new(Metrics::new());
        let metered = MeteredStore::new(Arc::new(MemoryStore::new()), metrics.clone());
        let key = Record::NodeState(NodeState::new(NodeId::random())).key();
        metered.get(&key).await.unwrap();
        crate::request_id::scope("r-1".to_owned(), async {
            metered.get(&key).await.unwrap();
            metered.get(&key).await.unwrap();
        })
        .await;
        let edgesync = crate::wiring::in_memory().await.unwrap();
        let text = metrics.render(&edgesync);
        for (origin, count) in [("background", 1), ("request", 2)] {
            let line = format!(
                "edgesync_store_operation_duration_seconds_count{{operation=\"get\",outcome=\"ok\",origin=\"{origin}\"}} {count}"
            );
            assert!(text.lines().any(|l| l == line), "no `{line}` in:\n{text}");
        }
    }
}
