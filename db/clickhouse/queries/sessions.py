"""Session rows the collector itself needs from ClickHouse (resuming live sessions after a restart)."""

from __future__ import annotations

from db.clickhouse.client import ClickHouse
from db.queries.sessions import SPLIT_VISITS_SQL
from db.records import SESSION_COLUMNS, SessionRecord


def sessions_active_since(ch: ClickHouse, since: float) -> list[SessionRecord]:
    """Sessions (their newest version) seen after `since`, as records the collector can keep extending."""
    rows = ch.rows(
        f"SELECT {', '.join(SESSION_COLUMNS)} FROM sessions FINAL WHERE last_seen > ? ORDER BY last_seen, id",
        (since,),
    )
    return [SessionRecord(*row) for row in rows]


def split_visits(ch: ClickHouse, since: float) -> int:
    """Visitors seen since `since` whose sessions overlap in time: a visit that two collectors each counted."""
    return int(ch.value(SPLIT_VISITS_SQL.format(sessions="sessions FINAL"), (since,)) or 0)
