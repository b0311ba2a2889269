"""Rollups kept current by the writer: each flush adds what it wrote to hourly and daily aggregate tables.

Events are rolled up from the last rolled-up id (`rollup_state`), sessions from `rollup_pending_sessions`
(filled by triggers with each session's state before it changed), so every row is counted exactly once,
whichever process wrote it. The definitions here are the ones the raw queries in db/queries use too.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Sequence
from typing import Any

from db.writer import Batch, FlushHook

HOUR = 3600
DAY = 86400
GRAINS = (HOUR, DAY)
PAGE_TYPES = ("pageview", "request")
"""Event types counted as pageviews (tracker pageviews and imported access-log hits)."""
SESSION_DIMS = (
    "entry_path",
    "exit_path",
    "referrer",
    "ref_source",
    "ref_medium",
    "utm_source",
    "utm_medium",
    "utm_campaign",
    "country",
    "browser",
    "os",
    "device",
    "screen",
)
"""Session attributes rolled up into `rollup_dims`."""
MAX_EVENTS_PER_FLUSH = 50_000
"""Catching up on a backlog (an old database, a writer without hooks) is spread over several flushes."""
MAX_SESSIONS_PER_FLUSH = 20_000
_CHUNK = 900
DURATION_MS_SQL = "max(0, CAST(({a}last_seen - {a}started) * 1000 + 0.5 AS INTEGER))"
"""`duration_of` in SQL (format with the table alias), so raw sums equal rolled-up ones exactly."""
BOUNCE_SQL = "({a}pageviews + {a}requests <= 1 AND {a}events = 0)"
"""`is_bounce` in SQL."""

_SESSION_FIELDS = (
    "site",
    "started",
    "last_seen",
    "is_bot",
    "new_visitor",
    "pageviews",
    "requests",
    "events",
    *SESSION_DIMS,
)

Deltas = dict[tuple[Any, ...], list[int]]


def rollup_hooks() -> list[FlushHook]:
    """The flush hooks that keep every rollup table current, in the order they must run."""
    return [_events_hook, _sessions_hook]


def _events_hook(conn: sqlite3.Connection, batch: Batch) -> None:
    roll_up_events(conn, batch)


def _sessions_hook(conn: sqlite3.Connection, batch: Batch) -> None:
    roll_up_sessions(conn, batch)


def bucket(ts: float, grain: int) -> int:
    """Start of the UTC hour or day containing `ts`."""
    return int(ts // grain) * grain


def is_bounce(pageviews: int, requests: int, events: int) -> bool:
    """A session with at most one page hit and no custom event."""
    return pageviews + requests <= 1 and events == 0


def _add(deltas: Deltas, key: tuple[Any, ...], values: Sequence[int], sign: int = 1) -> None:
    current = deltas.get(key)
    if current is None:
        deltas[key] = [sign * v for v in values]
    else:
        for i, v in enumerate(values):
            current[i] += sign * v


def _chunks(items: Sequence[Any]) -> Iterable[Sequence[Any]]:
    for i in range(0, len(items), _CHUNK):
        yield items[i : i + _CHUNK]


# ---------------------------------------------------------------------------------------------------- events


def roll_up_events(conn: sqlite3.Connection, batch: Batch | None = None) -> int:
    """Flush hook: roll up events written since the last run (traffic, pages, custom events); how many."""
    start = int(conn.execute("SELECT value FROM rollup_state WHERE name = 'events'").fetchone()[0])
    rows = conn.execute(
        "SELECT id, ts, site, type, session_id, path, name, is_bot, engaged_ms, scroll FROM events "
        "WHERE id > ? ORDER BY id LIMIT ?",
        (start, MAX_EVENTS_PER_FLUSH),
    ).fetchall()
    if not rows:
        return 0
    seen = _keys_seen_before(
        conn, {r[4] for r in rows if r[4] and (r[3] in PAGE_TYPES or r[3] == "event")}, start
    )
    traffic: Deltas = {}
    pages: Deltas = {}
    custom: Deltas = {}
    for _id, ts, site, type_, session_id, path, name, is_bot, engaged_ms, scroll in rows:
        hour = bucket(ts, HOUR)
        is_page = type_ in PAGE_TYPES
        is_event = type_ == "event"
        _add(traffic, (site, hour, is_bot), (1, 1 if is_page else 0, 1 if is_event else 0))
        if is_page or is_event:
            key = (session_id, is_event, name if is_event else path)
            visit = 1
            if session_id:
                if key in seen:
                    visit = 0
                else:
                    seen.add(key)
            for grain in GRAINS:
                b = hour if grain == HOUR else bucket(ts, DAY)
                if is_page:
                    _add(pages, (grain, site, b, is_bot, path), (1, visit, 0, 0, 0))
                else:
                    _add(custom, (grain, site, b, is_bot, name), (1, visit))
        elif type_ == "engagement":
            for grain in GRAINS:
                _add(pages, (grain, site, bucket(ts, grain), is_bot, path), (0, 0, 1, scroll, engaged_ms))
    update_traffic_events(conn, traffic)
    update_pages(conn, pages)
    update_custom_events(conn, custom)
    conn.execute("UPDATE rollup_state SET value = ? WHERE name = 'events'", (rows[-1][0],))
    return len(rows)


def _keys_seen_before(
    conn: sqlite3.Connection, session_ids: set[int], before_id: int
) -> set[tuple[Any, ...]]:
    """(session, is_event, path or name) seen in events up to `before_id`: later ones are not visits."""
    seen: set[tuple[Any, ...]] = set()
    ids = sorted(session_ids)
    for chunk in _chunks(ids):
        marks = ",".join("?" * len(chunk))
        for sid, is_event, key in conn.execute(
            f"SELECT DISTINCT session_id, type = 'event', CASE WHEN type = 'event' THEN name ELSE path END "
            f"FROM events WHERE session_id IN ({marks}) AND id <= ? "
            "AND type IN ('pageview', 'request', 'event')",
            (*chunk, before_id),
        ):
            seen.add((sid, bool(is_event), key))
    return seen


def update_traffic_events(conn: sqlite3.Connection, deltas: Deltas) -> None:
    """rollup_traffic: hits, pageviews and custom events per site, hour and bot flag."""
    conn.executemany(
        "INSERT INTO rollup_traffic (site, hour, is_bot, hits, pageviews, events) VALUES (?, ?, ?, ?, ?, ?) "
        "ON CONFLICT (site, hour, is_bot) DO UPDATE SET hits = hits + excluded.hits, "
        "pageviews = pageviews + excluded.pageviews, events = events + excluded.events",
        [(*k, *v) for k, v in deltas.items()],
    )


def update_pages(conn: sqlite3.Connection, deltas: Deltas) -> None:
    """rollup_pages: views, visits and engagement per path."""
    conn.executemany(
        "INSERT INTO rollup_pages (grain, site, bucket, is_bot, path, pageviews, visits, engagements, "
        "scroll_sum, "
        "engaged_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
        "ON CONFLICT (grain, site, bucket, is_bot, path) DO UPDATE SET "
        "pageviews = pageviews + excluded.pageviews, "
        "visits = visits + excluded.visits, engagements = engagements + excluded.engagements, "
        "scroll_sum = scroll_sum + excluded.scroll_sum, engaged_ms = engaged_ms + excluded.engaged_ms",
        [(*k, *v) for k, v in deltas.items()],
    )


def update_custom_events(conn: sqlite3.Connection, deltas: Deltas) -> None:
    """rollup_events: custom event counts and visits per name."""
    conn.executemany(
        "INSERT INTO rollup_events (grain, site, bucket, is_bot, name, count, visits) "
        "VALUES (?, ?, ?, ?, ?, ?, ?) "
        "ON CONFLICT (grain, site, bucket, is_bot, name) DO UPDATE SET count = count + excluded.count, "
        "visits = visits + excluded.visits",
        [(*k, *v) for k, v in deltas.items()],
    )


# -------------------------------------------------------------------------------------------------- sessions


def roll_up_sessions(conn: sqlite3.Connection, batch: Batch | None = None) -> int:
    """Flush hook: replace changed sessions' old contributions by their new ones; how many sessions."""
    cols = ", ".join(f"p.{c}" for c in _SESSION_FIELDS)
    new_cols = ", ".join(f"s.{c}" for c in _SESSION_FIELDS)
    rows = conn.execute(
        f"SELECT p.id, {cols}, {new_cols} FROM rollup_pending_sessions p LEFT JOIN sessions s ON s.id = p.id "
        "ORDER BY p.id LIMIT ?",
        (MAX_SESSIONS_PER_FLUSH,),
    ).fetchall()
    if not rows:
        return 0
    n = len(_SESSION_FIELDS)
    traffic: Deltas = {}
    dims: Deltas = {}
    for row in rows:
        old, new = tuple(row[1 : 1 + n]), tuple(row[1 + n :])
        if new[0] is None:  # deleted by retention meanwhile: its rolled-up contribution stays
            continue
        if old[0] is not None:
            _session_contribution(old, traffic, dims, -1)
        _session_contribution(new, traffic, dims, 1)
    update_traffic_sessions(conn, traffic)
    update_dims(conn, dims)
    if len(rows) < MAX_SESSIONS_PER_FLUSH:
        conn.execute("DELETE FROM rollup_pending_sessions")
    else:
        conn.execute("DELETE FROM rollup_pending_sessions WHERE id <= ?", (rows[-1][0],))
    return len(rows)


def _session_contribution(values: tuple[Any, ...], traffic: Deltas, dims: Deltas, sign: int) -> None:
    """Add (sign=1) or remove (sign=-1) what one session snapshot contributes to the rollups."""
    site, started, last_seen, is_bot, new_visitor, pageviews, requests, events = values[:8]
    bounce = 1 if is_bounce(pageviews, requests, events) else 0
    duration_ms = duration_of(started, last_seen)
    _add(traffic, (site, bucket(started, HOUR), is_bot), (1, new_visitor, bounce, duration_ms), sign)
    hits = pageviews + requests
    for grain in GRAINS:
        b = bucket(started, grain)
        for dim, value in zip(SESSION_DIMS, values[8:], strict=True):
            _add(dims, (grain, site, dim, b, is_bot, value), (1, new_visitor, hits), sign)


def duration_of(started: float, last_seen: float) -> int:
    """A session's length in whole milliseconds (integers add up exactly in any order)."""
    return max(0, int((last_seen - started) * 1000 + 0.5))


def update_traffic_sessions(conn: sqlite3.Connection, deltas: Deltas) -> None:
    """rollup_traffic: sessions, visitors, bounces and duration per site, start hour and bot flag."""
    conn.executemany(
        "INSERT INTO rollup_traffic (site, hour, is_bot, sessions, visitors, bounces, duration_ms) "
        "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (site, hour, is_bot) DO UPDATE SET "
        "sessions = sessions + excluded.sessions, visitors = visitors + excluded.visitors, "
        "bounces = bounces + excluded.bounces, duration_ms = duration_ms + excluded.duration_ms",
        [(*k, *v) for k, v in deltas.items() if any(v)],
    )


def update_dims(conn: sqlite3.Connection, deltas: Deltas) -> None:
    """rollup_dims: sessions, visitors and page hits per session attribute value; emptied rows are removed."""
    changed = [(*k, *v) for k, v in deltas.items() if any(v)]
    conn.executemany(
        "INSERT INTO rollup_dims (grain, site, dim, bucket, is_bot, value, sessions, visitors, hits) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) "
        "ON CONFLICT (grain, site, dim, bucket, is_bot, value) DO UPDATE SET "
        "sessions = sessions + excluded.sessions, visitors = visitors + excluded.visitors, "
        "hits = hits + excluded.hits",
        changed,
    )
    emptied = [row[:6] for row in changed if row[6] < 0]
    if emptied:
        conn.executemany(
            "DELETE FROM rollup_dims WHERE grain = ? AND site = ? AND dim = ? AND bucket = ? AND is_bot = ? "
            "AND value = ? AND sessions = 0 AND visitors = 0 AND hits = 0",
            emptied,
        )


# ---------------------------------------------------------------------------------------------- maintenance


def rebuild(conn: sqlite3.Connection) -> None:
    """Recompute every rollup from the raw rows (after an import without hooks, or to repair)."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        for table in (
            "rollup_traffic",
            "rollup_pages",
            "rollup_events",
            "rollup_dims",
            "rollup_pending_sessions",
        ):
            conn.execute(f"DELETE FROM {table}")
        conn.execute("UPDATE rollup_state SET value = 0 WHERE name = 'events'")
        conn.execute("INSERT INTO rollup_pending_sessions (id) SELECT id FROM sessions")
        while roll_up_events(conn):
            pass
        while roll_up_sessions(conn):
            pass
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise


def catch_up(conn: sqlite3.Connection) -> None:
    """Roll up whatever is pending now, in one transaction (tests, CLI commands that wrote without hooks)."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        while roll_up_events(conn):
            pass
        while roll_up_sessions(conn):
            pass
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
