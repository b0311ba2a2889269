-- Scheduled exports on ClickHouse (SQLite's migration 0003): the runs and deliveries of the export ledger, and when
-- the server took each event, which is what a run's range is cut by (db/clickhouse/export_runs.py). Event ids
-- cannot serve, as they do on SQLite: they follow the event's own time, so a batch spooled during an outage, or
-- flushed late by another collector, arrives with ids below a cursor already passed.
--
-- `inserted` is the server's clock at the insert. Rows stored before this migration get the epoch's first
-- microsecond (the first run exports them): the column is added with that default, written into every existing
-- part, and only then given now64() as its default, so re-running a statement never moves an existing row. The
-- minmax index lets a run's range skip the parts written long before it.
ALTER TABLE events ADD COLUMN IF NOT EXISTS inserted DateTime64(6, 'UTC') DEFAULT fromUnixTimestamp64Micro(toInt64(1), 'UTC');
ALTER TABLE events MATERIALIZE COLUMN inserted SETTINGS mutations_sync = 2;
ALTER TABLE events MODIFY COLUMN inserted DateTime64(6, 'UTC') DEFAULT now64(6, 'UTC');
ALTER TABLE events ADD INDEX IF NOT EXISTS events_inserted inserted TYPE minmax GRANULARITY 1;

-- A run is keyed by where it starts (after_id): collectors that plan at once each insert a candidate, the
-- earliest wins (version 2^62 minus its time, db/clickhouse/queries/settings.py) and the others stand back;
-- later changes to the winner (size, state) are versions 2^62 plus their time. The destinations are part of the
-- run, so a delivery with no row of its own yet is pending.
CREATE TABLE IF NOT EXISTS export_runs (
    id              String,
    created         Float64,
    after_id        Int64,
    upto_id         Int64,
    format          LowCardinality(String),
    destinations    Array(String),
    state           LowCardinality(String),
    rows            Int64,
    bytes           Int64,
    first_ts        Nullable(Float64),
    last_ts         Nullable(Float64),
    finished        Nullable(Float64),
    version         UInt64
) ENGINE = ReplacingMergeTree(version)
ORDER BY after_id;

-- One row per change of a delivery; the newest wins. `owner` names the process that claimed it.
CREATE TABLE IF NOT EXISTS export_deliveries (
    run_id          String,
    destination     String,
    state           LowCardinality(String),
    attempts        Int64,
    next_try        Float64,
    lease_until     Float64,
    error           String,
    updated         Float64,
    owner           String,
    version         UInt64
) ENGINE = ReplacingMergeTree(version)
ORDER BY (run_id, destination);
