-- EdgeSync's tables: one per record kind, named by `Kind::as_str()`.
--
-- Every table has the record's key as its primary key (composite where the key is), a
-- `revision` that the store bumps on every write, the queryable fields as real columns, and the
-- whole record as `body` (JSONB), which is what the store decodes. The other columns are copies
-- kept for operators' SQL and for indexes; they are rewritten with every write.
--
-- Kept to SQL that both CockroachDB and PostgreSQL accept: explicit INT4/BIGINT (no SERIAL),
-- UUID, TEXT, JSONB, TIMESTAMPTZ, DOUBLE PRECISION; no triggers, no foreign keys (records may be
-- written in any order within a commit, and a parent may be deleted before its children, as the
-- Store contract allows). TEXT key columns are compared with COLLATE "C" in queries, which is
-- CockroachDB's only (bytewise) order; columns keep the database's default collation because
-- CockroachDB cannot declare a "C" column.

CREATE TABLE nodes (
    id UUID NOT NULL,
    name TEXT NOT NULL,
    pop TEXT NOT NULL,
    region TEXT NOT NULL,
    lifecycle TEXT NOT NULL,
    agent_version TEXT NOT NULL,
    registered_at TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL,
    revision BIGINT NOT NULL CHECK (revision > 0),
    body JSONB NOT NULL,
    CONSTRAINT nodes_pkey PRIMARY KEY (id),
    CONSTRAINT nodes_name_key UNIQUE (name)
);
CREATE INDEX nodes_pop_idx ON nodes (pop);

CREATE TABLE node_states (
    node_id UUID NOT NULL,
    status TEXT NOT NULL,
    last_seen_at TIMESTAMPTZ,
    revision BIGINT NOT NULL CHECK (revision > 0),
    body JSONB NOT NULL,
    CONSTRAINT node_states_pkey PRIMARY KEY (node_id)
);
CREATE INDEX node_states_status_idx ON node_states (status);

CREATE TABLE functions (
    id UUID NOT NULL,
    name TEXT NOT NULL,
    latest_version BIGINT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL,
    revision BIGINT NOT NULL CHECK (revision > 0),
    body JSONB NOT NULL,
    CONSTRAINT functions_pkey PRIMARY KEY (id),
    CONSTRAINT functions_name_key UNIQUE (name)
);

CREATE TABLE function_versions (
    function_id UUID NOT NULL,
    version BIGINT NOT NULL,
    status TEXT NOT NULL,
    sha256 TEXT,
    size BIGINT,
    created_at TIMESTAMPTZ NOT NULL,
    revision BIGINT NOT NULL CHECK (revision > 0),
    body JSONB NOT NULL,
    CONSTRAINT function_versions_pkey PRIMARY KEY (function_id, version)
);
CREATE INDEX function_versions_sha256_idx ON function_versions (sha256);

-- The edge nodes' local schema migrations (not this database's: those are in _sqlx_migrations).
CREATE TABLE schema_migrations (
    version BIGINT NOT NULL,
    name TEXT NOT NULL,
    checksum TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    revision BIGINT NOT NULL CHECK (revision > 0),
    body JSONB NOT NULL,
    CONSTRAINT schema_migrations_pkey PRIMARY KEY (version)
);

CREATE TABLE deployments (
    id UUID NOT NULL,
    name TEXT NOT NULL,
    function_id UUID NOT NULL,
    version BIGINT NOT NULL,
    status TEXT NOT NULL,
    pop TEXT,
    priority INT4 NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL,
    revision BIGINT NOT NULL CHECK (revision > 0),
    body JSONB NOT NULL,
    CONSTRAINT deployments_pkey PRIMARY KEY (id)
);
CREATE INDEX deployments_function_idx ON deployments (function_id, version);
CREATE INDEX deployments_status_idx ON deployments (status);

CREATE TABLE node_function_deployments (
    deployment_id UUID NOT NULL,
    node_id UUID NOT NULL,
    state TEXT NOT NULL,
    attempts BIGINT NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL,
    revision BIGINT NOT NULL CHECK (revision > 0),
    body JSONB NOT NULL,
    CONSTRAINT node_function_deployments_pkey PRIMARY KEY (deployment_id, node_id)
);
CREATE INDEX node_function_deployments_node_idx ON node_function_deployments (node_id);

CREATE TABLE routes (
    id UUID NOT NULL,
    host TEXT,
    path TEXT NOT NULL,
    function_id UUID NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL,
    revision BIGINT NOT NULL CHECK (revision > 0),
    body JSONB NOT NULL,
    CONSTRAINT routes_pkey PRIMARY KEY (id)
);
CREATE INDEX routes_function_idx ON routes (function_id);

-- `target_revision` is the record's `revision` field (the desired-state revision the plan
-- targeted); `revision` is the store's row revision, as in every table.
CREATE TABLE sync_records (
    node_id UUID NOT NULL,
    id UUID NOT NULL,
    plan_id UUID NOT NULL,
    target_revision TEXT NOT NULL,
    status TEXT NOT NULL,
    planned_at TIMESTAMPTZ NOT NULL,
    acked_at TIMESTAMPTZ,
    revision BIGINT NOT NULL CHECK (revision > 0),
    body JSONB NOT NULL,
    CONSTRAINT sync_records_pkey PRIMARY KEY (node_id, id)
);
CREATE INDEX sync_records_plan_idx ON sync_records (plan_id);

-- `ts_nanos` (Unix nanoseconds) and `seq` are the key; `ts` is the same instant for humans.
CREATE TABLE telemetry (
    node_id UUID NOT NULL,
    metric TEXT NOT NULL,
    ts_nanos BIGINT NOT NULL,
    seq BIGINT NOT NULL,
    ts TIMESTAMPTZ NOT NULL,
    value DOUBLE PRECISION NOT NULL,
    revision BIGINT NOT NULL CHECK (revision > 0),
    body JSONB NOT NULL,
    CONSTRAINT telemetry_pkey PRIMARY KEY (node_id, metric, ts_nanos, seq)
);
CREATE INDEX telemetry_ts_idx ON telemetry (ts);

-- A plain UNIQUE constraint on (node_id, idempotency_key) lets any number of commands have no
-- key: NULLs are distinct on both databases.
CREATE TABLE commands (
    node_id UUID NOT NULL,
    id UUID NOT NULL,
    kind TEXT NOT NULL,
    status TEXT NOT NULL,
    idempotency_key TEXT,
    created_at TIMESTAMPTZ NOT NULL,
    deadline TIMESTAMPTZ NOT NULL,
    revision BIGINT NOT NULL CHECK (revision > 0),
    body JSONB NOT NULL,
    CONSTRAINT commands_pkey PRIMARY KEY (node_id, id),
    CONSTRAINT commands_idempotency_key UNIQUE (node_id, idempotency_key)
);
CREATE INDEX commands_status_idx ON commands (status);

CREATE TABLE api_keys (
    id UUID NOT NULL,
    name TEXT NOT NULL,
    secret_prefix TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    expires_at TIMESTAMPTZ,
    revoked_at TIMESTAMPTZ,
    revision BIGINT NOT NULL CHECK (revision > 0),
    body JSONB NOT NULL,
    CONSTRAINT api_keys_pkey PRIMARY KEY (id)
);

CREATE TABLE settings (
    name TEXT NOT NULL,
    revision BIGINT NOT NULL CHECK (revision > 0),
    body JSONB NOT NULL,
    CONSTRAINT settings_pkey PRIMARY KEY (name)
);
