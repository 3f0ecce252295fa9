//! Opening an S3 bucket from an [`S3Config`].

use std::sync::Arc;

use edgesync_core::{Error, Result};
use object_store::ObjectStore;
use object_store::aws::{AmazonS3Builder, AmazonS3ConfigKey};
use object_store::prefix::PrefixStore;
use object_store::signer::Signer;

use crate::config::S3Config;

/// The region when neither the URL nor the environment names one.
const DEFAULT_REGION: &str = "us-east-1";

/// An opened bucket: the store, and the same store as a URL signer.
pub(crate) struct S3Store {
    pub(crate) store: Arc<dyn ObjectStore>,
    pub(crate) signer: Arc<dyn Signer>,
}

/// Builds the client. Settings from the config win over the `AWS_*` environment, which supplies
/// whatever the config leaves out (credentials above all). No request is made.
pub(crate) fn open(config: &S3Config) -> Result<S3Store> {
    let mut builder = AmazonS3Builder::from_env()
        .with_bucket_name(&config.bucket)
        // Path-style requests (`endpoint/bucket/key`): what S3-compatible servers expect.
        .with_virtual_hosted_style_request(false);
    if let Some(endpoint) = &config.endpoint {
        builder = builder
            .with_endpoint(endpoint)
            // `AWS_ENDPOINT_URL_S3` would otherwise take precedence over the URL's endpoint.
            .with_config(AmazonS3ConfigKey::S3Endpoint, endpoint)
            .with_allow_http(config.allows_http());
    }
    match &config.region {
        Some(region) => builder = builder.with_region(region),
        None if builder
            .get_config_value(&AmazonS3ConfigKey::Region)
            .is_none() =>
        {
            builder = builder.with_region(DEFAULT_REGION);
        }
        None => {}
    }
    if let Some(key_id) = &config.access_key_id {
        builder = builder.with_access_key_id(key_id);
    }
    if let Some(secret) = &config.secret_access_key {
        builder = builder.with_secret_access_key(secret);
    }
    let s3 = builder.build().map_err(|e| {
        Error::invalid(format!(
            "the s3:// artifact store cannot be configured: {e}"
        ))
    })?;

    Ok(match &config.prefix {
        Some(prefix) => {
            let prefixed = Arc::new(PrefixStore::new(s3, prefix.as_str()));
            S3Store {
                store: prefixed.clone(),
                signer: prefixed,
            }
        }
        None => {
            let s3 = Arc::new(s3);
            S3Store {
                store: s3.clone(),
                signer: s3,
            }
        }
    })
}
