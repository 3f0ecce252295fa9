//! Uploading, reading, downloading and deleting functions and their versions.

use super::EdgeSync;
use super::ingest::{compatibility, summarize};
use crate::artifacts::{ArtifactKey, ArtifactMeta, ByteStream};
use crate::error::{Error, ErrorCode, Result};
use crate::model::*;
use crate::store::{
    Collection, ListQuery, Order, Record, RecordKey, StoreExt, UniqueIndex, Versioned, Write,
};

/// A function with all its versions, oldest first.
#[derive(Clone, Debug, PartialEq)]
pub struct FunctionDetail {
    /// The function.
    pub function: Function,
    /// Its versions.
    pub versions: Vec<FunctionVersion>,
}

/// Where to download a version's binary.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ArtifactDownload {
    /// A signed, expiring URL.
    pub url: String,
    /// When the URL stops working.
    pub expires_at: Timestamp,
    /// The binary's SHA-256 (lowercase hex).
    pub sha256: String,
    /// Its size in bytes.
    pub size: u64,
}

impl EdgeSync {
    /// Uploads a new version of the function named in `spec` (creating the function on its first
    /// upload). The binary is streamed, hashed and validated in one pass; versions are numbered
    /// 1, 2, 3 … per function with no gaps, even under concurrent uploads. The version is
    /// compared with the previous ready one and the verdict stored with it.
    pub async fn upload_function(
        &self,
        spec: FunctionSpec,
        body: ByteStream,
    ) -> Result<(Function, FunctionVersion)> {
        spec.validate()?;
        self.inner.config.quotas.check(&spec)?;
        let report = self.ingest(&spec, body, None).await?;
        let module = summarize(&report);
        let sha256 = report.sha256_hex();
        let (function, version) = self
            .add_version(&spec, |function_id, number, now, previous| {
                FunctionVersion {
                    function_id,
                    version: number,
                    spec: spec.clone(),
                    status: VersionStatus::Ready,
                    rejection: None,
                    sha256: Some(sha256.clone()),
                    size: Some(report.size),
                    module: Some(module.clone()),
                    compatibility: Some(compatibility(previous, &module, &spec.entrypoint)),
                    upload_expires_at: None,
                    created_at: now,
                }
            })
            .await?;
        tracing::info!(
            function_id = %function.id, name = %function.name,
            version = version.version, sha256 = %sha256, size = report.size,
            compatibility = version.compatibility.as_ref().map_or("", |c| c.status.as_str()),
            "function version uploaded"
        );
        Ok((function, version))
    }

    /// Adds the next version of the function named in `spec` (creating the function when the
    /// name is new) in one commit with the function's counter, numbering again when a
    /// concurrent upload took the number. `build` makes the version from the function id, its
    /// number, the time and the previous ready version (the highest-numbered one, if any).
    pub(super) async fn add_version(
        &self,
        spec: &FunctionSpec,
        build: impl Fn(FunctionId, u32, Timestamp, Option<&FunctionVersion>) -> FunctionVersion,
    ) -> Result<(Function, FunctionVersion)> {
        for _ in 0..20 {
            let now = self.now();
            let existing = self
                .inner
                .store
                .get_unique(UniqueIndex::FunctionName, &spec.name)
                .await?;
            let (function, function_write, previous) = match existing {
                Some(stored) => {
                    let Record::Function(mut f) = stored.record else {
                        return Err(Error::internal("the function-name index points elsewhere"));
                    };
                    let previous = self.previous_ready(f.id, f.latest_version + 1).await?;
                    f.latest_version += 1;
                    f.updated_at = now;
                    let w = Write::update(Record::Function(f.clone()), stored.revision);
                    (f, w, previous)
                }
                None => {
                    let f = Function {
                        id: FunctionId::random(),
                        name: spec.name.clone(),
                        latest_version: 1,
                        created_at: now,
                        updated_at: now,
                        rollbacks: Vec::new(),
                    };
                    (f.clone(), Write::create(Record::Function(f)), None)
                }
            };
            let version = build(function.id, function.latest_version, now, previous.as_ref());
            match self
                .inner
                .store
                .commit(&[
                    function_write,
                    Write::create(Record::FunctionVersion(version.clone())),
                ])
                .await
            {
                Ok(_) => return Ok((function, version)),
                // Another upload of the same name won the race: number again.
                Err(e)
                    if matches!(
                        e.code(),
                        ErrorCode::RevisionConflict
                            | ErrorCode::UniqueViolation
                            | ErrorCode::AlreadyExists
                    ) =>
                {
                    tokio::task::yield_now().await;
                }
                Err(e) => return Err(e),
            }
        }
        Err(Error::new(
            ErrorCode::RevisionConflict,
            "too many concurrent uploads of this function; try again",
        ))
    }

    /// The highest-numbered ready version below `below`: point reads from the top (usually
    /// one), rather than listing every version with its module summary; a listing only past a
    /// long run of pending or rejected versions.
    pub(super) async fn previous_ready(
        &self,
        id: FunctionId,
        below: u32,
    ) -> Result<Option<FunctionVersion>> {
        const POINT_READS: u32 = 16;
        let floor = below.saturating_sub(POINT_READS).max(1);
        for number in (floor..below).rev() {
            if let Some(v) = self.inner.store.get_function_version(id, number).await?
                && v.value.status == VersionStatus::Ready
            {
                return Ok(Some(v.value));
            }
        }
        if floor == 1 {
            return Ok(None);
        }
        Ok(self
            .function_versions(id)
            .await?
            .into_iter()
            .filter(|v| v.status == VersionStatus::Ready && v.version < floor)
            .max_by_key(|v| v.version))
    }

    /// Reads a function with its versions.
    pub async fn get_function(&self, id: FunctionId) -> Result<FunctionDetail> {
        let function = self.function_record(id).await?.value;
        let versions = self.function_versions(id).await?;
        Ok(FunctionDetail { function, versions })
    }

    pub(super) async fn function_record(&self, id: FunctionId) -> Result<Versioned<Function>> {
        self.inner
            .store
            .get_function(id)
            .await?
            .ok_or_else(|| function_not_found(id))
    }

    /// A function's versions, oldest first.
    pub async fn function_versions(&self, id: FunctionId) -> Result<Vec<FunctionVersion>> {
        Ok(self
            .inner
            .store
            .list_all(Collection::FunctionVersions {
                function_id: Some(id),
            })
            .await?
            .into_iter()
            .filter_map(|s| match s.record {
                Record::FunctionVersion(v) => Some(v),
                _ => None,
            })
            .collect())
    }

    /// One version; `None` picks the latest ready one.
    pub async fn function_version(
        &self,
        id: FunctionId,
        version: Option<u32>,
    ) -> Result<FunctionVersion> {
        match version {
            Some(v) => self
                .inner
                .store
                .get_function_version(id, v)
                .await?
                .map(|v| v.value)
                .ok_or_else(|| {
                    Error::new(
                        ErrorCode::FunctionNotFound,
                        format!("function {id} has no version {v}"),
                    )
                }),
            None => {
                self.function_record(id).await?;
                self.function_versions(id)
                    .await?
                    .into_iter()
                    .rev()
                    .find(|v| v.status == VersionStatus::Ready)
                    .ok_or_else(|| {
                        Error::new(
                            ErrorCode::FunctionNotFound,
                            format!("function {id} has no ready version"),
                        )
                    })
            }
        }
    }

    /// Lists functions a page at a time (in id order). Returns the page and the cursor for the
    /// next one.
    pub async fn list_functions(
        &self,
        after: Option<FunctionId>,
        limit: usize,
    ) -> Result<(Vec<Function>, Option<FunctionId>)> {
        let page = self
            .inner
            .store
            .list(&ListQuery {
                collection: Collection::Functions,
                after: after.map(|id| RecordKey::Function { id }),
                limit,
                order: Order::Ascending,
            })
            .await?;
        let items: Vec<Function> = page
            .items
            .into_iter()
            .filter_map(|s| match s.record {
                Record::Function(f) => Some(f),
                _ => None,
            })
            .collect();
        let next = page.next.and_then(|k| match k {
            RecordKey::Function { id } => Some(id),
            _ => None,
        });
        Ok((items, next))
    }

    /// Deletes a function and every version. Fails with `function_in_use` while a live
    /// deployment runs any of its versions. The binaries are removed by garbage collection once
    /// nothing references them.
    pub async fn delete_function(&self, id: FunctionId) -> Result<()> {
        let function = self.function_record(id).await?;
        self.ensure_unused(id, None).await?;
        let mut writes = vec![Write::Delete {
            key: RecordKey::Function { id },
            expect: crate::store::Expect::Revision(function.revision),
        }];
        for v in self.function_versions(id).await? {
            writes.push(Write::delete(RecordKey::FunctionVersion {
                function_id: id,
                version: v.version,
            }));
        }
        self.inner.store.commit(&writes).await?;
        tracing::info!(function_id = %id, name = %function.value.name, "function deleted");
        Ok(())
    }

    /// Deletes one version (its number is never reused).
    pub async fn delete_function_version(&self, id: FunctionId, version: u32) -> Result<()> {
        self.function_version(id, Some(version)).await?;
        self.ensure_unused(id, Some(version)).await?;
        self.inner
            .store
            .commit(&[Write::delete(RecordKey::FunctionVersion {
                function_id: id,
                version,
            })])
            .await?;
        tracing::info!(function_id = %id, version, "function version deleted");
        Ok(())
    }

    async fn ensure_unused(&self, id: FunctionId, version: Option<u32>) -> Result<()> {
        let users: Vec<Deployment> = self
            .inner
            .store
            .list_all(Collection::Deployments)
            .await?
            .into_iter()
            .filter_map(|s| match s.record {
                Record::Deployment(d) => Some(d),
                _ => None,
            })
            .filter(|d| {
                d.is_live() && d.function_id == id && version.is_none_or(|v| v == d.version)
            })
            .collect();
        if version.is_none()
            && let Some(r) = self
                .inner
                .catalog
                .routes()
                .iter()
                .find(|r| r.function_id == id)
        {
            return Err(Error::new(
                ErrorCode::FunctionInUse,
                format!(
                    "route {} ({}) points at this function; delete or change the route first",
                    r.id, r.path
                ),
            ));
        }
        if let Some(d) = users.first() {
            return Err(Error::new(
                ErrorCode::FunctionInUse,
                format!(
                    "deployment {} (live) runs version {} of this function; delete the deployment first",
                    d.id, d.version
                ),
            ));
        }
        Ok(())
    }

    /// A signed, expiring download URL for a version (`None`: the latest ready one).
    pub async fn download_function(
        &self,
        id: FunctionId,
        version: Option<u32>,
    ) -> Result<ArtifactDownload> {
        let v = self.function_version(id, version).await?;
        let (Some(sha256), Some(size), VersionStatus::Ready) = (v.sha256.clone(), v.size, v.status)
        else {
            return Err(Error::new(
                ErrorCode::FunctionNotFound,
                format!("version {} of function {id} has no binary", v.version),
            ));
        };
        let key = ArtifactKey::for_sha256_hex(&sha256)?;
        let (url, expires_at) = self.artifact_url(&key).await?;
        Ok(ArtifactDownload {
            url,
            expires_at,
            sha256,
            size,
        })
    }

    /// A signed URL for an artifact: presigned by the store when it can, else signed by the
    /// control plane and served by [`EdgeSync::open_signed_artifact`].
    pub async fn artifact_url(&self, key: &ArtifactKey) -> Result<(String, Timestamp)> {
        let ttl = self.inner.config.artifact_url_ttl;
        let expires_at = self.now().plus(ttl);
        if let Some(url) = self.inner.artifacts.presigned_url(key, ttl).await? {
            return Ok((url, expires_at));
        }
        let query = self.inner.url_signer.sign(key.as_str(), expires_at);
        let base = self.inner.config.artifact_url_base.trim_end_matches('/');
        Ok((format!("{base}/{}?{query}", key.sha256_hex()), expires_at))
    }

    /// Opens an artifact for a server-signed URL after checking its signature and expiry.
    pub async fn open_signed_artifact(
        &self,
        sha256_hex: &str,
        expires: i64,
        signature: &str,
    ) -> Result<(ArtifactMeta, ByteStream)> {
        let key = ArtifactKey::for_sha256_hex(sha256_hex).map_err(|_| {
            Error::new(
                ErrorCode::InvalidSignature,
                "the signed URL names no artifact",
            )
        })?;
        self.inner
            .url_signer
            .verify(key.as_str(), expires, signature, self.now())?;
        let meta = self.inner.artifacts.head(&key).await?.ok_or_else(|| {
            Error::new(ErrorCode::ArtifactNotFound, "the artifact no longer exists")
        })?;
        let stream = self.inner.artifacts.get(&key).await?;
        Ok((meta, stream))
    }
}

pub(super) fn function_not_found(id: FunctionId) -> Error {
    Error::new(
        ErrorCode::FunctionNotFound,
        format!("no function with id {id}"),
    )
}
