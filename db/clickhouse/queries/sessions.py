"""Session rows the collector itself needs from ClickHouse (resuming live sessions after a restart)."""

from __future__ import annotations

from db.clickhouse.client import ClickHouse
from db.records import SESSION_COLUMNS, SessionRecord


def sessions_active_since(ch: ClickHouse, since: float) -> list[SessionRecord]:
    """Sessions (their newest version) seen after `since`, as records the collector can keep extending."""
    rows = ch.rows(
        f"SELECT {', '.join(SESSION_COLUMNS)} FROM sessions FINAL WHERE last_seen > ? ORDER BY last_seen, id",
        (since,),
    )
    return [SessionRecord(*row) for row in rows]
