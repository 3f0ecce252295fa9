//! HTTPS with rustls (CP-7.2): TLS 1.3 (1.2 on request) from PEM files, reloaded when they
//! change on disk.
//!
//! poem's `RustlsConfig` always offers TLS 1.2 and 1.3, so this module has its own acceptor: a
//! fixed rustls `ServerConfig` (protocol versions, ALPN `h2`/`http/1.1`) whose certificate
//! resolver holds the current pair. A task polls the files' metadata every few seconds and swaps
//! in a new pair; a pair that does not load (unreadable, not PEM, key not matching the
//! certificate, half-written) is logged and the previous one kept. Handshakes run on their own
//! tasks with a deadline, so one slow client cannot hold up accepting the others.

use std::io;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError, RwLock, Weak};
use std::time::{Duration, SystemTime};

use poem::http::uri::Scheme;
use poem::listener::{Acceptor, TcpAcceptor};
use poem::web::{LocalAddr, RemoteAddr};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use rustls::{ServerConfig, SupportedProtocolVersion};
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio_rustls::server::TlsStream;

use crate::config::TlsMinVersion;

/// How often the certificate files are checked for changes.
pub const DEFAULT_RELOAD_INTERVAL: Duration = Duration::from_secs(5);

/// How long a client may take to complete its handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Completed handshakes waiting for the server to pick them up.
const HANDSHAKE_QUEUE: usize = 64;

/// Where the certificate comes from and what the server accepts.
#[derive(Clone, Debug)]
pub struct TlsSettings {
    /// PEM certificate chain, leaf first.
    pub cert: PathBuf,
    /// PEM private key (PKCS#8, PKCS#1 or SEC1).
    pub key: PathBuf,
    /// The oldest protocol version accepted.
    pub min_version: TlsMinVersion,
    /// How often the files are checked for changes.
    pub reload_interval: Duration,
}

/// Makes aws-lc-rs the process's rustls crypto provider. Two providers are compiled into this
/// tree, and rustls refuses to guess between them, so every binary and test that builds a
/// rustls config calls this first. Calling it again does nothing.
pub fn install_crypto_provider() {
    // Err means a provider is installed already: the first one wins.
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
}

/// The provider server configs are built with: the process default, else aws-lc-rs.
fn provider() -> Arc<CryptoProvider> {
    CryptoProvider::get_default()
        .cloned()
        .unwrap_or_else(|| Arc::new(rustls::crypto::aws_lc_rs::default_provider()))
}

/// Identifies a version of a file: when a certificate is rotated, one of these changes.
#[derive(Clone, Debug, PartialEq, Eq)]
struct FileStamp {
    modified: Option<SystemTime>,
    len: u64,
    #[cfg(unix)]
    inode: u64,
}

impl FileStamp {
    fn of(path: &Path) -> io::Result<Self> {
        let meta = std::fs::metadata(path)?;
        Ok(Self {
            modified: meta.modified().ok(),
            len: meta.len(),
            #[cfg(unix)]
            inode: std::os::unix::fs::MetadataExt::ino(&meta),
        })
    }
}

/// Reads a certificate pair and checks that the key belongs to the certificate.
fn load_pair(cert: &Path, key: &Path, provider: &CryptoProvider) -> Result<CertifiedKey, String> {
    let chain = CertificateDer::pem_file_iter(cert)
        .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
        .map_err(|e| format!("cannot read the certificate {}: {e}", cert.display()))?;
    if chain.is_empty() {
        return Err(format!("no certificate in {}", cert.display()));
    }
    let private_key = PrivateKeyDer::from_pem_file(key)
        .map_err(|e| format!("cannot read the private key {}: {e}", key.display()))?;
    CertifiedKey::from_der(chain, private_key, provider).map_err(|e| {
        format!(
            "the key {} does not fit the certificate {}: {e}",
            key.display(),
            cert.display()
        )
    })
}

/// The current certificate pair, swapped when the files change.
#[derive(Debug)]
struct Certificates {
    cert: PathBuf,
    key: PathBuf,
    provider: Arc<CryptoProvider>,
    current: RwLock<Arc<CertifiedKey>>,
    /// The file versions last tried (loaded or not), so a bad pair is reported once.
    tried: Mutex<Option<(FileStamp, FileStamp)>>,
}

impl Certificates {
    fn load(settings: &TlsSettings, provider: Arc<CryptoProvider>) -> io::Result<Self> {
        let stamps = Self::stamps(&settings.cert, &settings.key).ok();
        let pair = load_pair(&settings.cert, &settings.key, &provider).map_err(io::Error::other)?;
        Ok(Self {
            cert: settings.cert.clone(),
            key: settings.key.clone(),
            provider,
            current: RwLock::new(Arc::new(pair)),
            tried: Mutex::new(stamps),
        })
    }

    fn stamps(cert: &Path, key: &Path) -> io::Result<(FileStamp, FileStamp)> {
        Ok((FileStamp::of(cert)?, FileStamp::of(key)?))
    }

    /// Loads the pair again if either file changed since the last attempt. Blocking.
    fn reload_if_changed(&self) {
        let stamps = match Self::stamps(&self.cert, &self.key) {
            Ok(stamps) => stamps,
            Err(err) => {
                // Mid-rotation a file may be briefly missing: try again next time.
                tracing::debug!(error = %err, "cannot check the TLS certificate files");
                return;
            }
        };
        {
            let mut tried = self.tried.lock().unwrap_or_else(PoisonError::into_inner);
            if tried.as_ref() == Some(&stamps) {
                return;
            }
            *tried = Some(stamps);
        }
        match load_pair(&self.cert, &self.key, &self.provider) {
            Ok(pair) => {
                *self.current.write().unwrap_or_else(PoisonError::into_inner) = Arc::new(pair);
                tracing::info!(cert = %self.cert.display(), "reloaded the TLS certificate");
            }
            Err(err) => tracing::error!(
                error = %err,
                "the new TLS certificate pair does not load; still serving the previous one"
            ),
        }
    }
}

impl ResolvesServerCert for Certificates {
    fn resolve(&self, _client_hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(
            self.current
                .read()
                .unwrap_or_else(PoisonError::into_inner)
                .clone(),
        )
    }
}

/// Polls the files until the acceptor (the last holder of `certs`) is gone.
async fn watch(certs: Weak<Certificates>, every: Duration) {
    loop {
        tokio::time::sleep(every).await;
        let Some(certs) = certs.upgrade() else {
            return;
        };
        // File reads block; keep them off the async workers.
        let _ = tokio::task::spawn_blocking(move || certs.reload_if_changed()).await;
    }
}

fn server_config(
    min_version: TlsMinVersion,
    provider: Arc<CryptoProvider>,
    certs: Arc<Certificates>,
) -> io::Result<ServerConfig> {
    let versions: &[&'static SupportedProtocolVersion] = match min_version {
        TlsMinVersion::Tls13 => &[&rustls::version::TLS13],
        TlsMinVersion::Tls12 => &[&rustls::version::TLS13, &rustls::version::TLS12],
    };
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(versions)
        .map_err(io::Error::other)?
        .with_no_client_auth()
        .with_cert_resolver(certs);
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(config)
}

type Handshaken = (TlsStream<TcpStream>, LocalAddr, RemoteAddr, Scheme);

/// Accepts TLS connections for poem's [`poem::Server::new_with_acceptor`].
pub struct HttpsAcceptor {
    tcp: TcpAcceptor,
    tls: tokio_rustls::TlsAcceptor,
    done_tx: mpsc::Sender<Handshaken>,
    done_rx: mpsc::Receiver<Handshaken>,
    /// Keeps the certificate watcher running.
    _certs: Arc<Certificates>,
}

impl std::fmt::Debug for HttpsAcceptor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpsAcceptor")
            .field("local_addr", &self.tcp.local_addr())
            .finish_non_exhaustive()
    }
}

/// Binds `addr` and serves TLS as `settings` say, watching the certificate files for changes.
/// Fails when the address is taken or the certificate pair does not load.
pub async fn bind(addr: SocketAddr, settings: &TlsSettings) -> io::Result<HttpsAcceptor> {
    let provider = provider();
    let certs = Arc::new(Certificates::load(settings, provider.clone())?);
    let config = server_config(settings.min_version, provider, certs.clone())?;
    let tcp = TcpAcceptor::from_tokio(tokio::net::TcpListener::bind(addr).await?)?;
    tokio::spawn(watch(Arc::downgrade(&certs), settings.reload_interval));
    let (done_tx, done_rx) = mpsc::channel(HANDSHAKE_QUEUE);
    Ok(HttpsAcceptor {
        tcp,
        tls: tokio_rustls::TlsAcceptor::from(Arc::new(config)),
        done_tx,
        done_rx,
        _certs: certs,
    })
}

impl HttpsAcceptor {
    /// The address it listens on.
    pub fn socket_addr(&self) -> Option<SocketAddr> {
        self.tcp
            .local_addr()
            .first()
            .and_then(|a| a.as_socket_addr().copied())
    }
}

impl Acceptor for HttpsAcceptor {
    type Io = TlsStream<TcpStream>;

    fn local_addr(&self) -> Vec<LocalAddr> {
        self.tcp.local_addr()
    }

    async fn accept(&mut self) -> io::Result<Handshaken> {
        loop {
            tokio::select! {
                Some(done) = self.done_rx.recv() => return Ok(done),
                accepted = self.tcp.accept() => {
                    let (stream, local, remote, _) = accepted?;
                    let tls = self.tls.clone();
                    let done = self.done_tx.clone();
                    tokio::spawn(async move {
                        match tokio::time::timeout(HANDSHAKE_TIMEOUT, tls.accept(stream)).await {
                            Ok(Ok(stream)) => {
                                let _ = done.send((stream, local, remote, Scheme::HTTPS)).await;
                            }
                            Ok(Err(err)) => {
                                tracing::debug!(remote = %remote, error = %err, "TLS handshake failed");
                            }
                            Err(_) => tracing::debug!(remote = %remote, "TLS handshake timed out"),
                        }
                    });
                }
            }
        }
    }
}
