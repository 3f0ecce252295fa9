//! A database written before telemetry keys led with the hour opens with its telemetry intact.

use edgesync_core::model::{NodeId, TelemetryPoint, Timestamp};
use edgesync_core::store::{Collection, Record, Store, StoreExt, telemetry_hour};
use edgesync_sled::SledStore;

/// The key a sample had before: kind tag, node, metric (NUL-terminated), time, sequence.
fn node_first_key(p: &TelemetryPoint) -> Vec<u8> {
    // The kind's tag, the first byte of every encoding, is unchanged.
    let mut key = vec![Record::Telemetry(p.clone()).key().encode()[0]];
    key.extend_from_slice(p.node_id.as_uuid().as_bytes());
    key.extend_from_slice(p.metric.as_bytes());
    key.push(0);
    let nanos = i64::try_from(p.ts.unix_nanos()).unwrap();
    key.extend_from_slice(&((nanos as u64) ^ (1 << 63)).to_be_bytes());
    key.extend_from_slice(&p.seq.to_be_bytes());
    key
}

/// A stored value: format 1, the revision, the record's JSON (`codec.rs`).
fn value(revision: u64, p: &TelemetryPoint) -> Vec<u8> {
    let mut v = vec![1];
    v.extend_from_slice(&revision.to_be_bytes());
    v.extend(serde_json::to_vec(&Record::Telemetry(p.clone())).unwrap());
    v
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn node_first_telemetry_is_rekeyed_by_hour_on_open() {
    let dir = tempfile::tempdir().unwrap();
    let start = Timestamp::from_unix_millis(1_767_225_600_000);
    let nodes = [NodeId::random(), NodeId::random()];
    // More than one batch of the upgrade (1,000), over three hours.
    let points: Vec<TelemetryPoint> = (0..2_500u64)
        .map(|i| TelemetryPoint {
            node_id: nodes[(i % 2) as usize],
            metric: if i % 3 == 0 { "cpu" } else { "mem" }.into(),
            ts: start.plus(std::time::Duration::from_secs(i * 4)),
            seq: 0,
            value: i as f64,
            labels: Default::default(),
        })
        .collect();
    {
        let db = sled::open(dir.path()).unwrap();
        let old = db.open_tree("telemetry").unwrap();
        for (i, p) in points.iter().enumerate() {
            old.insert(node_first_key(p), value(1 + i as u64 % 2, p))
                .unwrap();
        }
        db.flush().unwrap();
    }

    let store = SledStore::open(dir.path()).unwrap();
    let all = store.list_all(Collection::ALL_TELEMETRY).await.unwrap();
    assert_eq!(all.len(), points.len());
    let hours: Vec<i64> = all
        .iter()
        .map(|s| match &s.record {
            Record::Telemetry(p) => telemetry_hour(i64::try_from(p.ts.unix_nanos()).unwrap()),
            other => panic!("unexpected {other:?}"),
        })
        .collect();
    assert!(
        hours.windows(2).all(|w| w[0] <= w[1]),
        "listed hour by hour"
    );
    assert_eq!(
        hours.first(),
        Some(&telemetry_hour(1_767_225_600_000_000_000))
    );
    assert_eq!(hours.last().map(|h| h - hours[0]), Some(2));
    // Revisions and bodies moved unchanged, under the keys the records have now.
    for (i, p) in points.iter().enumerate() {
        let key = Record::Telemetry(p.clone()).key();
        let stored = store.get(&key).await.unwrap().expect("moved");
        assert_eq!(stored.revision, 1 + i as u64 % 2);
        assert_eq!(stored.record, Record::Telemetry(p.clone()));
    }
    drop(store);

    let db = sled::open(dir.path()).unwrap();
    assert!(
        !db.tree_names().iter().any(|n| n.as_ref() == b"telemetry"),
        "the node-first tree is gone"
    );
}
