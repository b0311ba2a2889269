-- Rollups: aggregates kept current by the writer's flush hooks (db/rollups.py), so dashboards read a few thousand
-- rows instead of millions of events. Raw events may be deleted by retention; rollups stay.
-- Buckets are unix seconds of the UTC hour (grain 3600) or UTC day (grain 86400) a row covers: traffic is hourly,
-- pages and custom events are hourly and daily, the rest daily (their uneven span ends are cheap to read raw).
-- Sessions count in the bucket they started in; events in the bucket of their timestamp.

-- Totals per site, hour and bot flag (KPIs, growth over time, heatmap, site list).
CREATE TABLE rollup_traffic (
    site          TEXT    NOT NULL,
    hour          INTEGER NOT NULL,
    is_bot        INTEGER NOT NULL,
    hits          INTEGER NOT NULL DEFAULT 0,   -- events of any type
    pageviews     INTEGER NOT NULL DEFAULT 0,   -- pageview + request events
    events        INTEGER NOT NULL DEFAULT 0,   -- custom events
    sessions      INTEGER NOT NULL DEFAULT 0,
    visitors      INTEGER NOT NULL DEFAULT 0,   -- sessions that were their visitor's first of the day
    bounces       INTEGER NOT NULL DEFAULT 0,
    duration_ms   INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (site, hour, is_bot)
) WITHOUT ROWID;
CREATE INDEX rollup_traffic_hour ON rollup_traffic (hour);

-- Pages per bucket: views, visits (first view of the path in its session) and engagement sums.
CREATE TABLE rollup_pages (
    grain         INTEGER NOT NULL,
    site          TEXT    NOT NULL,
    bucket        INTEGER NOT NULL,
    is_bot        INTEGER NOT NULL,
    path          TEXT    NOT NULL,
    pageviews     INTEGER NOT NULL DEFAULT 0,
    visits        INTEGER NOT NULL DEFAULT 0,
    engagements   INTEGER NOT NULL DEFAULT 0,
    scroll_sum    INTEGER NOT NULL DEFAULT 0,
    engaged_ms    INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (grain, site, bucket, is_bot, path)
) WITHOUT ROWID;

-- Custom events per bucket: count and visits (first occurrence of the name in its session).
CREATE TABLE rollup_events (
    grain         INTEGER NOT NULL,
    site          TEXT    NOT NULL,
    bucket        INTEGER NOT NULL,
    is_bot        INTEGER NOT NULL,
    name          TEXT    NOT NULL,
    count         INTEGER NOT NULL DEFAULT 0,
    visits        INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (grain, site, bucket, is_bot, name)
) WITHOUT ROWID;

-- Session attributes per UTC day (sources, UTM, entry/exit pages, countries, browsers, OS, devices, screens,
-- bot names). Daily only (grain is always 86400): the uneven ends of a span are read from the sessions table,
-- which holds about one row per six events, so hourly rows (most of the rollups' size) would buy little.
CREATE TABLE rollup_dims (
    grain         INTEGER NOT NULL,
    site          TEXT    NOT NULL,
    dim           TEXT    NOT NULL,
    bucket        INTEGER NOT NULL,
    is_bot        INTEGER NOT NULL,
    value         TEXT    NOT NULL,
    sessions      INTEGER NOT NULL DEFAULT 0,
    visitors      INTEGER NOT NULL DEFAULT 0,
    hits          INTEGER NOT NULL DEFAULT 0,   -- pageviews + requests of those sessions
    events        INTEGER NOT NULL DEFAULT 0,   -- custom events of those sessions
    PRIMARY KEY (grain, site, dim, bucket, is_bot, value)
) WITHOUT ROWID;

-- Custom event properties per UTC day: how often each distinct props object was sent with an event name.
-- The props text is kept as sent, so breakdowns run the same json_each() over it as over raw events.
CREATE TABLE rollup_props (
    site          TEXT    NOT NULL,
    name          TEXT    NOT NULL,
    day           INTEGER NOT NULL,
    is_bot        INTEGER NOT NULL,
    props         TEXT    NOT NULL,
    count         INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (site, name, day, is_bot, props)
) WITHOUT ROWID;

-- Server-side API requests per UTC day and endpoint as a latency histogram (log-spaced buckets, see
-- db/rollups.py latency_bucket), for p50/p95/p99 and error rates over long spans.
CREATE TABLE rollup_latency (
    site          TEXT    NOT NULL,
    day           INTEGER NOT NULL,
    method        TEXT    NOT NULL,
    path          TEXT    NOT NULL,
    ms_bucket     INTEGER NOT NULL,
    count         INTEGER NOT NULL DEFAULT 0,
    errors        INTEGER NOT NULL DEFAULT 0,   -- status >= 500
    PRIMARY KEY (site, day, method, path, ms_bucket)
) WITHOUT ROWID;

-- Failed logins (auth events with success = 0) per UTC day and source: the IP when stored, else the fingerprint,
-- else the country, else 'unknown' (db/rollups.py login_source).
CREATE TABLE rollup_auth (
    site          TEXT    NOT NULL,
    day           INTEGER NOT NULL,
    source        TEXT    NOT NULL,
    failures      INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (site, day, source)
) WITHOUT ROWID;

-- External API calls per UTC day and service as a latency histogram, with their cost in billionths of a dollar
-- (integers add up exactly in any order).
CREATE TABLE rollup_external (
    site          TEXT    NOT NULL,
    day           INTEGER NOT NULL,
    service       TEXT    NOT NULL,
    ms_bucket     INTEGER NOT NULL,
    calls         INTEGER NOT NULL DEFAULT 0,
    cost_nusd     INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (site, day, service, ms_bucket)
) WITHOUT ROWID;

-- How far the event rollups got (last rolled-up event id), so any writer's rows are rolled up exactly once.
CREATE TABLE rollup_state (
    name          TEXT PRIMARY KEY,
    value         INTEGER NOT NULL
);
INSERT INTO rollup_state (name, value) VALUES ('events', 0);

-- Sessions written since the last roll-up, with their state before the first change (NULL site: new session).
-- Filled by the triggers below whoever writes the session; drained by the session roll-up in the same flush.
CREATE TABLE rollup_pending_sessions (
    id            INTEGER PRIMARY KEY,
    site          TEXT,
    started       REAL,
    last_seen     REAL,
    is_bot        INTEGER,
    new_visitor   INTEGER,
    pageviews     INTEGER,
    requests      INTEGER,
    events        INTEGER,
    entry_path    TEXT,
    exit_path     TEXT,
    referrer      TEXT,
    ref_source    TEXT,
    ref_medium    TEXT,
    utm_source    TEXT,
    utm_medium    TEXT,
    utm_campaign  TEXT,
    country       TEXT,
    browser       TEXT,
    os            TEXT,
    device        TEXT,
    screen        TEXT,
    bot_name      TEXT
);
INSERT INTO rollup_pending_sessions (id) SELECT id FROM sessions;

-- (NOT EXISTS rather than OR IGNORE: inside a trigger the outer upsert's conflict policy would win.)
CREATE TRIGGER rollup_session_inserted AFTER INSERT ON sessions
WHEN NOT EXISTS (SELECT 1 FROM rollup_pending_sessions WHERE id = NEW.id) BEGIN
    INSERT INTO rollup_pending_sessions (id) VALUES (NEW.id);
END;

CREATE TRIGGER rollup_session_updated AFTER UPDATE ON sessions
WHEN NOT EXISTS (SELECT 1 FROM rollup_pending_sessions WHERE id = OLD.id) BEGIN
    INSERT INTO rollup_pending_sessions VALUES (
        OLD.id, OLD.site, OLD.started, OLD.last_seen, OLD.is_bot, OLD.new_visitor, OLD.pageviews, OLD.requests,
        OLD.events, OLD.entry_path, OLD.exit_path, OLD.referrer, OLD.ref_source, OLD.ref_medium, OLD.utm_source,
        OLD.utm_medium, OLD.utm_campaign, OLD.country, OLD.browser, OLD.os, OLD.device, OLD.screen, OLD.bot_name
    );
END;

-- Indexes the statistics need on raw data. Partial, so they cost space only on the events they serve.
-- Custom events by name, covering what funnels read (funnel event steps, event:NAME anomaly metrics, Events view).
CREATE INDEX events_custom ON events (name, ts, site, is_bot, visitor_id, session_id) WHERE type = 'event';
-- Server-side events by type (Server/API view, error-rate and latency anomaly metrics).
CREATE INDEX events_server ON events (type, ts) WHERE type IN ('api_request', 'auth', 'external_call');
-- Human page hits by path, covering what funnel page steps read: a funnel over a month is an index range scan
-- per step, not a table lookup per hit. Bots' hits are left out: funnels are about people.
CREATE INDEX events_pages ON events (path, ts, site, visitor_id, session_id)
WHERE type IN ('pageview', 'request') AND is_bot = 0;
-- The Bots view lists fingerprints worst first: walk this instead of sorting every fingerprint.
CREATE INDEX fingerprints_worst ON fingerprints (max_score, requests);
