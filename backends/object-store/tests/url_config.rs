//! URL parsing: the accepted formats and the rejected ones.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;
use std::time::Duration;

use edgesync_core::testkit::artifact_suite;
use edgesync_core::{ArtifactStore, ErrorCode};
use edgesync_object_store::{ArtifactStoreConfig, ObjectArtifactStore, S3Config};

fn s3(bucket: &str) -> S3Config {
    S3Config {
        bucket: bucket.into(),
        ..S3Config::default()
    }
}

#[test]
fn good_urls_parse() {
    let cases: Vec<(&str, ArtifactStoreConfig)> = vec![
        ("memory://", ArtifactStoreConfig::Memory),
        ("memory:///", ArtifactStoreConfig::Memory),
        (
            "file:///var/lib/edgesync/artifacts",
            ArtifactStoreConfig::File {
                root: PathBuf::from("/var/lib/edgesync/artifacts"),
            },
        ),
        (
            "file:///tmp/with%20space/",
            ArtifactStoreConfig::File {
                root: PathBuf::from("/tmp/with space/"),
            },
        ),
        ("s3://artifacts", ArtifactStoreConfig::S3(s3("artifacts"))),
        (
            "s3://my-bucket.eu?endpoint=http://127.0.0.1:9000&region=eu-west-1&prefix=run-1/a",
            ArtifactStoreConfig::S3(S3Config {
                endpoint: Some("http://127.0.0.1:9000".into()),
                region: Some("eu-west-1".into()),
                prefix: Some("run-1/a".into()),
                ..s3("my-bucket.eu")
            }),
        ),
        (
            "s3://bkt?endpoint=https%3A%2F%2Fs3.example.com",
            ArtifactStoreConfig::S3(S3Config {
                endpoint: Some("https://s3.example.com".into()),
                ..s3("bkt")
            }),
        ),
    ];
    for (url, expected) in cases {
        let parsed = ArtifactStoreConfig::parse(url);
        assert_eq!(parsed.as_ref().ok(), Some(&expected), "{url}: {parsed:?}");
        assert_eq!(url.parse::<ArtifactStoreConfig>().ok(), Some(expected));
    }
}

#[test]
fn bad_urls_are_invalid_requests() {
    let cases = [
        ("", "does not parse"),
        ("not a url", "does not parse"),
        ("/var/lib/artifacts", "does not parse"),
        (
            "gs://bucket",
            "unsupported artifact store URL scheme \"gs\"",
        ),
        ("http://example.com", "supported: memory://, file://"),
        ("memory://host", "memory://"),
        ("memory://?x=1", "memory://"),
        ("file://relative/dir", "absolute"),
        ("file:///", "absolute"),
        ("file:///tmp/a?x=1", "no parameters"),
        ("s3://", "bucket name"),
        ("s3://UPPER", "bucket name"),
        ("s3://b", "bucket name"),
        ("s3://key:secret@bucket", "credentials do not belong"),
        ("s3://bucket:9000", "endpoint"),
        ("s3://bucket/some/path", "?prefix="),
        ("s3://bucket?endpoint=ftp://x", "endpoint must be"),
        ("s3://bucket?endpoint=127.0.0.1:9000", "endpoint must be"),
        ("s3://bucket?endpoint=http://u:p@host", "endpoint must be"),
        ("s3://bucket?region=", "region is empty"),
        ("s3://bucket?prefix=", "prefix must be"),
        ("s3://bucket?prefix=/a", "prefix must be"),
        ("s3://bucket?prefix=a//b", "prefix must be"),
        ("s3://bucket?prefix=a/../b", "prefix must be"),
        (
            "s3://bucket?regoin=x",
            "unknown s3:// URL parameter \"regoin\"",
        ),
        ("s3://bucket?region=a&region=b", "given twice"),
    ];
    for (url, needle) in cases {
        match ArtifactStoreConfig::parse(url) {
            Ok(c) => panic!("{url:?} parsed as {c:?}"),
            Err(e) => {
                assert_eq!(e.code(), ErrorCode::InvalidRequest, "{url:?}");
                assert!(e.message().contains(needle), "{url:?}: {}", e.message());
            }
        }
        assert!(ObjectArtifactStore::from_url(url).is_err(), "{url:?}");
    }
}

#[test]
fn errors_do_not_echo_the_url() {
    let e = ArtifactStoreConfig::parse("s3://AKIDSECRET:hunter2@bucket").unwrap_err();
    assert!(!e.message().contains("hunter2"), "{}", e.message());
}

#[test]
fn s3_config_debug_hides_the_secret() {
    let ArtifactStoreConfig::S3(config) =
        ArtifactStoreConfig::parse("s3://bucket?endpoint=http://127.0.0.1:9000").unwrap()
    else {
        panic!("not s3");
    };
    let config = config.with_credentials("AKIDEXAMPLE", "wJalrXUtnFEMI-very-secret");
    assert!(config.allows_http());
    let debug = format!("{config:?}");
    assert!(!debug.contains("wJalrXUtnFEMI-very-secret"), "{debug}");
    assert!(debug.contains("<redacted>"), "{debug}");
    assert!(debug.contains("bucket"), "{debug}");

    let store = ObjectArtifactStore::from_config(&ArtifactStoreConfig::S3(config)).unwrap();
    let debug = format!("{store:?}");
    assert!(!debug.contains("wJalrXUtnFEMI-very-secret"), "{debug}");
}

#[tokio::test]
async fn s3_stores_presign_without_a_round_trip() {
    let config = S3Config {
        endpoint: Some("http://127.0.0.1:9".into()),
        prefix: Some("run-1".into()),
        ..s3("bucket")
    }
    .with_credentials("AKIDEXAMPLE", "secret");
    let store = ObjectArtifactStore::from_config(&ArtifactStoreConfig::S3(config)).unwrap();
    let key = artifact_suite::upload(
        &ObjectArtifactStore::from_url("memory://").unwrap(),
        b"m",
        1,
    )
    .await;
    let url = store
        .presigned_url(&key, Duration::from_secs(300))
        .await
        .unwrap()
        .expect("s3 signs URLs");
    assert!(
        url.starts_with(&format!("http://127.0.0.1:9/bucket/run-1/{key}?")),
        "{url}"
    );
    assert!(url.contains("X-Amz-Signature="), "{url}");
    assert!(url.contains("X-Amz-Expires=300"), "{url}");
    assert!(!url.contains("secret"), "{url}");
}

#[tokio::test]
async fn memory_stores_sign_no_urls() {
    let store = ObjectArtifactStore::from_url("memory://").unwrap();
    let key = artifact_suite::upload(&store, b"module", 2).await;
    assert_eq!(
        store
            .presigned_url(&key, Duration::from_secs(60))
            .await
            .unwrap(),
        None
    );
}
