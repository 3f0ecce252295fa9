//! The rustls client configuration for `mqtts://`.
//!
//! rumqttc's `TlsConfiguration::default()` calls `ClientConfig::builder()`, which panics when two
//! rustls crypto providers are linked and none is installed (see DEPENDENCIES.md), and panics
//! again when the system has no readable roots. This builds the configuration explicitly: the
//! process-wide default provider when one is installed, aws-lc-rs otherwise.

use std::sync::Arc;

use edgesync_core::{Error, Result};
use rumqttc::tokio_rustls::rustls::{
    self, ClientConfig, RootCertStore,
    crypto::CryptoProvider,
    pki_types::{CertificateDer, pem::PemObject},
};

/// A client configuration trusting `ca_pem` (PEM certificates), or the system's roots if `None`.
pub(crate) fn client_config(ca_pem: Option<&[u8]>) -> Result<Arc<ClientConfig>> {
    let roots = match ca_pem {
        Some(pem) => roots_from_pem(pem)?,
        None => system_roots()?,
    };
    let provider = CryptoProvider::get_default()
        .cloned()
        .unwrap_or_else(|| Arc::new(rustls::crypto::aws_lc_rs::default_provider()));
    let config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::internal("no usable TLS protocol version").with_source(e))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

fn roots_from_pem(pem: &[u8]) -> Result<RootCertStore> {
    let mut roots = RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(pem) {
        let cert =
            cert.map_err(|e| Error::invalid("the MQTT CA PEM does not parse").with_source(e))?;
        roots.add(cert).map_err(|e| {
            Error::invalid("the MQTT CA PEM holds an unusable certificate").with_source(e)
        })?;
    }
    if roots.is_empty() {
        return Err(Error::invalid("the MQTT CA PEM holds no certificate"));
    }
    Ok(roots)
}

fn system_roots() -> Result<RootCertStore> {
    let found = rustls_native_certs::load_native_certs();
    for e in &found.errors {
        tracing::warn!(error = %e, "could not load some system TLS roots");
    }
    let mut roots = RootCertStore::empty();
    let (added, ignored) = roots.add_parsable_certificates(found.certs);
    if ignored > 0 {
        tracing::debug!(added, ignored, "ignored unparsable system TLS roots");
    }
    if roots.is_empty() {
        return Err(Error::invalid(
            "no system TLS roots found for mqtts://; pass the broker's CA as ca_pem",
        ));
    }
    Ok(roots)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_pem_without_certificates() {
        assert!(client_config(Some(b"not a certificate")).is_err());
        assert!(client_config(Some(b"")).is_err());
    }
}
