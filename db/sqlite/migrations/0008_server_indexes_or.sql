-- The partial indexes on server-side events, their condition written with OR instead of a three-value IN list:
-- SQLite (3.40) builds a small table for such an IN list again for every row it inserts, to test whether the
-- row belongs in the index, which cost each stored event about 1.5 µs per index even though page hits never do.
-- Queries repeat the condition as written here (db/queries/server.py) so SQLite still uses the indexes.
DROP INDEX IF EXISTS events_server;
CREATE INDEX events_server ON events (type, ts)
WHERE (type = 'api_request' OR type = 'auth' OR type = 'external_call');
DROP INDEX IF EXISTS events_users;
CREATE INDEX events_users ON events (site, ts, user_id, type, success, cost_usd, status)
WHERE (type = 'api_request' OR type = 'auth' OR type = 'external_call') AND user_id != '';
