use std::time::Duration;

use edgesync_cockroach::{CockroachConfig, CockroachStore};
use edgesync_core::store::Store;

use crate::support::TestDbs;

#[tokio::test]
async fn connections_carry_the_configured_settings_and_debug_hides_the_password() {
    let Some(dbs) = TestDbs::new().await else {
        return;
    };
    let url = dbs.empty_database().await;
    // The test server trusts local users, so any password works; it must never be printed.
    let mut with_password = url::Url::parse(&url).unwrap();
    with_password.set_password(Some("hunter2")).unwrap();
    let cockroach_style = with_password
        .as_str()
        .replacen("postgresql://", "cockroachdb://", 1)
        .replacen("postgres://", "cockroachdb://", 1);
    let config = CockroachConfig {
        max_connections: 2,
        statement_timeout: Some(Duration::from_millis(1234)),
        application_name: "edgesync-test".into(),
        ..CockroachConfig::default()
    };
    let store = CockroachStore::connect(&cockroach_style, config)
        .await
        .unwrap();
    let (timeout, app): (String, String) = sqlx::query_as(
        "SELECT current_setting('statement_timeout'), current_setting('application_name')",
    )
    .fetch_one(store.pool())
    .await
    .unwrap();
    assert_eq!(
        (timeout.as_str(), app.as_str()),
        ("1234ms", "edgesync-test")
    );
    store.check().await.unwrap();
    let shown = format!("{store:?}");
    assert!(!shown.contains("hunter2"), "{shown}");
    assert!(shown.contains("***"), "{shown}");

    store.close().await;
    let err = store.check().await.unwrap_err();
    assert_eq!(err.code(), edgesync_core::ErrorCode::StoreUnavailable);
    dbs.cleanup().await;
}

/// TLS through sqlx's rustls (aws-lc-rs provider), when the test server offers it.
#[tokio::test]
async fn tls_connections_work() {
    let Some(dbs) = TestDbs::new().await else {
        return;
    };
    let url = dbs.empty_database().await;
    let plain = CockroachStore::connect(&url, CockroachConfig::default())
        .await
        .unwrap();
    let ssl: String = sqlx::query_scalar("SHOW ssl")
        .fetch_one(plain.pool())
        .await
        .unwrap();
    plain.close().await;
    if ssl != "on" {
        eprintln!("SKIPPED: the test server does not offer TLS");
        dbs.cleanup().await;
        return;
    }
    let mut tls = url::Url::parse(&url).unwrap();
    tls.query_pairs_mut().append_pair("sslmode", "require");
    let store = CockroachStore::connect(tls.as_str(), CockroachConfig::default())
        .await
        .unwrap();
    let encrypted: bool =
        sqlx::query_scalar("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()")
            .fetch_one(store.pool())
            .await
            .unwrap();
    assert!(encrypted);
    store.close().await;
    dbs.cleanup().await;
}
