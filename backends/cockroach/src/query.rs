//! Reads: one record by key or by unique value, pages of a collection in key order.
//!
//! Each read is a single statement, so it sees one consistent snapshot of committed data: a
//! listing never shows a commit half-applied.

use std::cmp::Ordering;

use edgesync_core::store::{
    Collection, Kind, ListQuery, Order, Page, RecordKey, Stored, UniqueIndex,
};
use edgesync_core::{Error, Result};
use sqlx::PgPool;

use crate::codec::{self, Value};
use crate::errors::Failure;
use crate::retry::Retrier;
use crate::schema::{self, KeyType, Table};

/// `k1 = $n AND k2 = $n+1 …` for a table's key, placeholders numbered from `first`.
pub(crate) fn key_equals(table: &Table, first: usize) -> String {
    table
        .key
        .iter()
        .enumerate()
        .map(|(i, (name, _))| format!("{name} = ${}", first + i))
        .collect::<Vec<_>>()
        .join(" AND ")
}

/// Reads one record.
pub(crate) async fn get(
    pool: &PgPool,
    retrier: &Retrier,
    key: &RecordKey,
) -> Result<Option<Stored>> {
    let Some(args) = codec::key_values(key) else {
        return Ok(None);
    };
    let kind = key.kind();
    let table = schema::table(kind);
    let sql = format!(
        "SELECT revision, body FROM {} WHERE {}",
        table.name,
        key_equals(table, 1)
    );
    let stored = fetch_optional(pool, retrier, "get", kind, &sql, &args).await?;
    if let Some(s) = &stored
        && s.record.key() != *key
    {
        return Err(Error::corrupt(
            format!("{} row {key:?}", table.name),
            format!("its body holds the record {:?}", s.record.key()),
        ));
    }
    Ok(stored)
}

/// Reads the holder of a unique value.
pub(crate) async fn get_unique(
    pool: &PgPool,
    retrier: &Retrier,
    index: UniqueIndex,
    value: &str,
) -> Result<Option<Stored>> {
    let Some(args) = codec::unique_parts(index, value) else {
        return Ok(None);
    };
    let sql = schema::unique_lookup(index);
    fetch_optional(pool, retrier, "get_unique", index.kind(), sql, &args).await
}

async fn fetch_optional(
    pool: &PgPool,
    retrier: &Retrier,
    what: &'static str,
    kind: Kind,
    sql: &str,
    args: &[Value],
) -> Result<Option<Stored>> {
    let row = retrier
        .run(what, || async {
            codec::statement(sql, args)
                .fetch_optional(pool)
                .await
                .map_err(Failure::from)
        })
        .await?;
    row.map(|r| codec::decode(kind, &r)).transpose()
}

/// Lists a page.
pub(crate) async fn list(pool: &PgPool, retrier: &Retrier, query: &ListQuery) -> Result<Page> {
    let Some((sql, args)) = list_sql(query) else {
        return Ok(Page::default());
    };
    let kind = query.collection.kind();
    let rows = retrier
        .run("list", || async {
            codec::statement(&sql, &args)
                .fetch_all(pool)
                .await
                .map_err(Failure::from)
        })
        .await?;
    let items = rows
        .iter()
        .map(|r| codec::decode(kind, r))
        .collect::<Result<Vec<_>>>()?;
    let next = if items.len() == query.clamped_limit() {
        items.last().map(|s| s.record.key())
    } else {
        None
    };
    Ok(Page { items, next })
}

/// The SQL and parameters of a page; `None` when the cursor leaves nothing to list.
fn list_sql(query: &ListQuery) -> Option<(String, Vec<Value>)> {
    let kind = query.collection.kind();
    let table = schema::table(kind);
    let mut sql = format!("SELECT revision, body FROM {} WHERE TRUE", table.name);
    let mut args = Vec::new();
    let mut filter = |sql: &mut String, column: &str, value: Value| {
        args.push(value);
        sql.push_str(&format!(" AND {column} = ${}", args.len()));
    };
    match &query.collection {
        Collection::FunctionVersions {
            function_id: Some(id),
        } => filter(&mut sql, "function_id", Value::Uuid(*id.as_uuid())),
        Collection::NodeDeployments {
            deployment_id: Some(id),
        } => filter(&mut sql, "deployment_id", Value::Uuid(*id.as_uuid())),
        Collection::SyncRecords { node_id: Some(id) }
        | Collection::Commands { node_id: Some(id) } => {
            filter(&mut sql, "node_id", Value::Uuid(*id.as_uuid()))
        }
        // Like `Collection::key_prefix`, a node narrows only within an hour, a metric only
        // together with a node.
        Collection::Telemetry {
            hour: Some(hour),
            node_id,
            metric,
        } => {
            filter(&mut sql, "hour", Value::Int8(*hour));
            if let Some(id) = node_id {
                filter(&mut sql, "node_id", Value::Uuid(*id.as_uuid()));
                if let Some(m) = metric {
                    filter(&mut sql, "metric", Value::Text(m.clone()));
                }
            }
        }
        _ => {}
    }

    let descending = query.order == Order::Descending;
    if let Some(after) = &query.after {
        // Keys of an earlier kind sort before every key of this one, of a later kind after; a
        // migration cursor above `i64::MAX` lies after every migration a row can hold.
        let cursor = match after.kind().cmp(&kind) {
            Ordering::Less => Cursor::BeforeAll,
            Ordering::Greater => Cursor::AfterAll,
            Ordering::Equal => codec::key_values(after).map_or(Cursor::AfterAll, Cursor::At),
        };
        match cursor {
            Cursor::At(values) => {
                let placeholders: Vec<String> = table
                    .key
                    .iter()
                    .enumerate()
                    .map(|(i, (_, ty))| {
                        let n = args.len() + i + 1;
                        match ty {
                            KeyType::Text => format!("${n} COLLATE \"C\""),
                            _ => format!("${n}"),
                        }
                    })
                    .collect();
                args.extend(values);
                sql.push_str(&format!(
                    " AND ({}) {} ({})",
                    schema::ordered_key(table).join(", "),
                    if descending { "<" } else { ">" },
                    placeholders.join(", ")
                ));
            }
            Cursor::BeforeAll if descending => return None,
            Cursor::AfterAll if !descending => return None,
            Cursor::BeforeAll | Cursor::AfterAll => {}
        }
    }

    let direction = if descending { " DESC" } else { "" };
    let order: Vec<String> = schema::ordered_key(table)
        .into_iter()
        .map(|c| c + direction)
        .collect();
    args.push(Value::Int8(
        i64::try_from(query.clamped_limit()).unwrap_or(i64::MAX),
    ));
    sql.push_str(&format!(
        " ORDER BY {} LIMIT ${}",
        order.join(", "),
        args.len()
    ));
    Some((sql, args))
}

/// Where a page's cursor lies relative to a collection's table.
enum Cursor {
    BeforeAll,
    At(Vec<Value>),
    AfterAll,
}

/// `SELECT 1`, once: readiness should answer quickly rather than retry.
pub(crate) async fn check(pool: &PgPool) -> Result<()> {
    match sqlx::query("SELECT 1").execute(pool).await {
        Ok(_) => Ok(()),
        Err(e) => Err(match Failure::from(e) {
            Failure::Retry(e) => Error::store_unavailable(e),
            Failure::Final(e) => e,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use edgesync_core::model::NodeId;

    fn q(collection: Collection, after: Option<RecordKey>, order: Order) -> ListQuery {
        ListQuery {
            collection,
            after,
            limit: 10,
            order,
        }
    }

    #[test]
    fn telemetry_pages_compare_text_bytewise() {
        let node = NodeId::random();
        let after = RecordKey::Telemetry {
            node_id: node,
            metric: "cpu".into(),
            ts_nanos: 5,
            seq: 1,
        };
        let (sql, args) = list_sql(&q(
            Collection::Telemetry {
                hour: Some(0),
                node_id: Some(node),
                metric: Some("cpu".into()),
            },
            Some(after),
            Order::Descending,
        ))
        .unwrap();
        assert_eq!(
            sql,
            "SELECT revision, body FROM telemetry WHERE TRUE AND hour = $1 AND node_id = $2 \
             AND metric = $3 AND (hour, node_id, metric COLLATE \"C\", ts_nanos, seq) \
             < ($4, $5, $6 COLLATE \"C\", $7, $8) ORDER BY hour DESC, node_id DESC, \
             metric COLLATE \"C\" DESC, ts_nanos DESC, seq DESC LIMIT $9"
        );
        assert_eq!(args.len(), 9);
    }

    #[test]
    fn a_node_or_metric_narrows_only_within_an_hour() {
        let (sql, _) = list_sql(&q(
            Collection::Telemetry {
                hour: None,
                node_id: Some(NodeId::random()),
                metric: Some("cpu".into()),
            },
            None,
            Order::Ascending,
        ))
        .unwrap();
        assert!(!sql.contains("node_id ="), "{sql}");
        assert!(!sql.contains("metric ="), "{sql}");
        let (sql, _) = list_sql(&q(
            Collection::Telemetry {
                hour: Some(7),
                node_id: None,
                metric: Some("cpu".into()),
            },
            None,
            Order::Ascending,
        ))
        .unwrap();
        assert!(sql.contains("hour = $1"), "{sql}");
        assert!(!sql.contains("metric ="), "{sql}");
    }

    #[test]
    fn cursors_of_other_kinds_bound_the_listing() {
        let versions = Collection::FunctionVersions { function_id: None };
        let earlier = RecordKey::Node {
            id: NodeId::random(),
        };
        let later = RecordKey::Route {
            id: edgesync_core::model::RouteId::random(),
        };
        assert!(
            list_sql(&q(
                versions.clone(),
                Some(earlier.clone()),
                Order::Ascending
            ))
            .is_some()
        );
        assert!(list_sql(&q(versions.clone(), Some(earlier), Order::Descending)).is_none());
        assert!(list_sql(&q(versions.clone(), Some(later.clone()), Order::Ascending)).is_none());
        let (sql, _) = list_sql(&q(versions, Some(later), Order::Descending)).unwrap();
        assert!(!sql.contains(" < "), "{sql}");
        let huge = RecordKey::Migration { version: u64::MAX };
        assert!(
            list_sql(&q(
                Collection::Migrations,
                Some(huge.clone()),
                Order::Ascending
            ))
            .is_none()
        );
        assert!(list_sql(&q(Collection::Migrations, Some(huge), Order::Descending)).is_some());
    }
}
