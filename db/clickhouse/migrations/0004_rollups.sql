-- Rollups (db/clickhouse/rollups.py): hourly (grain 3600) and daily (grain 86400) sums per page, custom event and
-- props object, so long spans read a few thousand sums instead of a month of raw events. Signed counts in a
-- SummingMergeTree: every writer of events adds its rows' sums, and re-marking a session as a bot adds the sums of
-- its human events again, negative for humans and positive for bots (a materialized view would not see that
-- lightweight UPDATE). Rows whose sums reach zero disappear when parts merge. No TTL: as on SQLite, rollups are
-- anonymous and outlive raw-row retention. The rows of events stored before this version are added by
-- `rollups.rebuild` right after this file (db/clickhouse/migrate.py BACKFILLS).
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
    engaged_ms  Int64
) ENGINE = SummingMergeTree((hits, visits, scroll, engaged_ms))
PARTITION BY (grain, toYYYYMM(toDateTime(bucket)))
ORDER BY (site, grain, bucket, kind, is_bot, key, props)
SETTINGS non_replicated_deduplication_window = 10000;
