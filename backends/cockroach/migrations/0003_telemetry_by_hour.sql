-- Telemetry keyed by the hour of the sample first (`RecordKey::Telemetry` sorts so from this
-- migration on): retention reads and deletes whole past hours, never the samples it keeps, and
-- a node's series is one key range within each hour.
--
-- `hour` is computed by the database (`floor` of a numeric division rounds down, like Rust's
-- `div_euclid`), so a replica of the previous version, which inserts without it, keeps working
-- during a rolling upgrade. The table is rebuilt rather than re-keyed in place: a new table can
-- be filled in the transaction that creates it on both CockroachDB and PostgreSQL.

CREATE TABLE telemetry_by_hour (
    hour BIGINT NOT NULL GENERATED ALWAYS AS (floor(ts_nanos / 3600000000000.0)::BIGINT) STORED,
    node_id UUID NOT NULL,
    metric TEXT NOT NULL,
    ts_nanos BIGINT NOT NULL,
    seq BIGINT NOT NULL,
    ts TIMESTAMPTZ NOT NULL,
    value DOUBLE PRECISION NOT NULL,
    revision BIGINT NOT NULL CHECK (revision > 0),
    body JSONB NOT NULL,
    CONSTRAINT telemetry_by_hour_pkey PRIMARY KEY (hour, node_id, metric, ts_nanos, seq)
);

INSERT INTO telemetry_by_hour (node_id, metric, ts_nanos, seq, ts, value, revision, body)
SELECT node_id, metric, ts_nanos, seq, ts, value, revision, body FROM telemetry;

DROP TABLE telemetry;
ALTER TABLE telemetry_by_hour RENAME TO telemetry;
CREATE INDEX telemetry_ts_idx ON telemetry (ts);
