//! Every API key in memory, found by id and by the SHA-256 of its current (and, during a
//! rotation's grace period, previous) secret. Requests are authenticated without a store read;
//! last-use times are collected here and written behind.

use std::collections::HashMap;
use std::sync::{PoisonError, RwLock};

use crate::auth::secrets::{constant_time_eq, sha256_hex};
use crate::error::Result;
use crate::model::{ApiKey, ApiKeyId, Timestamp};
use crate::store::{Collection, Record, Store, StoreExt};

#[derive(Debug, Default)]
struct Keys {
    by_id: HashMap<ApiKeyId, ApiKey>,
    by_hash: HashMap<String, ApiKeyId>,
}

#[derive(Debug, Default)]
pub(super) struct KeyCache {
    keys: RwLock<Keys>,
    /// Keys used since the last flush, with when.
    used: RwLock<HashMap<ApiKeyId, Timestamp>>,
}

impl KeyCache {
    pub(super) async fn load(store: &dyn Store) -> Result<Self> {
        let cache = Self::default();
        for s in store.list_all(Collection::ApiKeys).await? {
            if let Record::ApiKey(k) = s.record {
                cache.insert(k);
            }
        }
        Ok(cache)
    }

    /// Replaces every key with a fresh load (another replica changed keys).
    pub(super) fn replace_with(&self, fresh: KeyCache) {
        let keys = fresh
            .keys
            .into_inner()
            .unwrap_or_else(PoisonError::into_inner);
        *self.keys.write().unwrap_or_else(PoisonError::into_inner) = keys;
    }

    /// Adds or replaces a key (after a successful commit).
    pub(super) fn insert(&self, key: ApiKey) {
        let mut keys = self.keys.write().unwrap_or_else(PoisonError::into_inner);
        keys.by_hash.retain(|_, id| *id != key.id);
        keys.by_hash.insert(key.secret_sha256.clone(), key.id);
        if let Some(prev) = &key.previous_secret_sha256 {
            keys.by_hash.insert(prev.clone(), key.id);
        }
        keys.by_id.insert(key.id, key);
    }

    pub(super) fn by_id(&self, id: ApiKeyId) -> Option<ApiKey> {
        self.keys
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .by_id
            .get(&id)
            .cloned()
    }

    pub(super) fn all(&self) -> Vec<ApiKey> {
        self.keys
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .by_id
            .values()
            .cloned()
            .collect()
    }

    /// The active key whose current secret, or previous secret within its grace period, is
    /// `secret`.
    pub(super) fn find_by_secret(&self, secret: &str, now: Timestamp) -> Option<ApiKey> {
        let hash = sha256_hex(secret);
        let keys = self.keys.read().unwrap_or_else(PoisonError::into_inner);
        let key = keys.by_hash.get(&hash).and_then(|id| keys.by_id.get(id))?;
        let current = constant_time_eq(key.secret_sha256.as_bytes(), hash.as_bytes());
        let previous = key.previous_secret_valid(now)
            && key
                .previous_secret_sha256
                .as_deref()
                .is_some_and(|p| constant_time_eq(p.as_bytes(), hash.as_bytes()));
        (key.is_active(now) && (current || previous)).then(|| key.clone())
    }

    pub(super) fn mark_used(&self, id: ApiKeyId, now: Timestamp) {
        self.used
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(id, now);
    }

    pub(super) fn take_used(&self) -> HashMap<ApiKeyId, Timestamp> {
        std::mem::take(&mut *self.used.write().unwrap_or_else(PoisonError::into_inner))
    }
}
