//! Two-step registration: metadata first (the version is numbered at once and waits in
//! `pending_upload`), then the binary through a signed, expiring upload URL that streams it
//! through the same ingest as the one-step upload.
//!
//! Outcomes of the upload:
//! * valid bytes (and the declared SHA-256, when one was sent) → `ready`, with the digest, the
//!   module summary and the compatibility verdict;
//! * bytes that fail validation, exceed the size limit or do not match the declared SHA-256 →
//!   `rejected` with the reason; the version is single-use, the client registers again;
//! * an interrupted body or an unavailable store → still `pending_upload`: the same URL may be
//!   used again until it expires;
//! * a second upload to a version that is no longer pending → `version_not_pending`.
//!
//! Versions still pending [`UPLOAD_EXPIRY_GRACE`] after their URL expired are turned `rejected`
//! ("upload expired") by [`EdgeSync::expire_pending_uploads`], which garbage collection runs.
//! They are kept rather than deleted so numbering stays gap-free and the history readable.

use std::time::Duration;

use super::EdgeSync;
use super::ingest::{compatibility, is_rejection, parse_declared_sha256, summarize};
use crate::artifacts::ByteStream;
use crate::error::{Error, ErrorCode, Result};
use crate::model::*;
use crate::store::{Collection, Record, StoreExt, Versioned, Write};

/// How long after its URL expired a pending version is still left alone, so an upload that
/// started just in time can finish.
pub const UPLOAD_EXPIRY_GRACE: Duration = Duration::from_secs(300);

/// A registered version waiting for its binary.
#[derive(Clone, Debug, PartialEq)]
pub struct PendingUpload {
    /// The function (created by the registration when the name was new).
    pub function: Function,
    /// The version, in `pending_upload`.
    pub version: FunctionVersion,
    /// Where to `PUT` the binary: a signed URL, valid until `expires_at`.
    pub upload_url: String,
    /// When the URL stops working.
    pub expires_at: Timestamp,
    /// Largest binary the upload accepts, in bytes.
    pub max_size_bytes: u64,
}

/// The parts of a signed upload URL, as the server received them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UploadTarget {
    /// The function in the path.
    pub function_id: FunctionId,
    /// The version in the path.
    pub version: u32,
    /// The `expires` query parameter (Unix seconds).
    pub expires: i64,
    /// The `signature` query parameter.
    pub signature: String,
}

/// What a signed upload URL authorizes: one version of one function.
fn upload_path(function_id: FunctionId, version: u32) -> String {
    format!("uploads/{function_id}/{version}")
}

impl EdgeSync {
    /// Registers the next version of the function named in `spec` without its binary: the
    /// metadata is validated and checked against the quotas, the version is numbered now (1, 2,
    /// 3 … gap-free, like uploads) and waits in `pending_upload` for the binary at the returned
    /// signed URL.
    pub async fn register_function(&self, spec: FunctionSpec) -> Result<PendingUpload> {
        spec.validate()?;
        self.inner.config.quotas.check(&spec)?;
        let expires_at = self.now().plus(self.inner.config.upload_url_ttl);
        let (function, version) = self
            .add_version(&spec, |function_id, number, now, _| FunctionVersion {
                function_id,
                version: number,
                spec: spec.clone(),
                status: VersionStatus::PendingUpload,
                rejection: None,
                sha256: None,
                size: None,
                module: None,
                compatibility: None,
                upload_expires_at: Some(expires_at),
                created_at: now,
            })
            .await?;
        let query = self
            .inner
            .url_signer
            .sign(&upload_path(function.id, version.version), expires_at);
        let base = self.inner.config.upload_url_base.trim_end_matches('/');
        let upload_url = format!("{base}/{}/{}?{query}", function.id, version.version);
        tracing::info!(
            function_id = %function.id, name = %function.name, version = version.version,
            expires_at = %expires_at, "function version registered; waiting for its binary"
        );
        Ok(PendingUpload {
            function,
            version,
            upload_url,
            expires_at,
            max_size_bytes: self.inner.config.max_module_bytes,
        })
    }

    /// Receives the binary of a registered version through its signed URL: checks the signature
    /// (403 `invalid_signature` when tampered with or expired), streams `body` through the
    /// ingest (size limit, SHA-256, validation, staged store) and turns the version `ready`, or
    /// `rejected` with the reason when the bytes fail (see the module docs for every outcome).
    pub async fn complete_upload(
        &self,
        target: UploadTarget,
        declared_sha256: Option<&str>,
        body: ByteStream,
    ) -> Result<(Function, FunctionVersion)> {
        let UploadTarget {
            function_id,
            version: number,
            expires,
            signature,
        } = target;
        self.inner.url_signer.verify(
            &upload_path(function_id, number),
            expires,
            &signature,
            self.now(),
        )?;
        let declared = declared_sha256.map(parse_declared_sha256).transpose()?;
        let pending = self.pending_version(function_id, number).await?;
        let spec = pending.value.spec.clone();
        let report = match self.ingest(&spec, body, declared.as_deref()).await {
            Ok(report) => report,
            Err(e) if is_rejection(e.code()) => {
                self.reject_upload(pending, e.message()).await?;
                return Err(Error::new(
                    e.code(),
                    format!(
                        "{}; version {number} is now rejected (register again to upload another binary)",
                        e.message()
                    ),
                ));
            }
            Err(e) => return Err(e),
        };
        let module = summarize(&report);
        let mut current = pending;
        for _ in 0..5 {
            let previous = self.previous_ready(function_id, number).await?;
            let mut v = current.value.clone();
            v.status = VersionStatus::Ready;
            v.sha256 = Some(report.sha256_hex());
            v.size = Some(report.size);
            v.compatibility = Some(compatibility(
                previous.as_ref(),
                &module,
                &v.spec.entrypoint,
            ));
            v.module = Some(module.clone());
            v.upload_expires_at = None;
            match self
                .inner
                .store
                .commit(&[Write::update(
                    Record::FunctionVersion(v.clone()),
                    current.revision,
                )])
                .await
            {
                Ok(_) => {
                    let function = self.function_record(function_id).await?.value;
                    tracing::info!(
                        function_id = %function_id, name = %function.name, version = number,
                        sha256 = %report.sha256_hex(), size = report.size,
                        compatibility = v.compatibility.as_ref().map_or("", |c| c.status.as_str()),
                        "function version uploaded through its signed URL"
                    );
                    return Ok((function, v));
                }
                // Another upload to the same URL finished first, or expiry ran: read again.
                Err(e) if e.code() == ErrorCode::RevisionConflict => {
                    current = self.pending_version(function_id, number).await?;
                }
                Err(e) => return Err(e),
            }
        }
        Err(Error::new(
            ErrorCode::RevisionConflict,
            "the version kept changing during the upload; try again",
        ))
    }

    /// The version, if it still waits for its binary.
    async fn pending_version(
        &self,
        function_id: FunctionId,
        number: u32,
    ) -> Result<Versioned<FunctionVersion>> {
        let stored = self
            .inner
            .store
            .get_function_version(function_id, number)
            .await?
            .ok_or_else(|| {
                Error::new(
                    ErrorCode::FunctionNotFound,
                    format!("function {function_id} has no version {number}"),
                )
            })?;
        let v = &stored.value;
        let why = match v.status {
            VersionStatus::PendingUpload => return Ok(stored),
            VersionStatus::Ready => "already has its binary".to_owned(),
            VersionStatus::Rejected => format!(
                "was rejected ({})",
                v.rejection.as_deref().unwrap_or("no reason recorded")
            ),
        };
        Err(Error::new(
            ErrorCode::VersionNotPending,
            format!("version {number} of function {function_id} {why}; register a new version"),
        ))
    }

    /// Turns a pending version `rejected`. A concurrent change (another upload finished, expiry)
    /// wins: the version is left as it became.
    async fn reject_upload(&self, pending: Versioned<FunctionVersion>, reason: &str) -> Result<()> {
        let mut v = pending.value;
        v.status = VersionStatus::Rejected;
        v.rejection = Some(reason.to_owned());
        v.upload_expires_at = None;
        match self
            .inner
            .store
            .commit(&[Write::update(
                Record::FunctionVersion(v.clone()),
                pending.revision,
            )])
            .await
        {
            Ok(_) => {
                tracing::info!(
                    function_id = %v.function_id, version = v.version, reason,
                    "uploaded binary rejected"
                );
                Ok(())
            }
            Err(e) if e.code() == ErrorCode::RevisionConflict => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Turns `rejected` ("upload expired") every version still pending
    /// [`UPLOAD_EXPIRY_GRACE`] after its upload URL expired. Returns how many. Garbage
    /// collection runs it; tests call it after moving the clock.
    pub async fn expire_pending_uploads(&self) -> Result<usize> {
        let now = self.now();
        let mut expired = 0;
        for stored in self
            .inner
            .store
            .list_all(Collection::FunctionVersions { function_id: None })
            .await?
        {
            let Record::FunctionVersion(v) = stored.record else {
                continue;
            };
            let Some(expires_at) = v.upload_expires_at else {
                continue;
            };
            if v.status != VersionStatus::PendingUpload
                || now < expires_at.plus(UPLOAD_EXPIRY_GRACE)
            {
                continue;
            }
            let mut rejected = v;
            rejected.status = VersionStatus::Rejected;
            rejected.rejection = Some("upload expired".into());
            rejected.upload_expires_at = None;
            match self
                .inner
                .store
                .commit(&[Write::update(
                    Record::FunctionVersion(rejected.clone()),
                    stored.revision,
                )])
                .await
            {
                Ok(_) => {
                    tracing::info!(
                        function_id = %rejected.function_id, version = rejected.version,
                        "pending upload expired"
                    );
                    expired += 1;
                }
                // The upload finished meanwhile.
                Err(e) if e.code() == ErrorCode::RevisionConflict => {}
                Err(e) => return Err(e),
            }
        }
        Ok(expired)
    }
}
