-- SiteLens on ClickHouse, schema version 1. Later changes go in NNNN_name.sql files beside this one, applied in order.
-- Times are unix seconds (Float64, as on SQLite, so both engines answer with the same numbers). Statements end with
-- a semicolon at the end of a line.
--
-- Raw rows are MergeTree tables ordered by (site, time) and partitioned by month. Raw-event retention is a TTL that
-- the collector sets from its configuration when it starts (db/clickhouse/retention.py): none here, so data
-- loaded by other tools (imports, migrations, tests) is never dropped before a collector says how long to keep it.
-- Dimensions with few values are LowCardinality.
-- Rows that change (sessions, control rows) are ReplacingMergeTree tables read with FINAL: every change inserts a
-- whole new row version and the newest version wins. Sessions use ReplacingMergeTree rather than
-- VersionedCollapsingMergeTree because a collector only ever knows a session's newest snapshot: collapsing would
-- need the previous row written again as a cancel row, which costs memory and breaks when a snapshot is retried.
-- Events and sessions allow lightweight UPDATE (block number and offset columns): when a session turns out to be
-- a bot, its stored events are re-marked as SQLite re-marks them (ClickHouse 25.7 and newer; older servers get a
-- mutation instead, db/clickhouse/writer.py).

CREATE TABLE IF NOT EXISTS events (
    id              Int64,
    ts              Float64,
    site            LowCardinality(String),
    type            LowCardinality(String),
    session_id      Int64,
    visitor_id      String,
    fingerprint     String,
    path            String,
    title           String,
    referrer        String,
    ref_source      LowCardinality(String),
    ref_medium      LowCardinality(String),
    utm_source      String,
    utm_medium      LowCardinality(String),
    utm_campaign    String,
    name            LowCardinality(String),
    props           String,
    engaged_ms      Int64,
    scroll          Int32,
    browser         LowCardinality(String),
    browser_version LowCardinality(String),
    os              LowCardinality(String),
    device          LowCardinality(String),
    country         LowCardinality(String),
    region          LowCardinality(String),
    city            LowCardinality(String),
    screen          LowCardinality(String),
    is_bot          UInt8,
    bot_name        LowCardinality(String),
    method          LowCardinality(String),
    status          Int32,
    latency_ms      Float64,
    bytes           Int64,
    cost_usd        Float64,
    user_id         String,
    success         UInt8,
    ip              String
) ENGINE = MergeTree
PARTITION BY toYYYYMM(toDateTime(toUInt32(ts)))
ORDER BY (site, ts)
SETTINGS non_replicated_deduplication_window = 10000, enable_block_number_column = 1, enable_block_offset_column = 1;

CREATE TABLE IF NOT EXISTS sessions (
    id              Int64,
    site            LowCardinality(String),
    visitor_id      String,
    fingerprint     String,
    started         Float64,
    last_seen       Float64,
    new_visitor     UInt8,
    pageviews       Int64,
    events          Int64,
    requests        Int64,
    entry_path      String,
    exit_path       String,
    engaged_ms      Int64,
    max_scroll      Int32,
    browser         LowCardinality(String),
    browser_version LowCardinality(String),
    os              LowCardinality(String),
    device          LowCardinality(String),
    country         LowCardinality(String),
    region          LowCardinality(String),
    city            LowCardinality(String),
    referrer        String,
    ref_source      LowCardinality(String),
    ref_medium      LowCardinality(String),
    utm_source      String,
    utm_medium      LowCardinality(String),
    utm_campaign    String,
    screen          LowCardinality(String),
    ua              String,
    bot_score       Int32,
    bot_signals     String,
    is_bot          UInt8,
    bot_name        LowCardinality(String),
    bot_reasons     String,
    throttle_level  LowCardinality(String),
    ip              String,
    version         UInt64
) ENGINE = ReplacingMergeTree(version)
PARTITION BY toYYYYMM(toDateTime(toUInt32(started)))
ORDER BY (site, started, id)
SETTINGS non_replicated_deduplication_window = 10000, enable_block_number_column = 1, enable_block_offset_column = 1;

-- What each flush learned about a fingerprint; the reputation is their aggregate (db/clickhouse/queries).
CREATE TABLE IF NOT EXISTS fingerprint_news (
    fingerprint     String,
    seen            Float64,
    new_sessions    Int64,
    requests        Int64,
    score           Int32,
    level           LowCardinality(String),
    ua              String,
    bot_name        LowCardinality(String),
    flags           String
) ENGINE = MergeTree
PARTITION BY toYYYYMM(toDateTime(toUInt32(seen)))
ORDER BY (fingerprint, seen)
SETTINGS non_replicated_deduplication_window = 10000;

CREATE TABLE IF NOT EXISTS throttle_drops (
    bucket          Int64,
    level           LowCardinality(String),
    reason          LowCardinality(String),
    count           Int64
) ENGINE = SummingMergeTree(count)
ORDER BY (bucket, level, reason)
SETTINGS non_replicated_deduplication_window = 10000;

CREATE TABLE IF NOT EXISTS throttle_overrides (
    id              Int64,
    kind            LowCardinality(String),
    target          String,
    level           LowCardinality(String),
    reason          String,
    created         Float64,
    expires         Nullable(Float64),
    cleared         Nullable(Float64),
    version         UInt64
) ENGINE = ReplacingMergeTree(version)
ORDER BY id;

-- Daily salts: the first candidate inserted for a day wins (its version is the highest: 2^62 minus its time).
CREATE TABLE IF NOT EXISTS salts (
    day             String,
    salt            String,
    version         UInt64
) ENGINE = ReplacingMergeTree(version)
ORDER BY day;

-- Settings: an explicit set (version 2^62 + time) beats any "set if absent" candidate (2^62 minus time, the
-- earliest winning), so every collector ends up with the same generated value.
CREATE TABLE IF NOT EXISTS settings (
    key             String,
    value           String,
    version         UInt64
) ENGINE = ReplacingMergeTree(version)
ORDER BY key;

CREATE TABLE IF NOT EXISTS anomaly_rules (
    id              Int64,
    name            String,
    metric          String,
    window_s        Int64,
    warning         Nullable(Float64),
    critical        Nullable(Float64),
    site            String,
    enabled         UInt8,
    deleted         UInt8,
    version         UInt64
) ENGINE = ReplacingMergeTree(version)
ORDER BY id;

CREATE TABLE IF NOT EXISTS anomalies (
    id              Int64,
    kind            LowCardinality(String),
    rule            String,
    metric          String,
    site            String,
    level           LowCardinality(String),
    observed        Float64,
    expected        Float64,
    started         Float64,
    ended           Nullable(Float64),
    details         String,
    version         UInt64
) ENGINE = ReplacingMergeTree(version)
ORDER BY id;

CREATE TABLE IF NOT EXISTS funnels (
    name            String,
    site            String,
    steps           String,
    window_s        Int64,
    created         Float64,
    updated         Float64,
    deleted         UInt8,
    version         UInt64
) ENGINE = ReplacingMergeTree(version)
ORDER BY name;

CREATE TABLE IF NOT EXISTS ingest_tokens (
    id              Int64,
    site            String,
    token_hash      String,
    label           String,
    created         Float64,
    revoked         Nullable(Float64),
    version         UInt64
) ENGINE = ReplacingMergeTree(version)
ORDER BY id;

CREATE TABLE IF NOT EXISTS import_files (
    id              Int64,
    device          Int64,
    inode           Int64,
    head_hash       String,
    path            String,
    offset          Int64,
    lines           Int64,
    updated         Float64,
    version         UInt64
) ENGINE = ReplacingMergeTree(version)
ORDER BY id;
