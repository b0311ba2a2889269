"""Small fixed datasets for statistics tests: events and sessions with known values (as the writer writes)."""

from __future__ import annotations

import itertools
import sqlite3
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from db.batch import Batch
from db.records import EventRecord, SessionRecord
from db.sqlite.batch import write_batch
from db.sqlite.connection import connect
from db.sqlite.rollups import rollup_hooks

T0 = 1_700_006_400.0
"""A UTC midnight (Wednesday 2023-11-15) that test datasets start from."""
SITE = "example.com"

_ids = itertools.count(1)


def new_db(path: Path) -> sqlite3.Connection:
    """A migrated database in a file (the tests' own connection, autocommit like the writer's)."""
    return connect(path)


def write(
    conn: sqlite3.Connection,
    events: Iterable[EventRecord] = (),
    sessions: Iterable[SessionRecord] = (),
    *,
    rollups: bool = True,
) -> None:
    """Write rows in one transaction, with the rollup hooks, exactly as one writer flush would."""
    batch = Batch(events=[e.as_row() for e in events], sessions={s.id: s.as_row() for s in sessions})
    write_batch(conn, batch, rollup_hooks() if rollups else [])


@dataclass
class Visit:
    """One session and its events, built with consistent session totals."""

    session: SessionRecord
    events: list[EventRecord] = field(default_factory=list)


def visit(
    start: float,
    pages: Sequence[tuple[float, str]],
    *,
    site: str = SITE,
    visitor: str = "v1",
    new_visitor: int = 1,
    is_bot: int = 0,
    bot_name: str = "",
    custom: Sequence[tuple[float, str, dict[str, str]]] = (),
    engagement: Sequence[tuple[float, str, int, int]] = (),
    session_id: int | None = None,
    fingerprint: str = "",
    type: str = "pageview",
    **attrs: Any,
) -> Visit:
    """A session starting at `start`: pages (offset s, path), custom events (offset, name, props),
    engagement reports (offset, path, scroll %, engaged ms); `attrs` are session/event attributes
    (country, browser, ref_source, utm_source, ...)."""
    import orjson

    sid = session_id if session_id is not None else next(_ids)
    fp = fingerprint or f"fp-{visitor}"
    common = {k: v for k, v in attrs.items() if k in _EVENT_FIELDS}
    session_attrs = {k: v for k, v in attrs.items() if k in _SESSION_FIELDS}
    events: list[EventRecord] = []
    for offset, path in pages:
        events.append(
            EventRecord(
                ts=start + offset,
                site=site,
                type=type,
                session_id=sid,
                visitor_id=visitor,
                fingerprint=fp,
                path=path,
                is_bot=is_bot,
                bot_name=bot_name,
                **common,
            )
        )
    for offset, name, props in custom:
        events.append(
            EventRecord(
                ts=start + offset,
                site=site,
                type="event",
                session_id=sid,
                visitor_id=visitor,
                fingerprint=fp,
                path=pages[0][1] if pages else "/",
                name=name,
                props=orjson.dumps(props).decode() if props else "",
                is_bot=is_bot,
                bot_name=bot_name,
                **common,
            )
        )
    for offset, path, scroll, engaged_ms in engagement:
        events.append(
            EventRecord(
                ts=start + offset,
                site=site,
                type="engagement",
                session_id=sid,
                visitor_id=visitor,
                fingerprint=fp,
                path=path,
                scroll=scroll,
                engaged_ms=engaged_ms,
                is_bot=is_bot,
                bot_name=bot_name,
                **common,
            )
        )
    events.sort(key=lambda e: e.ts)
    times = [e.ts for e in events] or [start]
    page_paths = [p for _o, p in sorted(pages)]
    session = SessionRecord(
        id=sid,
        site=site,
        visitor_id=visitor,
        fingerprint=fp,
        started=min(times),
        last_seen=max(times),
        new_visitor=new_visitor,
        pageviews=len(pages) if type == "pageview" else 0,
        requests=len(pages) if type != "pageview" else 0,
        events=len(custom),
        entry_path=page_paths[0] if page_paths else "",
        exit_path=page_paths[-1] if page_paths else "",
        engaged_ms=sum(e[3] for e in engagement),
        max_scroll=max((e[2] for e in engagement), default=0),
        is_bot=is_bot,
        bot_name=bot_name,
        **session_attrs,
    )
    return Visit(session, events)


_EVENT_FIELDS = {
    "browser",
    "browser_version",
    "os",
    "os_version",
    "device",
    "country",
    "region",
    "city",
    "screen",
    "referrer",
    "ref_source",
    "ref_medium",
    "utm_source",
    "utm_medium",
    "utm_campaign",
}
_SESSION_FIELDS = _EVENT_FIELDS | {"ua", "bot_score", "bot_signals", "bot_reasons", "throttle_level", "ip"}
_EVENT_FIELDS |= {"status", "bytes"}  # an access log's hits carry them; sessions do not


def write_visits(conn: sqlite3.Connection, visits: Iterable[Visit], *, rollups: bool = True) -> None:
    """Write whole visits (sessions with their events) in one flush."""
    visits = list(visits)
    write(conn, [e for v in visits for e in v.events], [v.session for v in visits], rollups=rollups)


def server_event(ts: float, type: str, *, site: str = SITE, **attrs: Any) -> EventRecord:
    """A server-side event (api_request, auth, external_call)."""
    return EventRecord(ts=ts, site=site, type=type, **attrs)
