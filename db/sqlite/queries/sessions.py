"""SQLite: session rows the collector itself needs (resuming live sessions after a restart)."""

from __future__ import annotations

import sqlite3

from db.queries.sessions import SPLIT_VISITS_SQL
from db.records import SESSION_COLUMNS, SessionRecord


def sessions_active_since(conn: sqlite3.Connection, since: float) -> list[SessionRecord]:
    """Sessions seen after `since`, as records the collector can keep extending."""
    rows = conn.execute(
        f"SELECT {', '.join(SESSION_COLUMNS)} FROM sessions WHERE last_seen > ? ORDER BY last_seen", (since,)
    ).fetchall()
    return [SessionRecord(*tuple(row)) for row in rows]


def split_visits(conn: sqlite3.Connection, since: float) -> int:
    """Visitors seen since `since` whose sessions overlap in time: a visit that two collectors each counted."""
    return int(conn.execute(SPLIT_VISITS_SQL.format(sessions="sessions"), (since,)).fetchone()[0])
