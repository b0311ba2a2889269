-- Daily rollups for the Requests view and for engagement medians over long spans (db/sqlite/rollups.py).

-- Imported access-log hits (type 'request') per site, UTC day, bot flag, status code and path: hits and bytes
-- sent. The status codes, 404 and bandwidth panels read whole days here and only the uneven ends of a span raw.
CREATE TABLE rollup_requests (
    site          TEXT    NOT NULL,
    day           INTEGER NOT NULL,
    is_bot        INTEGER NOT NULL,
    status        INTEGER NOT NULL,
    path          TEXT    NOT NULL,
    hits          INTEGER NOT NULL DEFAULT 0,
    bytes         INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (site, day, is_bot, status, path)
) WITHOUT ROWID;
-- Backfill: the request hits rolled up so far (the flush hooks add the rest, from the same mark on).
INSERT INTO rollup_requests (site, day, is_bot, status, path, hits, bytes)
SELECT site, CAST(ts AS INTEGER) / 86400 * 86400, is_bot, status, path, count(*), sum(bytes)
FROM events
WHERE type = 'request' AND id <= (SELECT value FROM rollup_state WHERE name = 'events')
GROUP BY 1, 2, 3, 4, 5;

-- Page views that sent engagement reports, per site, path, UTC day of the view's page hit, bot flag and
-- engaged-time bucket (db/rules.py engaged_bucket): the median engaged time over any span of whole days.
CREATE TABLE rollup_engaged (
    site          TEXT    NOT NULL,
    is_bot        INTEGER NOT NULL,
    path          TEXT    NOT NULL,
    day           INTEGER NOT NULL,
    ms_bucket     INTEGER NOT NULL,
    views         INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (site, is_bot, path, day, ms_bucket)
) WITHOUT ROWID;
-- Backfill: views are assembled in Python (a report goes to the latest earlier page hit of its session and
-- path), so the flush hooks catch up from event id 0 in bounded steps, behind their own mark.
INSERT INTO rollup_state (name, value) VALUES ('engaged', 0);
