//! HTTPS (CP-7.2): the real app behind the TLS acceptor on a loopback port, reached with a real
//! rustls client: TLS 1.3 by default, 1.2 only when allowed, certificates reloaded from disk.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use edgesync_server::config::{ServeArgs, TlsMinVersion};
use edgesync_server::{app, tls, wiring};
use poem::Server;
use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair};
use rustls::pki_types::{CertificateDer, ServerName};
use rustls::{ClientConfig, ProtocolVersion, RootCertStore, SupportedProtocolVersion};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

const RELOAD: Duration = Duration::from_millis(200);

/// A test CA that issues `localhost` certificates.
struct TestCa {
    issuer: Issuer<'static, KeyPair>,
    der: CertificateDer<'static>,
}

impl TestCa {
    fn new() -> Self {
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let key = KeyPair::generate().unwrap();
        let cert = params.self_signed(&key).unwrap();
        Self {
            der: cert.der().clone(),
            issuer: Issuer::new(params, key),
        }
    }

    /// Issues a leaf and writes it and its key as PEM; returns the leaf's DER.
    fn issue_into(&self, dir: &Path) -> CertificateDer<'static> {
        let key = KeyPair::generate().unwrap();
        let cert = CertificateParams::new(vec!["localhost".to_owned()])
            .unwrap()
            .signed_by(&key, &self.issuer)
            .unwrap();
        std::fs::write(dir.join("cert.pem"), cert.pem()).unwrap();
        std::fs::write(dir.join("key.pem"), key.serialize_pem()).unwrap();
        cert.der().clone()
    }
}

struct Running {
    addr: SocketAddr,
    dir: tempfile::TempDir,
    ca: TestCa,
    leaf: CertificateDer<'static>,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for Running {
    fn drop(&mut self) {
        self.server.abort();
    }
}

/// Starts the app with TLS on a free loopback port, configured through `ServeArgs` as the
/// binary would be.
async fn start(min_version: TlsMinVersion) -> Running {
    tls::install_crypto_provider();
    let dir = tempfile::tempdir().unwrap();
    let ca = TestCa::new();
    let leaf = ca.issue_into(dir.path());
    let mut args = ServeArgs::defaults_for(dir.path().join("data"), "127.0.0.1:0".parse().unwrap());
    args.store = Some("memory://".into());
    args.artifacts = Some("memory://".into());
    args.tls_cert = Some(dir.path().join("cert.pem"));
    args.tls_key = Some(dir.path().join("key.pem"));
    args.tls_min_version = min_version;
    assert!(args.public_url().starts_with("https://"));
    let mut settings = args.tls_settings().unwrap().expect("TLS is on");
    settings.reload_interval = RELOAD;

    let edgesync = wiring::build(&args).await.unwrap();
    let acceptor = tls::bind(args.listen, &settings).await.unwrap();
    let addr = acceptor.socket_addr().unwrap();
    let ep = app(&edgesync, args.http_limits());
    let server = tokio::spawn(async move {
        let _ = Server::new_with_acceptor(acceptor).run(ep).await;
    });
    Running {
        addr,
        dir,
        ca,
        leaf,
        server,
    }
}

struct Answer {
    version: ProtocolVersion,
    peer: CertificateDer<'static>,
    response: String,
}

/// `GET /health` over a fresh TLS connection that trusts `root` and speaks `versions`.
async fn get_health(
    addr: SocketAddr,
    root: &CertificateDer<'static>,
    versions: &[&'static SupportedProtocolVersion],
) -> std::io::Result<Answer> {
    let mut roots = RootCertStore::empty();
    roots.add(root.clone()).unwrap();
    let config = ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::aws_lc_rs::default_provider(),
    ))
    .with_protocol_versions(versions)
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    let connector = TlsConnector::from(Arc::new(config));
    let tcp = TcpStream::connect(addr).await?;
    let mut stream = connector
        .connect(ServerName::try_from("localhost").unwrap(), tcp)
        .await?;
    let (_, conn) = stream.get_ref();
    let version = conn.protocol_version().unwrap();
    let peer = conn.peer_certificates().unwrap()[0].clone().into_owned();
    stream
        .write_all(b"GET /health HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        .await?;
    let mut buf = Vec::new();
    match stream.read_to_end(&mut buf).await {
        Ok(_) => {}
        // A peer that closes without close_notify after a complete response is fine here.
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof && !buf.is_empty() => {}
        Err(e) => return Err(e),
    }
    Ok(Answer {
        version,
        peer,
        response: String::from_utf8_lossy(&buf).into_owned(),
    })
}

const TLS13_ONLY: &[&SupportedProtocolVersion] = &[&rustls::version::TLS13];
const TLS12_ONLY: &[&SupportedProtocolVersion] = &[&rustls::version::TLS12];

#[tokio::test]
async fn serves_health_over_tls_1_3() {
    let s = start(TlsMinVersion::Tls13).await;
    let both = rustls::DEFAULT_VERSIONS;
    let answer = get_health(s.addr, &s.ca.der, both).await.unwrap();
    assert_eq!(answer.version, ProtocolVersion::TLSv1_3);
    assert_eq!(answer.peer, s.leaf);
    assert!(
        answer.response.starts_with("HTTP/1.1 200"),
        "{}",
        answer.response
    );
    assert!(
        answer.response.contains("x-request-id"),
        "{}",
        answer.response
    );
    let answer = get_health(s.addr, &s.ca.der, TLS13_ONLY).await.unwrap();
    assert_eq!(answer.version, ProtocolVersion::TLSv1_3);
}

#[tokio::test]
async fn tls_1_2_clients_are_refused_by_default() {
    let s = start(TlsMinVersion::Tls13).await;
    let err = get_health(s.addr, &s.ca.der, TLS12_ONLY)
        .await
        .err()
        .expect("a TLS 1.2-only client must fail the handshake");
    assert!(
        err.to_string().to_lowercase().contains("protocol")
            || err.to_string().to_lowercase().contains("version")
            || err.to_string().to_lowercase().contains("alert"),
        "{err}"
    );
    // The server is still fine for 1.3 clients afterwards.
    get_health(s.addr, &s.ca.der, TLS13_ONLY).await.unwrap();
}

#[tokio::test]
async fn tls_1_2_is_accepted_when_allowed() {
    let s = start(TlsMinVersion::Tls12).await;
    let answer = get_health(s.addr, &s.ca.der, TLS12_ONLY).await.unwrap();
    assert_eq!(answer.version, ProtocolVersion::TLSv1_2);
    assert!(
        answer.response.starts_with("HTTP/1.1 200"),
        "{}",
        answer.response
    );
    // 1.3 stays preferred.
    let answer = get_health(s.addr, &s.ca.der, rustls::DEFAULT_VERSIONS)
        .await
        .unwrap();
    assert_eq!(answer.version, ProtocolVersion::TLSv1_3);
}

/// Polls until new connections see `expected`, for at most a few reload intervals.
async fn wait_for_peer(s: &Running, expected: &CertificateDer<'static>) {
    let deadline = Instant::now() + RELOAD * 10;
    loop {
        let answer = get_health(s.addr, &s.ca.der, TLS13_ONLY).await.unwrap();
        if &answer.peer == expected {
            assert!(answer.response.starts_with("HTTP/1.1 200"));
            return;
        }
        assert!(
            Instant::now() < deadline,
            "the new certificate was not picked up within {:?}",
            RELOAD * 10
        );
        tokio::time::sleep(RELOAD / 4).await;
    }
}

#[tokio::test]
async fn rotated_certificates_are_picked_up_without_restart() {
    let s = start(TlsMinVersion::Tls13).await;
    let first = get_health(s.addr, &s.ca.der, TLS13_ONLY).await.unwrap();
    assert_eq!(first.peer, s.leaf);

    // Connections opened during rotation see the new certificate within the reload interval.
    let second = s.ca.issue_into(s.dir.path());
    assert_ne!(second, s.leaf);
    wait_for_peer(&s, &second).await;

    // A bad pair (a key that is not the certificate's) is refused; the server keeps serving
    // the last good certificate.
    let stray = KeyPair::generate().unwrap();
    std::fs::write(s.dir.path().join("key.pem"), stray.serialize_pem()).unwrap();
    tokio::time::sleep(RELOAD * 3).await;
    let answer = get_health(s.addr, &s.ca.der, TLS13_ONLY).await.unwrap();
    assert_eq!(answer.peer, second, "kept the last good certificate");
    std::fs::write(s.dir.path().join("cert.pem"), "not a certificate").unwrap();
    tokio::time::sleep(RELOAD * 3).await;
    let answer = get_health(s.addr, &s.ca.der, TLS13_ONLY).await.unwrap();
    assert_eq!(answer.peer, second, "kept the last good certificate");

    // A good pair again is picked up.
    let third = s.ca.issue_into(s.dir.path());
    wait_for_peer(&s, &third).await;
}

#[tokio::test]
async fn a_certificate_without_its_key_is_a_configuration_error() {
    let mut args = ServeArgs::defaults_for("unused".into(), "127.0.0.1:0".parse().unwrap());
    assert!(args.tls_settings().unwrap().is_none());
    assert!(args.public_url().starts_with("http://"));
    args.tls_cert = Some("cert.pem".into());
    let err = args.tls_settings().unwrap_err();
    assert!(err.to_string().contains("--tls-key"), "{err}");

    // Unreadable files fail at startup, not at the first connection.
    tls::install_crypto_provider();
    let dir = tempfile::tempdir().unwrap();
    args.tls_cert = Some(dir.path().join("missing-cert.pem"));
    args.tls_key = Some(dir.path().join("missing-key.pem"));
    let settings = args.tls_settings().unwrap().unwrap();
    let err = tls::bind(args.listen, &settings).await.err().unwrap();
    assert!(err.to_string().contains("missing-cert.pem"), "{err}");
}

#[test]
fn clap_wants_both_files_and_knows_the_versions() {
    use clap::Parser;
    use edgesync_server::config::Cli;
    let cli = Cli::try_parse_from(["edgesync", "--tls-cert", "c.pem"]);
    let err = cli.expect_err("--tls-cert alone is refused");
    assert!(err.to_string().contains("--tls-key"), "{err}");
    let cli = Cli::try_parse_from([
        "edgesync",
        "--tls-cert",
        "c.pem",
        "--tls-key",
        "k.pem",
        "--tls-min-version",
        "1.2",
    ])
    .unwrap();
    assert_eq!(cli.serve.tls_min_version, TlsMinVersion::Tls12);
    assert!(Cli::try_parse_from(["edgesync", "--tls-min-version", "1.1"]).is_err());
    let cli = Cli::try_parse_from(["edgesync"]).unwrap();
    assert_eq!(cli.serve.tls_min_version, TlsMinVersion::Tls13);
    assert_eq!(cli.serve.rate_limit_rps, 100);
    assert_eq!(cli.serve.rate_limit_burst, 200);
    assert_eq!(cli.serve.max_concurrent_uploads, 4);
    assert_eq!(cli.serve.request_timeout_s, 30);
}
