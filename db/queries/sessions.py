"""Session rows the collector itself needs (resuming live sessions after a restart)."""

from __future__ import annotations

import sqlite3

from db.records import SESSION_COLUMNS, SessionRecord


def sessions_active_since(conn: sqlite3.Connection, since: float) -> list[SessionRecord]:
    """Sessions seen after `since`, as records the collector can keep extending."""
    rows = conn.execute(
        f"SELECT {', '.join(SESSION_COLUMNS)} FROM sessions WHERE last_seen > ? ORDER BY last_seen", (since,)
    ).fetchall()
    return [SessionRecord(*tuple(row)) for row in rows]


SPLIT_VISITS_SQL = """
SELECT count(*) FROM (
    SELECT site, visitor_id FROM {sessions} WHERE last_seen > ? AND visitor_id != ''
    GROUP BY site, visitor_id HAVING count(*) > 1 AND max(started) <= min(last_seen)
)"""
"""Visitors with two sessions at once: one visit counted twice (shared by the engines, which name the table)."""


def split_visits(conn: sqlite3.Connection, since: float) -> int:
    """Visitors seen since `since` whose sessions overlap in time: a visit that two collectors each counted."""
    return int(conn.execute(SPLIT_VISITS_SQL.format(sessions="sessions"), (since,)).fetchone()[0])
