use edgesync_cockroach::{CockroachConfig, CockroachStore, SchemaState};
use edgesync_core::store::Kind;

use crate::support::TestDbs;

async fn applied(store: &CockroachStore) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM _sqlx_migrations")
        .fetch_one(store.pool())
        .await
        .unwrap()
}

async fn connect(url: &str) -> CockroachStore {
    CockroachStore::connect(url, CockroachConfig::default())
        .await
        .unwrap()
}

#[tokio::test]
async fn an_empty_database_needs_migrating_and_migrating_twice_is_a_noop() {
    let Some(dbs) = TestDbs::new().await else {
        return;
    };
    let store = connect(&dbs.empty_database().await).await;
    let before = store.check_schema().await.unwrap();
    assert!(
        matches!(
            &before,
            SchemaState::NeedsMigration { current: None, pending } if !pending.is_empty()
        ),
        "{before:?}"
    );
    assert!(
        before.to_string().contains("run the migrations"),
        "{before}"
    );

    store.migrate().await.unwrap();
    let after = store.check_schema().await.unwrap();
    assert!(after.is_up_to_date(), "{after:?}");
    let count = applied(&store).await;

    store.migrate().await.unwrap();
    assert_eq!(
        applied(&store).await,
        count,
        "the second run applied something"
    );
    assert_eq!(store.check_schema().await.unwrap(), after);
    let locks: i64 = sqlx::query_scalar("SELECT count(*) FROM edgesync_migration_lock")
        .fetch_one(store.pool())
        .await
        .unwrap();
    assert_eq!(locks, 0, "the migration lock was released");
    store.close().await;
    dbs.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_migrators_both_succeed_and_leave_one_schema() {
    let Some(dbs) = TestDbs::new().await else {
        return;
    };
    let url = dbs.empty_database().await;
    let stores = [
        connect(&url).await,
        connect(&url).await,
        connect(&url).await,
    ];
    let results = futures_join(&stores).await;
    for r in results {
        r.unwrap();
    }
    assert!(stores[0].check_schema().await.unwrap().is_up_to_date());
    let versions: Vec<i64> = sqlx::query_scalar("SELECT version FROM _sqlx_migrations")
        .fetch_all(stores[0].pool())
        .await
        .unwrap();
    let mut unique = versions.clone();
    unique.dedup();
    assert_eq!(versions, unique);
    for kind in Kind::ALL {
        let tables: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM information_schema.tables \
             WHERE table_schema = current_schema() AND table_name = $1",
        )
        .bind(kind.as_str())
        .fetch_one(stores[0].pool())
        .await
        .unwrap();
        assert_eq!(tables, 1, "table {}", kind.as_str());
    }
    for s in &stores {
        s.close().await;
    }
    dbs.cleanup().await;
}

async fn futures_join(stores: &[CockroachStore; 3]) -> Vec<edgesync_core::Result<()>> {
    let (a, b, c) = tokio::join!(
        stores[0].migrate(),
        stores[1].migrate(),
        stores[2].migrate()
    );
    vec![a, b, c]
}

#[tokio::test]
async fn a_schema_newer_than_the_binary_is_reported() {
    let Some(dbs) = TestDbs::new().await else {
        return;
    };
    let store = dbs.store().await;
    sqlx::query(
        "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time) \
         VALUES (99999999999999, 'from a newer release', TRUE, '\\x00', 0)",
    )
    .execute(store.pool())
    .await
    .unwrap();
    let state = store.check_schema().await.unwrap();
    assert!(
        matches!(&state, SchemaState::NewerThanBinary { unknown, .. } if unknown == &[99999999999999]),
        "{state:?}"
    );
    assert!(
        state.to_string().contains("newer than this binary"),
        "{state}"
    );
    assert!(
        store.migrate().await.is_err(),
        "an older binary must not migrate a newer schema"
    );
    store.close().await;
    dbs.cleanup().await;
}

#[tokio::test]
async fn an_expired_lock_is_taken_over() {
    let Some(dbs) = TestDbs::new().await else {
        return;
    };
    let store = connect(&dbs.empty_database().await).await;
    sqlx::query(
        "CREATE TABLE edgesync_migration_lock (id INT4 NOT NULL PRIMARY KEY, \
         holder UUID NOT NULL, locked_until TIMESTAMPTZ NOT NULL)",
    )
    .execute(store.pool())
    .await
    .unwrap();
    sqlx::query(
        "INSERT INTO edgesync_migration_lock VALUES (1, gen_random_uuid(), now() - INTERVAL '1 second')",
    )
    .execute(store.pool())
    .await
    .unwrap();
    tokio::time::timeout(std::time::Duration::from_secs(20), store.migrate())
        .await
        .expect("an expired claim must not block")
        .unwrap();
    assert!(store.check_schema().await.unwrap().is_up_to_date());
    store.close().await;
    dbs.cleanup().await;
}

#[tokio::test]
async fn a_held_lock_makes_migrators_wait() {
    let Some(dbs) = TestDbs::new().await else {
        return;
    };
    let store = connect(&dbs.empty_database().await).await;
    store.migrate().await.unwrap();
    sqlx::query(
        "INSERT INTO edgesync_migration_lock VALUES (1, gen_random_uuid(), now() + INTERVAL '2 seconds')",
    )
    .execute(store.pool())
    .await
    .unwrap();
    let started = std::time::Instant::now();
    store.migrate().await.unwrap();
    assert!(
        started.elapsed() >= std::time::Duration::from_millis(1500),
        "migrate did not wait for the other holder ({:?})",
        started.elapsed()
    );
    store.close().await;
    dbs.cleanup().await;
}

/// Telemetry stored before its key led with the hour is still there, and listed hour by hour,
/// after the migration that re-keys it.
#[tokio::test]
async fn telemetry_keyed_node_first_survives_the_hour_key_migration() {
    use edgesync_core::model::{NodeId, TelemetryPoint, Timestamp};
    use edgesync_core::store::{Collection, Record, Store, StoreExt, telemetry_hour};

    let Some(dbs) = TestDbs::new().await else {
        return;
    };
    let store = connect(&dbs.empty_database().await).await;
    let mut before = sqlx::migrate!("./migrations");
    before.set_locking(false);
    before.migrations = before
        .migrations
        .iter()
        .filter(|m| m.version < 3)
        .cloned()
        .collect::<Vec<_>>()
        .into();
    before.run(store.pool()).await.unwrap();

    let start = Timestamp::from_unix_millis(1_767_225_600_000);
    let node = NodeId::random();
    let points: Vec<TelemetryPoint> = (0..6u64)
        .map(|i| TelemetryPoint {
            node_id: node,
            metric: if i % 2 == 0 { "cpu" } else { "mem" }.into(),
            ts: start.plus(std::time::Duration::from_secs(i * 1200)),
            seq: 0,
            value: i as f64,
            labels: Default::default(),
        })
        .collect();
    for p in &points {
        sqlx::query(
            "INSERT INTO telemetry (node_id, metric, ts_nanos, seq, ts, value, revision, body) \
             VALUES ($1, $2, $3, $4, $5, $6, 3, $7)",
        )
        .bind(p.node_id.as_uuid())
        .bind(&p.metric)
        .bind(i64::try_from(p.ts.unix_nanos()).unwrap())
        .bind(i64::from(p.seq))
        .bind(p.ts.as_offset_date_time())
        .bind(p.value)
        .bind(serde_json::to_value(p).unwrap())
        .execute(store.pool())
        .await
        .unwrap();
    }

    store.migrate().await.unwrap();
    assert!(store.check_schema().await.unwrap().is_up_to_date());
    let all = store.list_all(Collection::ALL_TELEMETRY).await.unwrap();
    let listed: Vec<(i64, String, f64)> = all
        .iter()
        .map(|s| match &s.record {
            Record::Telemetry(p) => {
                assert_eq!(s.revision, 3, "revisions are kept");
                (
                    telemetry_hour(i64::try_from(p.ts.unix_nanos()).unwrap()),
                    p.metric.clone(),
                    p.value,
                )
            }
            other => panic!("unexpected {other:?}"),
        })
        .collect();
    // 20-minute steps from the hour: samples 0-2 in the first hour, 3-5 in the second; within
    // an hour by metric, then time.
    let h = telemetry_hour(1_767_225_600_000_000_000);
    let expected: Vec<(i64, String, f64)> = [(h, "cpu", 0.0), (h, "cpu", 2.0), (h, "mem", 1.0)]
        .into_iter()
        .chain([
            (h + 1, "cpu", 4.0),
            (h + 1, "mem", 3.0),
            (h + 1, "mem", 5.0),
        ])
        .map(|(h, m, v)| (h, m.to_owned(), v))
        .collect();
    assert_eq!(listed, expected);
    for p in &points {
        let stored = store
            .get(&Record::Telemetry(p.clone()).key())
            .await
            .unwrap();
        assert_eq!(stored.map(|s| s.record), Some(Record::Telemetry(p.clone())));
    }
    store.close().await;
    dbs.cleanup().await;
}
