//! Who is calling: operators with API keys, nodes with their tokens.

use std::collections::HashMap;
use std::sync::{PoisonError, RwLock};

use super::EdgeSync;
use crate::auth::api_keys::{GeneratedSecret, generate_api_key, looks_like_api_key};
use crate::auth::secrets::{constant_time_eq, sha256_hex};
use crate::error::{Error, ErrorCode, Result};
use crate::model::{ApiKey, ApiKeyId, Bootstrap, NodeId, NodeLifecycle, Scope, Setting, Timestamp};
use crate::store::{Collection, Record, Store, StoreExt, Write};

/// An authenticated caller.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Principal {
    /// An operator holding an API key.
    Operator {
        /// The key's id (safe to log).
        key_id: ApiKeyId,
    },
    /// A node holding its token.
    Node {
        /// The node.
        node_id: NodeId,
    },
}

/// What an endpoint demands of its caller.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RequiredAccess {
    /// An API key granting this scope.
    Scope(Scope),
    /// The token of this very node.
    Node(NodeId),
}

/// Active API keys by the SHA-256 of their secret.
#[derive(Debug, Default)]
pub(super) struct KeyCache {
    by_hash: RwLock<HashMap<String, ApiKey>>,
    /// Keys used since the last flush, with when.
    used: RwLock<HashMap<ApiKeyId, Timestamp>>,
}

impl KeyCache {
    pub(super) async fn load(store: &dyn Store) -> Result<Self> {
        let mut by_hash = HashMap::new();
        for s in store.list_all(Collection::ApiKeys).await? {
            if let Record::ApiKey(k) = s.record {
                by_hash.insert(k.secret_sha256.clone(), k);
            }
        }
        Ok(Self {
            by_hash: RwLock::new(by_hash),
            used: RwLock::default(),
        })
    }

    pub(super) fn insert(&self, key: ApiKey) {
        self.by_hash
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(key.secret_sha256.clone(), key);
    }

    fn find(&self, secret: &str) -> Option<ApiKey> {
        let hash = sha256_hex(secret);
        let keys = self.by_hash.read().unwrap_or_else(PoisonError::into_inner);
        keys.get(&hash)
            .filter(|k| constant_time_eq(k.secret_sha256.as_bytes(), hash.as_bytes()))
            .cloned()
    }

    fn mark_used(&self, id: ApiKeyId, now: Timestamp) {
        self.used
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(id, now);
    }

    pub(super) fn take_used(&self) -> HashMap<ApiKeyId, Timestamp> {
        std::mem::take(&mut *self.used.write().unwrap_or_else(PoisonError::into_inner))
    }
}

fn unauthenticated(why: &str) -> Error {
    Error::new(ErrorCode::InvalidCredentials, why.to_owned())
}

impl EdgeSync {
    /// Checks a bearer credential against what an endpoint requires.
    ///
    /// Fails with `invalid_credentials` (401) for unknown, malformed, expired or revoked
    /// credentials, and with `forbidden` (403) for valid credentials of the wrong kind, scope or
    /// node.
    pub fn authenticate(&self, credential: &str, required: RequiredAccess) -> Result<Principal> {
        match required {
            RequiredAccess::Scope(scope) => {
                if !looks_like_api_key(credential) {
                    return Err(
                        if self.inner.tokens.verify(credential, self.now()).is_ok() {
                            Error::new(
                                ErrorCode::Forbidden,
                                "node tokens cannot call operator endpoints",
                            )
                        } else {
                            unauthenticated("the API key is malformed or unknown")
                        },
                    );
                }
                let key = self
                    .inner
                    .keys
                    .find(credential)
                    .ok_or_else(|| unauthenticated("the API key is unknown"))?;
                let now = self.now();
                if !key.is_active(now) {
                    return Err(unauthenticated("the API key is expired or revoked"));
                }
                if !key.allows(scope) {
                    return Err(Error::new(
                        ErrorCode::Forbidden,
                        format!("this API key lacks the {:?} scope", scope.as_str()),
                    ));
                }
                self.inner.keys.mark_used(key.id, now);
                Ok(Principal::Operator { key_id: key.id })
            }
            RequiredAccess::Node(node_id) => {
                if looks_like_api_key(credential) {
                    return Err(Error::new(
                        ErrorCode::Forbidden,
                        "node endpoints need the node's token, not an API key",
                    ));
                }
                let (token_node, generation) = self.inner.tokens.verify(credential, self.now())?;
                let entry = self
                    .inner
                    .fleet
                    .get(token_node)
                    .ok_or_else(|| unauthenticated("the node token names an unknown node"))?;
                let node = &entry.node.value;
                if node.credential_generation != generation
                    || node.lifecycle == NodeLifecycle::Decommissioned
                {
                    return Err(unauthenticated("the node token was revoked"));
                }
                if token_node != node_id {
                    return Err(Error::new(
                        ErrorCode::Forbidden,
                        "a node may only act for itself",
                    ));
                }
                Ok(Principal::Node { node_id })
            }
        }
    }

    /// On an empty store, creates the first admin key and returns its secret (shown once). Returns
    /// `None` when a key was bootstrapped before (by this or another replica).
    pub async fn bootstrap_admin_key(&self) -> Result<Option<GeneratedSecret>> {
        let store = &self.inner.store;
        if !store.list_all(Collection::ApiKeys).await?.is_empty() {
            return Ok(None);
        }
        let generated = generate_api_key()?;
        let now = self.now();
        let key = ApiKey {
            id: ApiKeyId::random(),
            name: "bootstrap-admin".into(),
            scopes: vec![Scope::Admin],
            secret_sha256: generated.sha256.clone(),
            secret_prefix: generated.display_prefix.clone(),
            created_at: now,
            expires_at: None,
            revoked_at: None,
            last_used_at: None,
        };
        let claim = Setting::Bootstrap(Bootstrap {
            admin_key_id: key.id,
            at: now,
        });
        match store
            .commit(&[
                Write::create(Record::Setting(claim)),
                Write::create(Record::ApiKey(key.clone())),
            ])
            .await
        {
            Ok(_) => {
                self.inner.keys.insert(key);
                Ok(Some(generated))
            }
            Err(e) if e.code() == ErrorCode::AlreadyExists => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Writes the last-use times of keys used since the last call (bounded lag, one write per
    /// used key, not per request).
    pub(super) async fn flush_key_usage(&self) -> Result<usize> {
        let used = self.inner.keys.take_used();
        let mut written = 0;
        for (id, at) in used {
            let Some(current) = self.inner.store.get_api_key(id).await? else {
                continue;
            };
            let mut key = current.value;
            if key.last_used_at.is_some_and(|t| t >= at) {
                continue;
            }
            key.last_used_at = Some(at);
            match self
                .inner
                .store
                .commit(&[Write::update(Record::ApiKey(key.clone()), current.revision)])
                .await
            {
                Ok(_) => {
                    self.inner.keys.insert(key);
                    written += 1;
                }
                // Someone changed the key meanwhile (revoked, rotated); the next use records it.
                Err(e) if e.code() == ErrorCode::RevisionConflict => {}
                Err(e) => return Err(e),
            }
        }
        Ok(written)
    }
}
