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
