//! Operators query and back up the tables with ordinary SQL: the columns must say what the
//! records say.

use edgesync_core::ErrorCode;
use edgesync_core::model::Timestamp;
use edgesync_core::store::{Record, RecordKey, Store, UniqueIndex, Write};
use edgesync_core::testkit::fixtures;
use sqlx::Row;
use time::OffsetDateTime;

use crate::support::TestDbs;

#[tokio::test]
async fn records_are_rows_operators_can_query() {
    let Some(dbs) = TestDbs::new().await else {
        return;
    };
    let store = dbs.store().await;
    let node = fixtures::node("edge-fra-1");
    let records = fixtures::one_of_each();
    let writes: Vec<Write> = records
        .iter()
        .cloned()
        .chain([Record::Node(node.clone())])
        .map(Write::create)
        .collect();
    store.commit(&writes).await.unwrap();

    let rows = sqlx::query(
        "SELECT name, pop, lifecycle, registered_at, revision, body->>'region' \
         FROM nodes WHERE name = 'edge-fra-1'",
    )
    .fetch_all(store.pool())
    .await
    .unwrap();
    assert_eq!(rows.len(), 1);
    let row = &rows[0];
    assert_eq!(row.get::<String, _>(0), "edge-fra-1");
    assert_eq!(row.get::<String, _>(1), "fra");
    assert_eq!(row.get::<String, _>(2), "active");
    assert_eq!(
        Timestamp::from(row.get::<OffsetDateTime, _>(3)),
        node.registered_at
    );
    assert_eq!(row.get::<i64, _>(4), 1);
    assert_eq!(row.get::<String, _>(5), "eu-central");

    // Every kind has exactly its row, with a revision and a body.
    for r in &records {
        let table = r.kind().as_str();
        let count: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "SELECT count(*) FROM {table} WHERE revision = 1 AND body IS NOT NULL"
        )))
        .fetch_one(store.pool())
        .await
        .unwrap();
        let expected = if matches!(r, Record::Node(_)) { 2 } else { 1 };
        assert_eq!(count, expected, "{table}");
    }

    // Composite keys are real columns.
    let (version, status): (i64, String) = sqlx::query_as(
        "SELECT v.version, v.status FROM function_versions v JOIN functions f ON f.id = v.function_id \
         WHERE f.name = 'fixture-fn'",
    )
    .fetch_one(store.pool())
    .await
    .unwrap();
    assert_eq!((version, status.as_str()), (1, "ready"));
    let (metric, value): (String, f64) =
        sqlx::query_as("SELECT metric, value FROM telemetry WHERE ts_nanos > 0")
            .fetch_one(store.pool())
            .await
            .unwrap();
    assert_eq!((metric.as_str(), value), ("cpu", 0.5));
    let state: String = sqlx::query_scalar("SELECT state FROM node_function_deployments")
        .fetch_one(store.pool())
        .await
        .unwrap();
    assert_eq!(state, "failed");

    // A write updates the copies too.
    let mut renamed = node.clone();
    renamed.name = "edge-fra-2".into();
    store
        .commit(&[Write::update(Record::Node(renamed), 1)])
        .await
        .unwrap();
    let (name, revision): (String, i64) =
        sqlx::query_as("SELECT name, revision FROM nodes WHERE id = $1")
            .bind(node.id.as_uuid())
            .fetch_one(store.pool())
            .await
            .unwrap();
    assert_eq!((name.as_str(), revision), ("edge-fra-2", 2));
    store.close().await;
    dbs.cleanup().await;
}

#[tokio::test]
async fn command_idempotency_keys_are_unique_per_node() {
    let Some(dbs) = TestDbs::new().await else {
        return;
    };
    let store = dbs.store().await;
    let command = match fixtures::one_of_each()
        .into_iter()
        .find(|r| matches!(r, Record::Command(_)))
    {
        Some(Record::Command(c)) => c,
        _ => unreachable!(),
    };
    let mut same_key = command.clone();
    same_key.id = edgesync_core::model::CommandId::ordered();
    let mut other_node = same_key.clone();
    other_node.id = edgesync_core::model::CommandId::ordered();
    other_node.node_id = edgesync_core::model::NodeId::random();
    let mut no_key = [command.clone(), command.clone()];
    for c in &mut no_key {
        c.id = edgesync_core::model::CommandId::ordered();
        c.idempotency_key = None;
    }

    store
        .commit(&[Write::create(Record::Command(command.clone()))])
        .await
        .unwrap();
    let err = store
        .commit(&[Write::create(Record::Command(same_key))])
        .await
        .unwrap_err();
    assert_eq!(err.code(), ErrorCode::UniqueViolation);
    store
        .commit(&[
            Write::create(Record::Command(other_node)),
            Write::create(Record::Command(no_key[0].clone())),
            Write::create(Record::Command(no_key[1].clone())),
        ])
        .await
        .expect("keys are per node, and commands without one never collide");
    let found = store
        .get_unique(
            UniqueIndex::CommandIdempotencyKey,
            &format!("{}/k1", command.node_id),
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(found.record, Record::Command(command));
    store.close().await;
    dbs.cleanup().await;
}

/// A rename and a create that takes the old name, and a swap of two names, in one commit: the
/// contract checks unique values after the commit, so both succeed.
#[tokio::test]
async fn unique_values_move_between_records_of_one_commit() {
    let Some(dbs) = TestDbs::new().await else {
        return;
    };
    let store = dbs.store().await;
    let (a, b) = (fixtures::node("a"), fixtures::node("b"));
    store
        .commit(&[
            Write::create(Record::Node(a.clone())),
            Write::create(Record::Node(b.clone())),
        ])
        .await
        .unwrap();
    let (mut a2, mut b2) = (a.clone(), b.clone());
    a2.name = "b".into();
    b2.name = "a".into();
    store
        .commit(&[
            Write::update(Record::Node(a2), 1),
            Write::update(Record::Node(b2), 1),
        ])
        .await
        .expect("a swap of names");
    let c = fixtures::node("a");
    let mut b3 = b.clone();
    b3.name = "c".into();
    store
        .commit(&[
            Write::create(Record::Node(c.clone())),
            Write::update(Record::Node(b3), 2),
        ])
        .await
        .expect("a create taking a name the same commit frees");
    let holder = store
        .get_unique(UniqueIndex::NodeName, "a")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(holder.record.key(), RecordKey::Node { id: c.id });
    store.close().await;
    dbs.cleanup().await;
}

#[tokio::test]
async fn undecodable_rows_are_corrupt_records() {
    let Some(dbs) = TestDbs::new().await else {
        return;
    };
    let store = dbs.store().await;
    let node = fixtures::node("garbled");
    store
        .commit(&[Write::create(Record::Node(node.clone()))])
        .await
        .unwrap();
    sqlx::query("UPDATE nodes SET body = '{\"not\": \"a node\"}'")
        .execute(store.pool())
        .await
        .unwrap();
    let key = RecordKey::Node { id: node.id };
    assert_eq!(
        store.get(&key).await.unwrap_err().code(),
        ErrorCode::CorruptRecord
    );
    let all = edgesync_core::store::ListQuery::all(edgesync_core::store::Collection::Nodes);
    assert_eq!(
        store.list(&all).await.unwrap_err().code(),
        ErrorCode::CorruptRecord
    );
    store.close().await;
    dbs.cleanup().await;
}

/// PostgreSQL cannot store NUL in TEXT or JSONB (CockroachDB can): such a record is refused as
/// invalid, and nothing is written.
#[tokio::test]
async fn nul_characters_are_invalid_requests() {
    let Some(dbs) = TestDbs::new().await else {
        return;
    };
    let store = dbs.store().await;
    let mut node = fixtures::node("nul");
    node.agent_version = "1.0\0evil".into();
    let other = fixtures::node("fine");
    let err = store
        .commit(&[
            Write::create(Record::Node(other.clone())),
            Write::create(Record::Node(node)),
        ])
        .await
        .unwrap_err();
    assert_eq!(err.code(), ErrorCode::InvalidRequest, "{err}");
    assert_eq!(
        store.get(&RecordKey::Node { id: other.id }).await.unwrap(),
        None
    );
    store.close().await;
    dbs.cleanup().await;
}
