-- A second order of the events for the views that read one kind of event: server events (api_request, auth,
-- external_call) for the Server view, custom events for the Events view and funnels. In the table's order
-- (site, time) they are scattered among the page views, so a 30-day question read every event of those days;
-- in this projection's order (site, type, time) it reads just the rows of its type. The engine keeps the
-- projection in step with the table (inserts, merges, TTL, lightweight updates) and uses it only where it gives
-- the same rows, so no answer changes. It costs about as much disk again as the events themselves.
-- Lightweight DELETE (`sitelens forget`) rebuilds the projection of the parts it changes instead of refusing.
-- Existing events get the projection by a mutation the server runs in the background.
ALTER TABLE events MODIFY SETTING lightweight_mutation_projection_mode = 'rebuild';
ALTER TABLE events ADD PROJECTION IF NOT EXISTS by_type (SELECT * ORDER BY (site, type, ts));
ALTER TABLE events MATERIALIZE PROJECTION by_type;
