-- Rollups: hourly and daily aggregates kept current by the writer's flush hooks (db/rollups.py), so dashboards
-- read a few thousand rows instead of millions of events. Raw events may be deleted by retention; rollups stay.
-- Buckets are unix seconds of the UTC hour (grain 3600) or UTC day (grain 86400) a row covers.
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

-- Session attributes per bucket (sources, UTM, entry/exit pages, countries, browsers, OS, devices, screens).
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
    PRIMARY KEY (grain, site, dim, bucket, is_bot, value)
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
    screen        TEXT
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
        OLD.utm_medium, OLD.utm_campaign, OLD.country, OLD.browser, OLD.os, OLD.device, OLD.screen
    );
END;

-- Indexes the statistics need on raw data: custom events by name, server-side events by type.
CREATE INDEX events_custom ON events (site, name, ts) WHERE type = 'event';
CREATE INDEX events_server ON events (site, type, ts) WHERE type IN ('api_request', 'auth', 'external_call');
