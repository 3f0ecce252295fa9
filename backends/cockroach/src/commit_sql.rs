//! The text of a commit's statements. A commit touches rows of several tables (an ack: its
//! history record, the node's state, its per-deployment states); each of its two steps, delete
//! and insert, is one statement for all of them, with one data-modifying CTE per table, so a
//! commit costs four round trips (`BEGIN`, delete, insert, `COMMIT`) however many tables it
//! touches. Both PostgreSQL and CockroachDB run data-modifying statements in `WITH`.
//!
//! A statement is also kept under [`MAX_BYTES`] of parameters. sqlx 0.9.0 leaves Nagle's
//! algorithm on (it does not set `TCP_NODELAY`; launchbadge/sqlx#4335), and over TLS it writes a
//! message larger than one TLS record (16 KiB) in several writes: the last one then waits for
//! the server's delayed ACK, 40 ms on Linux. Several statements of at most one record each cost
//! a round trip apiece instead (about 0.1 ms on a LAN).

use crate::codec::Value;
use crate::schema::Table;

/// Bind parameters per statement, well under PostgreSQL's limit of 65,535.
pub(crate) const MAX_PARAMS: usize = 30_000;

/// Bytes of parameters per statement (estimated, see [`Value::wire_len`]): with the SQL text
/// and the protocol's framing, a message still fits one TLS record of 16 KiB.
pub(crate) const MAX_BYTES: usize = 12 * 1024;

/// One table's rows in a statement: the table and the indexes of the commit's writes.
pub(crate) type Part = (&'static Table, Vec<usize>);

/// Packs each table's rows, in the tables' order, into statements of at most [`MAX_PARAMS`]
/// parameters (`width` per row of a table) and [`MAX_BYTES`] bytes (`bytes` of write `i`'s
/// row). A row larger than that on its own gets a statement of its own.
pub(crate) fn pack(
    groups: Vec<Part>,
    width: impl Fn(&Table) -> usize,
    bytes: impl Fn(usize) -> usize,
) -> Vec<Vec<Part>> {
    let mut statements = Vec::new();
    let mut current: Vec<Part> = Vec::new();
    let (mut params, mut size) = (0, 0);
    for (table, rows) in groups {
        let per_row = width(table).max(1);
        let mut taken: Vec<usize> = Vec::new();
        for i in rows {
            let row = bytes(i);
            let empty = current.is_empty() && taken.is_empty();
            if !empty && (params + per_row > MAX_PARAMS || size + row > MAX_BYTES) {
                if !taken.is_empty() {
                    current.push((table, std::mem::take(&mut taken)));
                }
                statements.push(std::mem::take(&mut current));
                (params, size) = (0, 0);
            }
            taken.push(i);
            params += per_row;
            size += row;
        }
        if !taken.is_empty() {
            current.push((table, taken));
        }
    }
    if !current.is_empty() {
        statements.push(current);
    }
    statements
}

/// The key columns of `table`, comma-separated.
pub(crate) fn key_columns(table: &Table) -> String {
    table
        .key
        .iter()
        .map(|(name, _)| *name)
        .collect::<Vec<_>>()
        .join(", ")
}

/// `($n, $n+1), ($n+2, $n+3), …`: `rows` tuples of `width` placeholders from `$first`.
fn tuples(first: usize, width: usize, rows: usize) -> String {
    (0..rows)
        .map(|r| {
            let params: Vec<String> = (0..width)
                .map(|c| format!("${}", first + r * width + c))
                .collect();
            format!("({})", params.join(", "))
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// Widest key of the statement's tables: every branch of its `UNION ALL` has that many key
/// columns (padded with NULLs).
fn widest_key(parts: &[Part]) -> usize {
    parts.iter().map(|(t, _)| t.key.len()).max().unwrap_or(0)
}

/// Deletes the rows of `parts` and returns, for each deleted row, the index of its part, its
/// key columns as text (`k0`, `k1`, … padded with NULLs) and its revision.
pub(crate) fn delete_returning(parts: &[Part]) -> String {
    let width = widest_key(parts);
    let mut next = 1;
    let mut ctes = Vec::with_capacity(parts.len());
    let mut selects = Vec::with_capacity(parts.len());
    for (n, (table, rows)) in parts.iter().enumerate() {
        let keys: Vec<String> = (0..width)
            .map(|c| match table.key.get(c) {
                Some((name, _)) => format!("{name}::TEXT AS k{c}"),
                None => format!("NULL::TEXT AS k{c}"),
            })
            .collect();
        ctes.push(format!(
            "d{n} AS (DELETE FROM {} WHERE ({}) IN ({}) RETURNING {n}::INT8 AS part, {}, revision)",
            table.name,
            key_columns(table),
            tuples(next, table.key.len(), rows.len()),
            keys.join(", "),
        ));
        selects.push(format!("SELECT * FROM d{n}"));
        next += table.key.len() * rows.len();
    }
    format!("WITH {} {}", ctes.join(", "), selects.join(" UNION ALL "))
}

/// The columns a put writes, in bind order: key (less the computed columns), copied columns,
/// revision, body.
fn insert_columns(table: &Table) -> Vec<&'static str> {
    table.key[table.computed_key..]
        .iter()
        .map(|(name, _)| *name)
        .chain(table.columns.iter().copied())
        .chain(["revision", "body"])
        .collect()
}

/// Parameters per inserted row of `table`.
pub(crate) fn insert_width(table: &Table) -> usize {
    table.key.len() - table.computed_key + table.columns.len() + 2
}

/// Inserts the rows of `parts` and returns how many it inserted (one `BIGINT`).
pub(crate) fn insert_counting(parts: &[Part]) -> String {
    let mut next = 1;
    let mut ctes = Vec::with_capacity(parts.len());
    let mut counts = Vec::with_capacity(parts.len());
    for (n, (table, rows)) in parts.iter().enumerate() {
        let columns = insert_columns(table);
        ctes.push(format!(
            "i{n} AS (INSERT INTO {} ({}) VALUES {} RETURNING 1)",
            table.name,
            columns.join(", "),
            tuples(next, columns.len(), rows.len()),
        ));
        // Referencing every CTE makes both databases run it.
        counts.push(format!("(SELECT count(*) FROM i{n})"));
        next += columns.len() * rows.len();
    }
    format!("WITH {} SELECT {}", ctes.join(", "), counts.join(" + "))
}

/// A key's columns as the delete statement returns them (`::TEXT`), joined: how a returned row
/// is matched to its write.
pub(crate) fn key_text(values: &[Value]) -> String {
    values
        .iter()
        .map(|v| match v {
            Value::Uuid(u) => u.to_string(),
            Value::Int8(i) => i.to_string(),
            Value::Text(s) => s.clone(),
            other => format!("{other:?}"),
        })
        .collect::<Vec<_>>()
        .join("\u{0}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema;
    use edgesync_core::store::Kind;

    #[test]
    fn one_statement_deletes_from_every_table_and_numbers_its_parameters_through() {
        let parts = vec![
            (schema::table(Kind::NodeState), vec![0]),
            (schema::table(Kind::NodeDeployment), vec![1, 2]),
        ];
        assert_eq!(
            delete_returning(&parts),
            "WITH d0 AS (DELETE FROM node_states WHERE (node_id) IN (($1)) RETURNING 0::INT8 AS \
             part, node_id::TEXT AS k0, NULL::TEXT AS k1, revision), d1 AS (DELETE FROM \
             node_function_deployments WHERE (deployment_id, node_id) IN (($2, $3), ($4, $5)) RETURNING \
             1::INT8 AS part, deployment_id::TEXT AS k0, node_id::TEXT AS k1, revision) \
             SELECT * FROM d0 UNION ALL SELECT * FROM d1"
        );
    }

    #[test]
    fn one_statement_inserts_into_every_table_and_counts_the_rows() {
        let parts = vec![
            (schema::table(Kind::Setting), vec![0, 1]),
            (schema::table(Kind::NodeState), vec![2]),
        ];
        assert_eq!(
            insert_counting(&parts),
            "WITH i0 AS (INSERT INTO settings (name, revision, body) VALUES ($1, $2, $3), \
             ($4, $5, $6) RETURNING 1), i1 AS (INSERT INTO node_states (node_id, status, \
             last_seen_at, revision, body) VALUES ($7, $8, $9, $10, $11) RETURNING 1) \
             SELECT (SELECT count(*) FROM i0) + (SELECT count(*) FROM i1)"
        );
    }

    #[test]
    fn computed_key_columns_are_not_inserted() {
        let parts = vec![(schema::table(Kind::Telemetry), vec![0])];
        assert_eq!(
            insert_counting(&parts),
            "WITH i0 AS (INSERT INTO telemetry (node_id, metric, ts_nanos, seq, ts, value, \
             revision, body) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING 1) SELECT \
             (SELECT count(*) FROM i0)"
        );
        assert_eq!(insert_width(schema::table(Kind::Telemetry)), 8);
        assert!(delete_returning(&parts).contains("(hour, node_id, metric, ts_nanos, seq) IN"));
    }

    #[test]
    fn packing_keeps_every_statement_under_the_parameter_limit() {
        let big = (0..25_000).collect::<Vec<usize>>();
        let statements = pack(
            vec![
                (schema::table(Kind::NodeState), big.clone()),
                (schema::table(Kind::Setting), vec![25_000, 25_001]),
            ],
            |t| t.key.len(),
            |_| 0,
        );
        assert_eq!(
            statements.len(),
            1,
            "25,002 one-column keys fit one statement"
        );
        assert_eq!(statements[0].len(), 2, "one part per table");
        let statements = pack(
            vec![(schema::table(Kind::NodeDeployment), big)],
            |t| t.key.len(),
            |_| 0,
        );
        assert_eq!(statements.len(), 2);
        for s in &statements {
            let params: usize = s.iter().map(|(t, rows)| t.key.len() * rows.len()).sum();
            assert!(params <= MAX_PARAMS, "{params}");
        }
        let rows: usize = statements.iter().flatten().map(|(_, r)| r.len()).sum();
        assert_eq!(rows, 25_000);
    }

    #[test]
    fn packing_keeps_every_statement_within_one_tls_record() {
        // Rows of 5 KiB: two per statement; a row bigger than the limit goes alone.
        let sizes = [5_120, 5_120, 5_120, 20_000, 5_120];
        let statements = pack(
            vec![
                (schema::table(Kind::SyncRecord), vec![0, 1, 2]),
                (schema::table(Kind::NodeState), vec![3, 4]),
            ],
            |t| t.key.len(),
            |i| sizes[i],
        );
        let shapes: Vec<Vec<(&str, Vec<usize>)>> = statements
            .iter()
            .map(|s| s.iter().map(|(t, rows)| (t.name, rows.clone())).collect())
            .collect();
        assert_eq!(
            shapes,
            vec![
                vec![("sync_records", vec![0, 1])],
                vec![("sync_records", vec![2])],
                vec![("node_states", vec![3])],
                vec![("node_states", vec![4])],
            ]
        );
    }

    #[test]
    fn key_text_matches_what_the_database_prints() {
        let id = uuid::Uuid::parse_str("67e55044-10b1-426f-9247-bb680e5fe0c8").unwrap();
        assert_eq!(
            key_text(&[Value::Uuid(id), Value::Int8(-3), Value::Text("a b".into())]),
            "67e55044-10b1-426f-9247-bb680e5fe0c8\u{0}-3\u{0}a b"
        );
    }
}
