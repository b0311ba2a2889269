-- What funnels read (db/clickhouse/queries/funnels.py), apart from the events: page hits and custom events, a
-- few narrow columns each, ordered by (site, type, target, time) where `target` is a page hit's path and a
-- custom event's name. A funnel step is one key range here, so a month's report reads the rows of its steps'
-- pages and events, not the path of every page hit of the month and every granule holding one of them (what
-- reading `events`, in (site, time) order, costs). A projection cannot stand in for it: patch parts (the
-- lightweight UPDATEs that re-mark a bot's events) switch projections off.
--
-- Beside what matching needs (ids, time, bot flag, properties), the event columns with few values that views filter
-- on (country, browser, …), so a filtered report reads here too; a filter on another event column (fingerprint,
-- user id, status, path) reads `events`.
--
-- Kept by whoever writes events, as the rollups are (db/clickhouse/funnel_steps.py): the collector's sink, the
-- copy of `sitelens migrate` and the query bench insert a batch's rows here with their own deduplication token,
-- re-marking a session as a bot updates both tables, `forget` deletes from both, and raw-event retention sets the
-- same TTL on both (db/clickhouse/queries/retention.py).
--
-- Events stored before this version are copied in by `funnel_steps.backfill` right after this file
-- (db/clickhouse/migrate.py BACKFILLS). ReplacingMergeTree, ordered down to the event id: a row inserted twice
-- (two collectors migrating at once both run the backfill) is one row once parts merge, and reports count each
-- event id once before that.
CREATE TABLE IF NOT EXISTS funnel_steps (
    site        LowCardinality(String),
    type        LowCardinality(String),
    target      String,
    ts          Float64,
    id          Int64,
    session_id  Int64,
    visitor_id  String,
    is_bot      UInt8,
    props       String,
    country     LowCardinality(String),
    region      LowCardinality(String),
    city        LowCardinality(String),
    browser     LowCardinality(String),
    os          LowCardinality(String),
    os_version  LowCardinality(String),
    device      LowCardinality(String),
    screen      LowCardinality(String),
    bot_name    LowCardinality(String)
) ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(toDateTime(toUInt32(ts)))
ORDER BY (site, type, target, ts, id)
SETTINGS non_replicated_deduplication_window = 10000, enable_block_number_column = 1, enable_block_offset_column = 1;
