-- Node presence in buckets (`Record::Presence`): when each node of a bucket was last seen and
-- the resources it reported, many nodes to a row, written behind heartbeats by a server that
-- runs alone. Replicas write each node's state instead (see `control/presence.rs`).

CREATE TABLE node_presence (
    bucket BIGINT NOT NULL,
    revision BIGINT NOT NULL CHECK (revision > 0),
    body JSONB NOT NULL,
    CONSTRAINT node_presence_pkey PRIMARY KEY (bucket)
);
