//! A minimal in-memory [`ArtifactStore`] for core's tests and embedders' tests (the production
//! backends live in `backends/object-store`, which core cannot depend on).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::artifacts::{ArtifactKey, ArtifactMeta, ArtifactStore, ArtifactUpload, ByteStream};
use crate::error::{Error, ErrorCode, Result};
use crate::model::Timestamp;
use async_trait::async_trait;
use bytes::Bytes;
use futures::StreamExt;

/// Artifacts in a map; uploads are buffered (fine for tests).
#[derive(Debug, Default, Clone)]
pub struct MemArtifacts {
    objects: Arc<Mutex<BTreeMap<ArtifactKey, Bytes>>>,
}

struct Upload {
    buf: Vec<u8>,
    objects: Arc<Mutex<BTreeMap<ArtifactKey, Bytes>>>,
}

#[async_trait]
impl ArtifactUpload for Upload {
    async fn write(&mut self, chunk: Bytes) -> Result<()> {
        self.buf.extend_from_slice(&chunk);
        Ok(())
    }
    async fn finish(self: Box<Self>, key: &ArtifactKey) -> Result<()> {
        self.objects
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(key.clone(), Bytes::from(self.buf));
        Ok(())
    }
    async fn abort(self: Box<Self>) -> Result<()> {
        Ok(())
    }
}

#[async_trait]
impl ArtifactStore for MemArtifacts {
    async fn start_upload(&self) -> Result<Box<dyn ArtifactUpload>> {
        Ok(Box::new(Upload {
            buf: Vec::new(),
            objects: self.objects.clone(),
        }))
    }
    async fn get(&self, key: &ArtifactKey) -> Result<ByteStream> {
        let bytes = self
            .objects
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(key)
            .cloned();
        match bytes {
            Some(b) => Ok(futures::stream::iter([Ok(b)]).boxed()),
            None => Err(Error::new(ErrorCode::ArtifactNotFound, "missing")),
        }
    }
    async fn head(&self, key: &ArtifactKey) -> Result<Option<ArtifactMeta>> {
        Ok(self
            .objects
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(key)
            .map(|b| ArtifactMeta {
                key: key.clone(),
                size: b.len() as u64,
                last_modified: Timestamp::now_utc(),
            }))
    }
    async fn delete(&self, key: &ArtifactKey) -> Result<()> {
        self.objects
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .remove(key);
        Ok(())
    }
    async fn list(&self) -> Result<Vec<ArtifactMeta>> {
        Ok(self
            .objects
            .lock()
            .unwrap()
            .iter()
            .map(|(k, b)| ArtifactMeta {
                key: k.clone(),
                size: b.len() as u64,
                last_modified: Timestamp::now_utc(),
            })
            .collect())
    }
    async fn remove_stale_uploads(&self, _older_than: Timestamp) -> Result<usize> {
        Ok(0)
    }
    async fn presigned_url(
        &self,
        _key: &ArtifactKey,
        _expires_in: Duration,
    ) -> Result<Option<String>> {
        Ok(None)
    }
    async fn check(&self) -> Result<()> {
        Ok(())
    }
}
