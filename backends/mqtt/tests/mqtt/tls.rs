//! `mqtts://` through rustls, against a Mosquitto with a certificate from a throwaway CA.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use bytes::Bytes;
use edgesync_core::Notifier;
use edgesync_core::notify::NotifierHealth;
use edgesync_mqtt::{MqttNotifier, MqttNotifierOptions};

use crate::support::{
    Broker, Subscriber, fast_options, free_port, notification, on_path, unique, wait_until,
};

fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("run openssl");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `ca.pem`, `other-ca.pem` and `server.pem` / `server.key` for 127.0.0.1, readable by the
/// `mosquitto` user the broker may switch to.
fn make_certificates(dir: &Path) {
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    let ec = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
    ];
    for ca in ["ca", "other-ca"] {
        let (key, pem, subj) = (
            format!("{ca}.key"),
            format!("{ca}.pem"),
            format!("/CN=edgesync test {ca}"),
        );
        let mut args = vec![
            "req", "-x509", "-days", "1", "-subj", &subj, "-keyout", &key, "-out", &pem,
        ];
        args.extend(ec);
        openssl(dir, &args);
    }
    let mut args = vec![
        "req",
        "-subj",
        "/CN=127.0.0.1",
        "-keyout",
        "server.key",
        "-out",
        "server.csr",
    ];
    args.extend(ec);
    openssl(dir, &args);
    std::fs::write(
        dir.join("san.ext"),
        "subjectAltName=IP:127.0.0.1,DNS:localhost\n",
    )
    .unwrap();
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            "server.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-days",
            "1",
            "-extfile",
            "san.ext",
            "-out",
            "server.pem",
        ],
    );
    for file in std::fs::read_dir(dir).unwrap() {
        let path = file.unwrap().path();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
    }
}

#[tokio::test]
async fn publishes_over_tls_and_rejects_an_untrusted_broker() {
    let Some(mosquitto) = on_path("mosquitto") else {
        return;
    };
    if on_path("openssl").is_none() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    make_certificates(dir.path());
    let (tls_port, plain_port) = (free_port(), free_port());
    let d = dir.path().display();
    let conf = format!(
        "allow_anonymous true\n\
         listener {tls_port} 127.0.0.1\ncafile {d}/ca.pem\ncertfile {d}/server.pem\nkeyfile {d}/server.key\n\
         listener {plain_port} 127.0.0.1\n"
    );
    let conf_path = dir.path().join("mosquitto.conf");
    std::fs::write(&conf_path, conf).unwrap();
    std::fs::set_permissions(&conf_path, std::fs::Permissions::from_mode(0o644)).unwrap();
    let _broker = Broker::with_config(&mosquitto, &conf_path, vec![tls_port, plain_port]).await;

    let run = unique();
    let mut sub = Subscriber::connect(
        &format!("mqtt://127.0.0.1:{plain_port}"),
        &["edgesync/nodes/+/sync"],
    )
    .await;
    let url = format!("mqtts://127.0.0.1:{tls_port}");

    let trusted = MqttNotifierOptions {
        ca_pem: Some(std::fs::read(dir.path().join("ca.pem")).unwrap()),
        ..fast_options()
    };
    let mqtt = MqttNotifier::connect(&url, trusted).unwrap();
    assert!(
        mqtt.wait_connected(Duration::from_secs(5)).await,
        "{:?}",
        mqtt.health()
    );
    mqtt.publish(notification(
        format!("edgesync/nodes/{run}/sync"),
        "over tls",
    ));
    let got = sub.collect(&run, 1, Duration::from_secs(5)).await;
    assert_eq!(
        got,
        vec![(
            format!("edgesync/nodes/{run}/sync"),
            Bytes::from("over tls")
        )]
    );
    mqtt.shutdown(Duration::from_secs(2)).await;

    let untrusted = MqttNotifierOptions {
        ca_pem: Some(std::fs::read(dir.path().join("other-ca.pem")).unwrap()),
        ..fast_options()
    };
    let mqtt = MqttNotifier::connect(&url, untrusted).unwrap();
    assert!(
        wait_until(Duration::from_secs(5), || mqtt.stats().connection_errors
            >= 2)
        .await
    );
    let NotifierHealth::Degraded(reason) = mqtt.health() else {
        panic!("connected to a broker whose CA is not trusted")
    };
    println!("untrusted broker: {reason}");
    assert!(reason.to_lowercase().contains("certificate"), "{reason}");
}
