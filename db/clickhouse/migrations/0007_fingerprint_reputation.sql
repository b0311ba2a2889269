-- Fingerprint reputation kept per fingerprint (db/clickhouse/rank.py), so the Bots view's worst fingerprints read a
-- few hundred rows in rank order instead of folding every fingerprint's news. Three tables:
-- - `fingerprint_reputation`: the aggregate of each fingerprint's `fingerprint_news` rows, filled by a materialized
--   view as they arrive (a retried insert that deduplicates in `fingerprint_news` adds nothing here), folded as
--   SQLite's upsert folds them (a level-change-only row counts no news and sets no seen time, User-Agent or flags:
--   its first seen is +inf); `folded` counts the news rows of every kind, `touched` is the newest of them;
-- - `fingerprint_ranks`: after each insert of news the writer stores the folded reputation of the fingerprints it
--   wrote (read back from `fingerprint_reputation`, so it holds every collector's news inserted before), ordered by
--   rank (max score, requests); a fingerprint's newest row is its first in descending order (db/clickhouse/rank.py);
-- - `fingerprint_signals`: the bot signals of each fingerprint's latest session (by last seen, then version), filled
--   by a materialized view over `sessions`.
-- Small granules (32 rows) and compressed blocks (1-8 KiB) for the two read by fingerprint, a few hundred
-- scattered ones at a time: with the default 64 KiB blocks such a read decompresses nearly the whole table.
-- Erasure deletes a fingerprint's rows from all three (and adds back the signals of its sessions left); retention
-- gives them a TTL with the source tables' (db/clickhouse/queries/retention.py). Rows stored before this version are
-- added by `rank.rebuild` right after this file (db/clickhouse/migrate.py BACKFILLS), each insert with a
-- deduplication token, so a second collector migrating at once adds nothing (the view's own inserts are never
-- deduplicated there).
CREATE TABLE IF NOT EXISTS fingerprint_reputation (
    fingerprint String,
    folded      SimpleAggregateFunction(sum, UInt64),
    touched     SimpleAggregateFunction(max, Float64),
    first_seen  SimpleAggregateFunction(min, Float64),
    last_seen   SimpleAggregateFunction(max, Float64),
    news        SimpleAggregateFunction(sum, Int64),
    sessions    SimpleAggregateFunction(sum, Int64),
    requests    SimpleAggregateFunction(sum, Int64),
    max_score   SimpleAggregateFunction(max, Int32),
    flags       AggregateFunction(argMax, String, Float64),
    level       AggregateFunction(argMax, String, Tuple(Float64, UInt8)),
    ua          AggregateFunction(argMax, String, Float64),
    bot_name    AggregateFunction(argMax, String, Float64)
) ENGINE = AggregatingMergeTree
ORDER BY fingerprint
SETTINGS index_granularity = 32, min_compress_block_size = 1024, max_compress_block_size = 8192,
    non_replicated_deduplication_window = 100;
CREATE MATERIALIZED VIEW IF NOT EXISTS fingerprint_reputation_mv TO fingerprint_reputation AS
SELECT fingerprint, count() AS folded, max(seen) AS touched,
    if(countIf(NOT level_only) > 0, minIf(seen, NOT level_only), inf) AS first_seen,
    maxIf(seen, NOT level_only) AS last_seen, toInt64(countIf(NOT level_only)) AS news,
    sum(new_sessions) AS sessions, sum(requests) AS requests, max(score) AS max_score,
    argMaxStateIf(flags, seen, flags != '[]') AS flags,
    argMaxState(toString(level), (seen, toUInt8(level_only))) AS level,
    argMaxStateIf(ua, seen, NOT level_only) AS ua,
    argMaxStateIf(toString(bot_name), seen, bot_name != '') AS bot_name
FROM (
    SELECT *, (new_sessions = 0 AND requests = 0 AND score = 0 AND ua = '' AND bot_name = '' AND flags = '[]')
        AS level_only
    FROM fingerprint_news
)
GROUP BY fingerprint;
CREATE TABLE IF NOT EXISTS fingerprint_ranks (
    max_score   Int32,
    requests    Int64,
    fingerprint String,
    folded      UInt64,
    first_seen  Float64,
    last_seen   Float64,
    sessions    Int64,
    flags       String,
    level       LowCardinality(String),
    ua          String,
    bot_name    LowCardinality(String),
    touched     Float64
) ENGINE = ReplacingMergeTree
ORDER BY (max_score, requests, fingerprint, folded)
SETTINGS non_replicated_deduplication_window = 100;
CREATE TABLE IF NOT EXISTS fingerprint_signals (
    fingerprint String,
    last_seen   SimpleAggregateFunction(max, Float64),
    signals     AggregateFunction(argMax, String, Tuple(Float64, UInt64))
) ENGINE = AggregatingMergeTree
ORDER BY fingerprint
SETTINGS index_granularity = 32, min_compress_block_size = 1024, max_compress_block_size = 8192,
    non_replicated_deduplication_window = 100;
CREATE MATERIALIZED VIEW IF NOT EXISTS fingerprint_signals_mv TO fingerprint_signals AS
SELECT fingerprint, max(seen) AS last_seen, argMaxState(bot_signals, (seen, version)) AS signals
FROM (SELECT fingerprint, last_seen AS seen, version, bot_signals FROM sessions) GROUP BY fingerprint;
