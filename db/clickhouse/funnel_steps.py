"""The `funnel_steps` table (migration 0006): page hits and custom events in the order funnel steps ask for them.

Every writer of events (the collector's sink, `sitelens migrate`, the query bench) inserts a batch's rows here too,
with the batch's token; re-marking a bot's events, erasure and raw-event retention treat both tables alike (see
the migration for why a table and not a projection)."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from operator import itemgetter

from db.clickhouse.client import ClickHouse
from db.records import EVENT_COLUMNS
from db.rules import PAGE_TYPES

log = logging.getLogger("sitelens.funnels")

TABLE = "funnel_steps"
DIMENSIONS = ("country", "region", "city", "browser", "os", "os_version", "device", "screen", "bot_name")
"""The event columns views filter on that are kept here too (few values each: LowCardinality, cheap to store)."""
_COPIED = ("ts", "id", "session_id", "visitor_id", "is_bot", "props", *DIMENSIONS)
"""The event columns kept as they are, after (site, type, target)."""
COLUMNS = ("site", "type", "target", *_COPIED)
STEP_TYPES = (*PAGE_TYPES, "event")
"""The event types a funnel step can match: page hits (by path) and custom events (by name)."""
_TARGET = "if(type = 'event', name, path)"
"""What a step matches an event by, as SQL over `events`: a custom event's name, a page hit's path."""
_SOURCE = ("id", *EVENT_COLUMNS)
_TYPE = _SOURCE.index("type")
_NAME = _SOURCE.index("name")
_PATH = _SOURCE.index("path")
_rest = itemgetter(*(_SOURCE.index(c) for c in _COPIED))
_site = itemgetter(_SOURCE.index("site"))


def rows(events: Sequence[Sequence[object]]) -> list[tuple[object, ...]]:
    """The COLUMNS rows of the page hits and custom events among (id, *EVENT_COLUMNS) rows."""
    out: list[tuple[object, ...]] = []
    for event in events:
        type_ = event[_TYPE]
        if type_ in STEP_TYPES:
            out.append((_site(event), type_, event[_NAME if type_ == "event" else _PATH], *_rest(event)))
    return out


def insert(ch: ClickHouse, events: Sequence[Sequence[object]], token: str = "") -> None:
    """Insert the funnel steps of (id, *EVENT_COLUMNS) rows just inserted into `events` (`token`: the batch's)."""
    ch.insert(TABLE, rows(events), COLUMNS, token=f"{token}:n" if token else "")


def backfill(ch: ClickHouse) -> int:
    """Copy in every stored page hit and custom event (the backfill of migration 0006); returns the rows copied."""
    before = int(ch.value(f"SELECT count() FROM {TABLE}") or 0)
    ch.command(
        f"INSERT INTO {TABLE} ({', '.join(COLUMNS)}) SELECT site, type, {_TARGET}, {', '.join(_COPIED)} "
        "FROM events WHERE type IN ?",
        (list(STEP_TYPES),),
    )
    copied = int(ch.value(f"SELECT count() FROM {TABLE}") or 0) - before
    log.info("funnel steps: %d stored events copied in", copied)
    return copied


def erase(ch: ClickHouse, condition: str, params: Sequence[object]) -> None:
    """Delete the funnel steps of the events matching `condition` (run before the events themselves go)."""
    ch.command(f"DELETE FROM {TABLE} WHERE id IN (SELECT id FROM events WHERE {condition})", params)
