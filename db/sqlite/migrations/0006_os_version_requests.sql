-- OS version beside the OS, and what the Requests panel and filters need.

-- The OS with its version as people name it ("Windows 10", "iOS 17.1", "macOS 10.15": family + major[.minor]),
-- '' when the User-Agent gives no version. Rows stored before this migration keep ''.
ALTER TABLE events ADD COLUMN os_version TEXT NOT NULL DEFAULT '';
ALTER TABLE sessions ADD COLUMN os_version TEXT NOT NULL DEFAULT '';

-- OS versions are a rolled-up session attribute like the OS (rollup_dims, dim 'os_version'): the pending
-- sessions carry the old value, appended last as SESSION_DIMS lists it (db/rollups.py).
ALTER TABLE rollup_pending_sessions ADD COLUMN os_version TEXT;
DROP TRIGGER rollup_session_updated;
CREATE TRIGGER rollup_session_updated AFTER UPDATE ON sessions
WHEN NOT EXISTS (SELECT 1 FROM rollup_pending_sessions WHERE id = OLD.id) BEGIN
    INSERT INTO rollup_pending_sessions VALUES (
        OLD.id, OLD.site, OLD.started, OLD.last_seen, OLD.is_bot, OLD.new_visitor, OLD.pageviews, OLD.requests,
        OLD.events, OLD.entry_path, OLD.exit_path, OLD.referrer, OLD.ref_source, OLD.ref_medium, OLD.utm_source,
        OLD.utm_medium, OLD.utm_campaign, OLD.country, OLD.browser, OLD.os, OLD.device, OLD.screen, OLD.bot_name,
        OLD.os_version
    );
END;
-- Sessions rolled up before this migration have no OS version: they count under '' for every day they cover,
-- so the OS-version list adds up to the same sessions and visitors as the OS list.
INSERT INTO rollup_dims (grain, site, dim, bucket, is_bot, value, sessions, visitors, hits, events)
SELECT grain, site, 'os_version', bucket, is_bot, '', sum(sessions), sum(visitors), sum(hits), sum(events)
FROM rollup_dims WHERE dim = 'os' GROUP BY grain, site, bucket, is_bot;
-- Sessions changed but not rolled up yet were counted the same way: their old state has no version either.
UPDATE rollup_pending_sessions SET os_version = '' WHERE site IS NOT NULL;

-- Imported access-log hits (type 'request') and server-side events are read by status and by user id.
-- Both partial and covering, so they cost space and write time only on the events they serve.
CREATE INDEX events_requests ON events (site, ts, status, path, bytes, is_bot) WHERE type = 'request';
CREATE INDEX events_users ON events (site, ts, user_id, type, success, cost_usd, status)
WHERE type IN ('api_request', 'auth', 'external_call') AND user_id != '';
