//! Records ↔ rows: key column values, the copied columns, and the JSONB body.
//!
//! The body (the record's own JSON, without the `Record` envelope) is the source of truth for
//! decoding. The other columns are copies for operators' SQL and for indexes; where a value
//! does not fit its column (a `u64` above `i64::MAX`, an instant before year 1) the copy is
//! clamped, never the body.

use edgesync_core::model::{NodeId, Timestamp};
use edgesync_core::store::{Kind, Record, RecordKey, Stored, UniqueIndex, telemetry_hour};
use edgesync_core::{Error, Result};
use serde::Serialize;
use serde_json::Value as Json;
use sqlx::Postgres;
use sqlx::postgres::{PgArguments, PgRow};
use sqlx::query::Query;
use sqlx::{AssertSqlSafe, Row, types::Uuid};
use time::OffsetDateTime;
use time::macros::datetime;

/// One bound SQL value.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Value {
    Uuid(Uuid),
    Int8(i64),
    Int4(i32),
    Float8(f64),
    Text(String),
    OptText(Option<String>),
    OptInt8(Option<i64>),
    Ts(OffsetDateTime),
    OptTs(Option<OffsetDateTime>),
    Json(Json),
}

impl Value {
    /// Binds this value as the query's next parameter.
    pub(crate) fn bind<'q>(
        &self,
        q: Query<'q, Postgres, PgArguments>,
    ) -> Query<'q, Postgres, PgArguments> {
        match self {
            Value::Uuid(v) => q.bind(*v),
            Value::Int8(v) => q.bind(*v),
            Value::Int4(v) => q.bind(*v),
            Value::Float8(v) => q.bind(*v),
            Value::Text(v) => q.bind(v.as_str()),
            Value::OptText(v) => q.bind(v.as_deref()),
            Value::OptInt8(v) => q.bind(*v),
            Value::Ts(v) => q.bind(*v),
            Value::OptTs(v) => q.bind(*v),
            Value::Json(v) => q.bind(v),
        }
    }

    /// About how many bytes this value takes in a `Bind` message, its length word included
    /// (JSON estimated from its text: escapes and number digits are not counted exactly).
    pub(crate) fn wire_len(&self) -> usize {
        4 + match self {
            Value::Uuid(_) => 16,
            Value::Int8(_) | Value::Float8(_) | Value::OptInt8(_) => 8,
            Value::Ts(_) | Value::OptTs(_) => 8,
            Value::Int4(_) => 4,
            Value::Text(v) => v.len(),
            Value::OptText(v) => v.as_ref().map_or(0, String::len),
            Value::Json(v) => 1 + json_len(v),
        }
    }
}

/// About the length of `v` as JSON text.
fn json_len(v: &Json) -> usize {
    match v {
        Json::Null | Json::Bool(_) => 5,
        Json::Number(_) => 20,
        Json::String(s) => s.len() + 2,
        Json::Array(items) => 2 + items.iter().map(|i| json_len(i) + 1).sum::<usize>(),
        Json::Object(fields) => {
            2 + fields
                .iter()
                .map(|(k, v)| k.len() + 4 + json_len(v))
                .sum::<usize>()
        }
    }
}

/// A statement with its parameters bound.
///
/// Every SQL text this crate builds consists of identifiers from `schema` and numbered
/// placeholders; values only ever travel as parameters, which is what makes `AssertSqlSafe` true.
pub(crate) fn statement<'v>(
    sql: &str,
    args: impl IntoIterator<Item = &'v Value>,
) -> Query<'static, Postgres, PgArguments> {
    args.into_iter()
        .fold(sqlx::query(AssertSqlSafe(sql.to_owned())), |q, v| v.bind(q))
}

/// The values of a key's columns, in key order; `None` for a key no row can have (a migration
/// version above `i64::MAX`, which `BIGINT` cannot hold).
pub(crate) fn key_values(key: &RecordKey) -> Option<Vec<Value>> {
    let uuid = |u: &Uuid| Value::Uuid(*u);
    Some(match key {
        RecordKey::Node { id } => vec![uuid(id.as_uuid())],
        RecordKey::NodeState { node_id } => vec![uuid(node_id.as_uuid())],
        RecordKey::Function { id } => vec![uuid(id.as_uuid())],
        RecordKey::FunctionVersion {
            function_id,
            version,
        } => vec![
            uuid(function_id.as_uuid()),
            Value::Int8(i64::from(*version)),
        ],
        RecordKey::Migration { version } => vec![Value::Int8(i64::try_from(*version).ok()?)],
        RecordKey::Deployment { id } => vec![uuid(id.as_uuid())],
        RecordKey::NodeDeployment {
            deployment_id,
            node_id,
        } => vec![uuid(deployment_id.as_uuid()), uuid(node_id.as_uuid())],
        RecordKey::Route { id } => vec![uuid(id.as_uuid())],
        RecordKey::SyncRecord { node_id, id } => {
            vec![uuid(node_id.as_uuid()), uuid(id.as_uuid())]
        }
        RecordKey::Telemetry {
            node_id,
            metric,
            ts_nanos,
            seq,
        } => vec![
            Value::Int8(telemetry_hour(*ts_nanos)),
            uuid(node_id.as_uuid()),
            Value::Text(metric.clone()),
            Value::Int8(*ts_nanos),
            Value::Int8(i64::from(*seq)),
        ],
        RecordKey::Command { node_id, id } => vec![uuid(node_id.as_uuid()), uuid(id.as_uuid())],
        RecordKey::ApiKey { id } => vec![uuid(id.as_uuid())],
        RecordKey::Setting { name } => vec![Value::Text(name.clone())],
        RecordKey::Presence { bucket } => vec![Value::Int8(i64::from(*bucket))],
    })
}

const MIN_TS: OffsetDateTime = datetime!(0001-01-01 0:00 UTC);
const MAX_TS: OffsetDateTime = datetime!(9999-12-31 23:59:59.999999 UTC);

fn ts(t: Timestamp) -> Value {
    Value::Ts(clamp_ts(t))
}

fn opt_ts(t: Option<Timestamp>) -> Value {
    Value::OptTs(t.map(clamp_ts))
}

fn clamp_ts(t: Timestamp) -> OffsetDateTime {
    t.as_offset_date_time().clamp(MIN_TS, MAX_TS)
}

/// Narrows a `u64` for a copied `BIGINT` column (saturating).
fn saturate(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

fn text(s: &str) -> Value {
    Value::Text(s.to_owned())
}

/// The snake_case name serde gives an enum variant.
fn variant<T: Serialize>(v: &T) -> Value {
    Value::Text(match serde_json::to_value(v) {
        Ok(Json::String(s)) => s,
        _ => String::new(),
    })
}

/// The values of the copied columns (`schema::Table::columns`, in that order).
pub(crate) fn columns(record: &Record) -> Vec<Value> {
    match record {
        Record::Node(n) => vec![
            text(&n.name),
            text(&n.pop),
            text(&n.region),
            variant(&n.lifecycle),
            text(&n.agent_version),
            ts(n.registered_at),
            ts(n.updated_at),
        ],
        Record::NodeState(s) => vec![text(s.status.as_str()), opt_ts(s.last_seen_at)],
        Record::Function(f) => vec![
            text(&f.name),
            Value::Int8(i64::from(f.latest_version)),
            ts(f.created_at),
            ts(f.updated_at),
        ],
        Record::FunctionVersion(v) => vec![
            variant(&v.status),
            Value::OptText(v.sha256.clone()),
            Value::OptInt8(v.size.map(saturate)),
            ts(v.created_at),
        ],
        Record::Migration(m) => vec![text(&m.name), text(&m.checksum), ts(m.created_at)],
        Record::Deployment(d) => vec![
            text(&d.name),
            Value::Uuid(*d.function_id.as_uuid()),
            Value::Int8(i64::from(d.version)),
            text(d.status.as_str()),
            Value::OptText(d.pop.clone()),
            Value::Int4(d.priority),
            ts(d.created_at),
            ts(d.updated_at),
        ],
        Record::NodeDeployment(d) => vec![
            text(d.state.as_str()),
            Value::Int8(i64::from(d.attempts)),
            ts(d.updated_at),
        ],
        Record::Route(r) => vec![
            Value::OptText(r.host.clone()),
            text(&r.path),
            Value::Uuid(*r.function_id.as_uuid()),
            ts(r.created_at),
            ts(r.updated_at),
        ],
        Record::SyncRecord(s) => vec![
            Value::Uuid(*s.plan_id.as_uuid()),
            text(&s.revision),
            text(s.status.as_str()),
            ts(s.planned_at),
            opt_ts(s.acked_at),
        ],
        Record::Telemetry(t) => vec![ts(t.ts), Value::Float8(t.value)],
        Record::Command(c) => vec![
            text(&c.kind),
            variant(&c.status),
            Value::OptText(c.idempotency_key.clone()),
            ts(c.created_at),
            ts(c.deadline),
        ],
        Record::ApiKey(k) => vec![
            text(&k.name),
            text(&k.secret_prefix),
            ts(k.created_at),
            opt_ts(k.expires_at),
            opt_ts(k.revoked_at),
        ],
        Record::Setting(_) | Record::Presence(_) => vec![],
    }
}

/// The JSONB body: the record's own JSON.
///
/// # Errors
/// `invalid_request` for a telemetry value that is not finite: JSON has no NaN or infinity, so
/// it would come back as `null` and fail to decode.
pub(crate) fn body(record: &Record) -> Result<Json> {
    if let Record::Telemetry(t) = record
        && !t.value.is_finite()
    {
        return Err(Error::invalid(format!(
            "telemetry value {} of metric {:?} is not a finite number",
            t.value, t.metric
        )));
    }
    let json = match record {
        Record::Node(v) => serde_json::to_value(v),
        Record::NodeState(v) => serde_json::to_value(v),
        Record::Function(v) => serde_json::to_value(v),
        Record::FunctionVersion(v) => serde_json::to_value(v),
        Record::Migration(v) => serde_json::to_value(v),
        Record::Deployment(v) => serde_json::to_value(v),
        Record::NodeDeployment(v) => serde_json::to_value(v),
        Record::Route(v) => serde_json::to_value(v),
        Record::SyncRecord(v) => serde_json::to_value(v),
        Record::Telemetry(v) => serde_json::to_value(v),
        Record::Command(v) => serde_json::to_value(v),
        Record::ApiKey(v) => serde_json::to_value(v),
        Record::Setting(v) => serde_json::to_value(v),
        Record::Presence(v) => serde_json::to_value(v),
    };
    json.map_err(|e| Error::invalid(format!("the record does not serialize: {e}")).with_source(e))
}

/// Decodes a `(revision, body)` row of `kind`'s table.
pub(crate) fn decode(kind: Kind, row: &PgRow) -> Result<Stored> {
    let what = || format!("{} row", kind.as_str());
    let revision: i64 = row.try_get(0).map_err(|e| Error::corrupt(what(), e))?;
    let body: Json = row.try_get(1).map_err(|e| Error::corrupt(what(), e))?;
    let revision = u64::try_from(revision)
        .map_err(|e| Error::corrupt(format!("{} (revision {revision})", what()), e))?;
    let record = record(kind, body).map_err(|e| Error::corrupt(what(), e))?;
    Ok(Stored { revision, record })
}

fn record(kind: Kind, body: Json) -> serde_json::Result<Record> {
    use serde_json::from_value as v;
    Ok(match kind {
        Kind::Node => Record::Node(v(body)?),
        Kind::NodeState => Record::NodeState(v(body)?),
        Kind::Function => Record::Function(v(body)?),
        Kind::FunctionVersion => Record::FunctionVersion(v(body)?),
        Kind::Migration => Record::Migration(v(body)?),
        Kind::Deployment => Record::Deployment(v(body)?),
        Kind::NodeDeployment => Record::NodeDeployment(v(body)?),
        Kind::Route => Record::Route(v(body)?),
        Kind::SyncRecord => Record::SyncRecord(v(body)?),
        Kind::Telemetry => Record::Telemetry(v(body)?),
        Kind::Command => Record::Command(v(body)?),
        Kind::ApiKey => Record::ApiKey(v(body)?),
        Kind::Setting => Record::Setting(v(body)?),
        Kind::Presence => Record::Presence(v(body)?),
    })
}

/// The lookup parameters of a unique value (see `schema::unique_lookup`); `None` when no record
/// can hold it (a command key that does not start with a node id).
pub(crate) fn unique_parts(index: UniqueIndex, value: &str) -> Option<Vec<Value>> {
    match index {
        UniqueIndex::NodeName | UniqueIndex::FunctionName => Some(vec![text(value)]),
        UniqueIndex::CommandIdempotencyKey => {
            let (spelled, key) = value.split_once('/')?;
            let node: NodeId = spelled.parse().ok()?;
            // `Record::unique_values` spells the id hyphenated, lowercase; no other spelling is
            // held by any record.
            (node.to_string() == spelled).then(|| vec![Value::Uuid(*node.as_uuid()), text(key)])
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use edgesync_core::testkit::fixtures;

    #[test]
    fn columns_match_the_layout() {
        for record in fixtures::one_of_each() {
            let table = crate::schema::table(record.kind());
            assert_eq!(
                columns(&record).len(),
                table.columns.len(),
                "{}",
                table.name
            );
            let key = key_values(&record.key()).expect("fixture keys fit");
            assert_eq!(key.len(), table.key.len(), "{}", table.name);
        }
    }

    #[test]
    fn out_of_range_values_are_clamped_in_copies_only() {
        assert_eq!(saturate(u64::MAX), i64::MAX);
        let ancient = Timestamp::from_unix_nanos(-70_000_000_000_000_000_000).expect("year -248");
        assert_eq!(ts(ancient), Value::Ts(MIN_TS));
        assert_eq!(
            key_values(&RecordKey::Migration { version: u64::MAX }),
            None
        );
    }

    #[test]
    fn non_finite_telemetry_is_refused() {
        let point = fixtures::one_of_each()
            .into_iter()
            .find_map(|r| match r {
                Record::Telemetry(t) => Some(t),
                _ => None,
            })
            .expect("a telemetry fixture");
        for value in [f64::NAN, f64::INFINITY] {
            let mut t = point.clone();
            t.value = value;
            let err = body(&Record::Telemetry(t)).unwrap_err();
            assert_eq!(err.code(), edgesync_core::ErrorCode::InvalidRequest);
        }
        assert!(body(&Record::Telemetry(point)).is_ok());
    }

    #[test]
    fn command_unique_values_split_into_node_and_key() {
        let node = NodeId::random();
        assert_eq!(
            unique_parts(UniqueIndex::CommandIdempotencyKey, &format!("{node}/a/b")),
            Some(vec![Value::Uuid(*node.as_uuid()), text("a/b")])
        );
        assert_eq!(
            unique_parts(UniqueIndex::CommandIdempotencyKey, "nonsense"),
            None
        );
        let simple = node.as_uuid().simple().to_string();
        assert_eq!(
            unique_parts(UniqueIndex::CommandIdempotencyKey, &format!("{simple}/k")),
            None
        );
    }
}
