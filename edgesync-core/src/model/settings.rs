//! Cluster-wide settings kept in the store, shared by every server replica.

use serde::{Deserialize, Serialize};

/// Secrets the servers share: signing keys for node tokens and artifact URLs.
///
/// Generated once, on first start, with 256 bits of entropy each.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServerSecrets {
    /// HMAC key for node JWTs (base64).
    pub jwt_key: String,
    /// HMAC key for signed artifact URLs (base64).
    pub url_key: String,
}

impl std::fmt::Debug for ServerSecrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerSecrets").finish_non_exhaustive()
    }
}

/// A named setting.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "name", content = "value", rename_all = "snake_case")]
pub enum Setting {
    /// The shared signing keys.
    ServerSecrets(ServerSecrets),
    /// Claimed once, by the server that created the first admin key.
    Bootstrap(Bootstrap),
    /// Rewritten with every control-plane change (nodes, deployments, routes, migrations, keys,
    /// commands): its store revision tells other replicas to reload their caches.
    ClusterEpoch(ClusterEpoch),
    /// Who runs the cluster-wide background jobs, until when.
    JobLease(JobLease),
}

/// The last control-plane change.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClusterEpoch {
    /// The replica that made it.
    pub by: String,
    /// When.
    pub at: super::Timestamp,
}

/// The lease on cluster-wide background jobs (offline detection, expiry, garbage collection,
/// retention, rollout progression): one replica at a time runs them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobLease {
    /// The holding replica.
    pub holder: String,
    /// The lease lapses at this instant unless renewed.
    pub expires_at: super::Timestamp,
}

/// Records that the first admin key exists, so that replicas starting together create one.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Bootstrap {
    /// The key that was created.
    pub admin_key_id: super::ApiKeyId,
    /// When.
    pub at: super::Timestamp,
}

impl Setting {
    /// The setting's name (its key in the store).
    pub fn name(&self) -> &'static str {
        match self {
            Setting::ServerSecrets(_) => "server_secrets",
            Setting::Bootstrap(_) => "bootstrap",
            Setting::ClusterEpoch(_) => "cluster_epoch",
            Setting::JobLease(_) => "job_lease",
        }
    }
}
