-- Fingerprint reputation kept per fingerprint (db/clickhouse/queries/bots.py `top_fingerprints`), so the Bots
-- view's worst fingerprints read a few thousand rows instead of every fingerprint's news. Three tables, each filled
-- by a materialized view as rows arrive (every writer — the collector's sink, `sitelens migrate`, the query bench —
-- inserts into the source tables, and a retried insert that deduplicates in the source adds nothing here):
-- - `fingerprint_reputation`: the aggregate of each fingerprint's `fingerprint_news` rows, folded as
--   db/clickhouse/queries/throttle.py REPUTATION_SQL folds them (a level-change-only row counts no news, sets
--   no seen time, User-Agent or flags: its first seen is +inf); `touched` is the newest news row of any kind, for the retention TTL;
-- - `fingerprint_scores`: each (score, fingerprint) a news row (not a level change alone) carried, with the
--   newest time it was seen, ordered by score: the fingerprints scoring at least some floor are a range of it;
-- - `fingerprint_signals`: the bot signals of each fingerprint's latest session (by last seen, then version).
-- The reputation and signals tables have small granules (32 rows): they are read by fingerprint, a few thousand
-- scattered ones at a time. Erasure deletes a fingerprint's rows from all three (and re-adds the signals of its
-- sessions left); retention sets their TTL with the source tables' (db/clickhouse/queries/retention.py).
-- Rows stored before this version are added by `reputation.rebuild` right after this file (db/clickhouse/migrate.py
-- BACKFILLS), each table's insert with a deduplication token, so a second collector migrating at once adds nothing
-- (the window deduplicates only those: the views' own inserts are never deduplicated there).
CREATE TABLE IF NOT EXISTS fingerprint_reputation (
    fingerprint String,
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
SETTINGS index_granularity = 32, non_replicated_deduplication_window = 100;
CREATE MATERIALIZED VIEW IF NOT EXISTS fingerprint_reputation_mv TO fingerprint_reputation AS
SELECT fingerprint, max(seen) AS touched, if(countIf(NOT level_only) > 0, minIf(seen, NOT level_only), inf) AS first_seen,
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
CREATE TABLE IF NOT EXISTS fingerprint_scores (
    score       Int32,
    fingerprint String,
    seen        Float64
) ENGINE = ReplacingMergeTree(seen)
ORDER BY (score, fingerprint)
SETTINGS non_replicated_deduplication_window = 100;
CREATE MATERIALIZED VIEW IF NOT EXISTS fingerprint_scores_mv TO fingerprint_scores AS
SELECT score, fingerprint, max(seen) AS seen FROM fingerprint_news
WHERE NOT (new_sessions = 0 AND requests = 0 AND score = 0 AND ua = '' AND bot_name = '' AND flags = '[]')
GROUP BY score, fingerprint;
CREATE TABLE IF NOT EXISTS fingerprint_signals (
    fingerprint String,
    last_seen   SimpleAggregateFunction(max, Float64),
    signals     AggregateFunction(argMax, String, Tuple(Float64, UInt64))
) ENGINE = AggregatingMergeTree
ORDER BY fingerprint
SETTINGS index_granularity = 32, non_replicated_deduplication_window = 100;
CREATE MATERIALIZED VIEW IF NOT EXISTS fingerprint_signals_mv TO fingerprint_signals AS
SELECT fingerprint, max(seen) AS last_seen, argMaxState(bot_signals, (seen, version)) AS signals
FROM (SELECT fingerprint, last_seen AS seen, version, bot_signals FROM sessions) GROUP BY fingerprint;
