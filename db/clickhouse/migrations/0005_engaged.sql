-- The engaged histogram (db/clickhouse/engaged.py), as SQLite's `rollup_engaged`: page views that sent engagement
-- reports, per site, bot flag, path, UTC hour (grain 3600) and day (grain 86400) of the view's page hit and
-- engaged-time bucket (db/rules.py engaged_bucket), so a long span's engagement medians read its hours and days
-- here and only its uneven ends raw. Signed counts in a SummingMergeTree:
-- the writer takes a view out of its old bucket and puts it in its new one when a report changes its total, and
-- moves a session's views when it is re-marked as a bot. Rows stored before this version are counted by
-- `engaged.rebuild` right after this file (db/clickhouse/migrate.py BACKFILLS).
CREATE TABLE IF NOT EXISTS rollup_engaged (
    site      LowCardinality(String),
    is_bot    UInt8,
    path      String,
    grain     UInt32,
    bucket    Int64,
    ms_bucket UInt16,
    views     Int64
) ENGINE = SummingMergeTree(views)
PARTITION BY toYYYYMM(toDateTime(bucket))
ORDER BY (site, is_bot, path, grain, bucket, ms_bucket)
SETTINGS non_replicated_deduplication_window = 10000;
