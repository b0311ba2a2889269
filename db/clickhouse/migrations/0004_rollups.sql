-- Rollups (db/clickhouse/rollups.py): hourly (grain 3600) and daily (grain 86400) sums per page, custom event and
-- props object, and per hour the sessions started in it (count, first visits of the day, bounces, duration), so
-- long spans read a few thousand sums instead of a month of raw events and sessions. Signed counts in a
-- SummingMergeTree: every writer adds the sums of the rows it inserts (a new session version: its sums less the
-- previous version's), and re-marking a session's events as a bot's adds their sums again, negative for humans
-- and positive for bots (a materialized view would see neither the previous version nor that lightweight UPDATE).
-- Rows whose sums reach zero disappear when parts merge. No TTL: as on SQLite, rollups are anonymous and outlive
-- raw-row retention and erasure. Rows stored before this version are rolled up by `rollups.rebuild` right after
-- this file (db/clickhouse/migrate.py BACKFILLS).
CREATE TABLE IF NOT EXISTS rollup_events (
    site        LowCardinality(String),
    grain       UInt32,
    bucket      Int64,
    is_bot      UInt8,
    kind        LowCardinality(String),
    key         String,
    props       String,
    hits        Int64,
    visits      Int64,
    scroll      Int64,
    engaged_ms  Int64,
    bounces     Int64,
    duration_ms Int64
) ENGINE = SummingMergeTree((hits, visits, scroll, engaged_ms, bounces, duration_ms))
PARTITION BY toYYYYMM(toDateTime(bucket))
ORDER BY (site, kind, grain, bucket, is_bot, key, props)
SETTINGS non_replicated_deduplication_window = 10000;
