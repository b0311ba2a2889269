-- SiteLens baseline schema (version 1). Later changes go in migrations/NNNN_name.sql, applied in order.
-- Times are unix seconds (REAL, server clock). Strings from the outside world are stored as given (after PII
-- redaction) and only ever bound as parameters.

-- One row per event: tracker pageviews/engagement/custom events, pixel hits, imported log hits, server-side events.
CREATE TABLE events (
    id            INTEGER PRIMARY KEY,
    ts            REAL    NOT NULL,
    site          TEXT    NOT NULL,
    type          TEXT    NOT NULL,            -- pageview | engagement | event | request | api_request | auth | external_call
    session_id    INTEGER NOT NULL DEFAULT 0,
    visitor_id    TEXT    NOT NULL DEFAULT '',
    fingerprint   TEXT    NOT NULL DEFAULT '',
    path          TEXT    NOT NULL DEFAULT '',
    title         TEXT    NOT NULL DEFAULT '',
    referrer      TEXT    NOT NULL DEFAULT '',  -- redacted host + path of an external referrer
    ref_source    TEXT    NOT NULL DEFAULT '',
    ref_medium    TEXT    NOT NULL DEFAULT '',
    utm_source    TEXT    NOT NULL DEFAULT '',
    utm_medium    TEXT    NOT NULL DEFAULT '',
    utm_campaign  TEXT    NOT NULL DEFAULT '',
    name          TEXT    NOT NULL DEFAULT '',  -- custom event name / auth action / external service
    props         TEXT    NOT NULL DEFAULT '',  -- JSON object of string values ('' when none)
    engaged_ms    INTEGER NOT NULL DEFAULT 0,
    scroll        INTEGER NOT NULL DEFAULT 0,
    browser       TEXT    NOT NULL DEFAULT '',
    browser_version TEXT  NOT NULL DEFAULT '',
    os            TEXT    NOT NULL DEFAULT '',
    device        TEXT    NOT NULL DEFAULT '',
    country       TEXT    NOT NULL DEFAULT '',
    region        TEXT    NOT NULL DEFAULT '',
    city          TEXT    NOT NULL DEFAULT '',
    screen        TEXT    NOT NULL DEFAULT '',
    is_bot        INTEGER NOT NULL DEFAULT 0,
    bot_name      TEXT    NOT NULL DEFAULT '',
    method        TEXT    NOT NULL DEFAULT '',  -- server-side / imported requests
    status        INTEGER NOT NULL DEFAULT 0,
    latency_ms    REAL    NOT NULL DEFAULT 0,
    bytes         INTEGER NOT NULL DEFAULT 0,
    cost_usd      REAL    NOT NULL DEFAULT 0,
    user_id       TEXT    NOT NULL DEFAULT '',
    success       INTEGER NOT NULL DEFAULT 1,
    ip            TEXT    NOT NULL DEFAULT ''   -- only when privacy.store_ip is on
);
CREATE INDEX events_site_ts ON events (site, ts);
CREATE INDEX events_ts ON events (ts);
CREATE INDEX events_session ON events (session_id);

-- One row per session, upserted by the writer as the session grows.
CREATE TABLE sessions (
    id            INTEGER PRIMARY KEY,
    site          TEXT    NOT NULL,
    visitor_id    TEXT    NOT NULL,
    fingerprint   TEXT    NOT NULL DEFAULT '',
    started       REAL    NOT NULL,
    last_seen     REAL    NOT NULL,
    new_visitor   INTEGER NOT NULL DEFAULT 1,   -- first session of this visitor id (ids are day-scoped)
    pageviews     INTEGER NOT NULL DEFAULT 0,
    events        INTEGER NOT NULL DEFAULT 0,
    requests      INTEGER NOT NULL DEFAULT 0,
    entry_path    TEXT    NOT NULL DEFAULT '',
    exit_path     TEXT    NOT NULL DEFAULT '',
    engaged_ms    INTEGER NOT NULL DEFAULT 0,
    max_scroll    INTEGER NOT NULL DEFAULT 0,
    browser       TEXT    NOT NULL DEFAULT '',
    browser_version TEXT  NOT NULL DEFAULT '',
    os            TEXT    NOT NULL DEFAULT '',
    device        TEXT    NOT NULL DEFAULT '',
    country       TEXT    NOT NULL DEFAULT '',
    region        TEXT    NOT NULL DEFAULT '',
    city          TEXT    NOT NULL DEFAULT '',
    referrer      TEXT    NOT NULL DEFAULT '',
    ref_source    TEXT    NOT NULL DEFAULT '',
    ref_medium    TEXT    NOT NULL DEFAULT '',
    utm_source    TEXT    NOT NULL DEFAULT '',
    utm_medium    TEXT    NOT NULL DEFAULT '',
    utm_campaign  TEXT    NOT NULL DEFAULT '',
    screen        TEXT    NOT NULL DEFAULT '',
    ua            TEXT    NOT NULL DEFAULT '',
    bot_score     INTEGER NOT NULL DEFAULT 0,
    bot_signals   TEXT    NOT NULL DEFAULT '[]', -- JSON [{"name","weight","value"}]
    is_bot        INTEGER NOT NULL DEFAULT 0,
    bot_name      TEXT    NOT NULL DEFAULT '',
    bot_reasons   TEXT    NOT NULL DEFAULT '',   -- request-level reasons, comma separated
    throttle_level TEXT   NOT NULL DEFAULT 'normal',
    ip            TEXT    NOT NULL DEFAULT ''
);
CREATE INDEX sessions_site_started ON sessions (site, started);
CREATE INDEX sessions_last_seen ON sessions (last_seen);
CREATE INDEX sessions_fingerprint ON sessions (fingerprint);

-- Reputation per fingerprint (keyed hash of IP + User-Agent).
CREATE TABLE fingerprints (
    fingerprint   TEXT PRIMARY KEY,
    first_seen    REAL    NOT NULL,
    last_seen     REAL    NOT NULL,
    sessions      INTEGER NOT NULL DEFAULT 0,
    requests      INTEGER NOT NULL DEFAULT 0,
    max_score     INTEGER NOT NULL DEFAULT 0,
    flags         TEXT    NOT NULL DEFAULT '[]',
    level         TEXT    NOT NULL DEFAULT 'normal',
    ua            TEXT    NOT NULL DEFAULT '',
    bot_name      TEXT    NOT NULL DEFAULT ''
);

-- Manual throttle overrides, written by the TUI or the CLI, read by the collector every second.
CREATE TABLE throttle_overrides (
    id            INTEGER PRIMARY KEY,
    kind          TEXT    NOT NULL,             -- fingerprint | ip | cidr
    target        TEXT    NOT NULL,
    level         TEXT    NOT NULL,             -- normal | warning | severe | blocked
    reason        TEXT    NOT NULL DEFAULT '',
    created       REAL    NOT NULL,
    expires       REAL,
    cleared       REAL
);

-- Requests refused by the throttle, per minute, level and reason.
CREATE TABLE throttle_drops (
    bucket        INTEGER NOT NULL,
    level         TEXT    NOT NULL,
    reason        TEXT    NOT NULL,
    count         INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (bucket, level, reason)
) WITHOUT ROWID;

-- Secret daily salts for visitor ids; yesterday's is kept so a visit survives midnight.
CREATE TABLE salts (
    day           TEXT PRIMARY KEY,
    salt          BLOB NOT NULL
);

-- Small key/value settings (generated admin token, scheduled-export cursors, ...).
CREATE TABLE settings (
    key           TEXT PRIMARY KEY,
    value         TEXT NOT NULL
);

-- Anomaly rules added from the TUI (rules from the config file are not copied here).
CREATE TABLE anomaly_rules (
    id            INTEGER PRIMARY KEY,
    name          TEXT    NOT NULL DEFAULT '',
    metric        TEXT    NOT NULL,
    window_s      INTEGER NOT NULL DEFAULT 300,
    warning       REAL,
    critical      REAL,
    site          TEXT    NOT NULL DEFAULT '',
    enabled       INTEGER NOT NULL DEFAULT 1
);

-- Open (ended IS NULL) and past anomalies.
CREATE TABLE anomalies (
    id            INTEGER PRIMARY KEY,
    kind          TEXT    NOT NULL,             -- threshold | trend
    rule          TEXT    NOT NULL DEFAULT '',
    metric        TEXT    NOT NULL,
    site          TEXT    NOT NULL DEFAULT '',
    level         TEXT    NOT NULL,             -- warning | critical
    observed      REAL    NOT NULL,
    expected      REAL    NOT NULL,
    started       REAL    NOT NULL,
    ended         REAL,
    details       TEXT    NOT NULL DEFAULT ''
);
CREATE INDEX anomalies_started ON anomalies (started);

-- Funnels created from the TUI (steps as JSON: [{"kind": "path"|"event", "match": "...", "props": {...}}]).
CREATE TABLE funnels (
    id            INTEGER PRIMARY KEY,
    name          TEXT    NOT NULL UNIQUE,
    site          TEXT    NOT NULL DEFAULT '',
    steps         TEXT    NOT NULL,
    window_s      INTEGER NOT NULL DEFAULT 1800,
    created       REAL    NOT NULL,
    updated       REAL    NOT NULL
);
