-- Scheduled export: one row per planned run (an event id range) and one per destination that must confirm it.
-- The export cursor (last event id handed to a run) lives in settings under 'export_cursor', written in the same
-- transaction that inserts the run, so a restart can neither skip nor repeat rows.
CREATE TABLE export_runs (
    id            TEXT PRIMARY KEY,            -- run id, part of every object name
    created       REAL    NOT NULL,
    after_id      INTEGER NOT NULL,            -- events with after_id < id <= upto_id
    upto_id       INTEGER NOT NULL,
    format        TEXT    NOT NULL,            -- csv | ndjson | parquet
    state         TEXT    NOT NULL DEFAULT 'pending',  -- pending | done
    rows          INTEGER NOT NULL DEFAULT 0,
    bytes         INTEGER NOT NULL DEFAULT 0,
    first_ts      REAL,
    last_ts       REAL,
    finished      REAL
);
CREATE INDEX export_runs_state ON export_runs (state, created);

CREATE TABLE export_deliveries (
    run_id        TEXT    NOT NULL REFERENCES export_runs (id),
    destination   TEXT    NOT NULL,
    state         TEXT    NOT NULL DEFAULT 'pending',  -- pending | running | done | failed | dropped
    attempts      INTEGER NOT NULL DEFAULT 0,
    next_try      REAL    NOT NULL DEFAULT 0,
    lease_until   REAL    NOT NULL DEFAULT 0,
    error         TEXT    NOT NULL DEFAULT '',
    updated       REAL    NOT NULL DEFAULT 0,
    PRIMARY KEY (run_id, destination)
) WITHOUT ROWID;
