"""Session rows the collector itself needs (resuming live sessions after a restart).

The records and rules every engine shares; the SQL is in db/sqlite/queries and db/clickhouse/queries.
"""

from __future__ import annotations

SPLIT_VISITS_SQL = """
SELECT count(*) FROM (
    SELECT site, visitor_id FROM {sessions} WHERE last_seen > ? AND visitor_id != ''
    GROUP BY site, visitor_id HAVING count(*) > 1 AND max(started) <= min(last_seen)
)"""
"""Visitors with two sessions at once: one visit counted twice (shared by the engines, which name the table)."""
