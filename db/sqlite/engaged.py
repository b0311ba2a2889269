"""SQLite: engaged time per page view in histogram buckets, counted by db/engaged.py's rules: the `rollup_engaged`
upkeep after each flush (from the open views kept in memory, or read back) and the raw reading of a long span's
uneven ends."""

from __future__ import annotations

import math
import sqlite3
from collections.abc import Iterable, Sequence
from operator import itemgetter
from typing import Any

from db.engaged import VIEW_COLUMNS, VIEW_TYPES, Row, Triple, ViewKey, count_on, replaced, tally, views
from db.queries.common import Filters, Span, event_where
from db.records import EVENT_COLUMNS
from db.rules import PAGE_TYPES, VIEW_REPORTS_S
from db.sqlite.per_connection import PerConnection

VIEW_TYPES_SQL = "type IN ('pageview', 'request', 'engagement')"
_RECOUNT_SQL = f"""
WITH reported AS MATERIALIZED (
    SELECT session_id, path, is_bot, min(ts) AS first_ts FROM events
    WHERE id > :low AND id <= :high AND session_id != 0 AND {VIEW_TYPES_SQL}
    GROUP BY session_id, path, is_bot HAVING max(type = 'engagement')
), since AS MATERIALIZED (
    SELECT session_id, path, is_bot, coalesce((
        SELECT max(hit.ts) FROM events AS hit INDEXED BY events_session
        WHERE hit.session_id = r.session_id AND hit.path = r.path AND hit.is_bot = r.is_bot
        AND hit.type IN ('pageview', 'request') AND hit.id <= :low AND hit.ts <= r.first_ts
    ), r.first_ts) AS ts
    FROM reported AS r
)
SELECT {", ".join("e." + c for c in VIEW_COLUMNS.split(", "))}
FROM since AS s JOIN events AS e INDEXED BY events_session ON e.session_id = s.session_id
WHERE e.path = s.path AND e.is_bot = s.is_bot AND e.{VIEW_TYPES_SQL} AND e.id <= :high AND e.ts >= s.ts
ORDER BY e.ts, e.id
"""
"""`recount_rows` in one statement: the views a report in ids (low, high] can change, and nothing before them."""

_NEW_ROWS_SQL = (
    f"SELECT {VIEW_COLUMNS} FROM events WHERE id > ? AND id <= ? AND session_id != 0 AND {VIEW_TYPES_SQL} "
    "ORDER BY ts, id"
)
MAX_OPEN_VIEWS = 10_000
"""Open views kept between flushes (≈ 270 bytes each: under 3 MB); past that the older half is dropped, and a
report for one of those reads its view back. Reports come soon after their page hit, so the newest views are the
ones that get them; a log import, which has none, would otherwise fill its writer's memory with views."""

_VIEW_TYPES = frozenset(VIEW_TYPES)
_TS, _SESSION, _PATH, _TYPE, _MS, _BOT, _SITE = (
    EVENT_COLUMNS.index(c) for c in ("ts", "session_id", "path", "type", "engaged_ms", "is_bot", "site")
)

_CHUNK = 900
"""Session ids per query (SQLite binds at most 999 parameters in older builds)."""


def raw_histograms(
    conn: sqlite3.Connection, span: Span, filters: Filters, paths: Sequence[str]
) -> dict[str, dict[int, int]]:
    """Per path (of `paths`): views whose page hit is in the span, per engaged-time bucket, from raw rows
    (reports up to VIEW_REPORTS_S past the span's end still count).

    Only the sessions with a page hit of those paths in the span can hold such views: they are found first (human
    hits through the covering index `events_pages`), then their rows read by session, so neither the span's
    other traffic nor the day after it is read."""
    if not paths:
        return {}
    marks = ",".join("?" * len(paths))
    hits_where, hits_params = event_where(span, filters)
    sessions = [
        r[0]
        for r in conn.execute(
            f"SELECT DISTINCT session_id FROM events WHERE {hits_where} AND type IN ('pageview', 'request') "
            f"AND session_id != 0 AND path IN ({marks})",
            (*hits_params, *paths),
        )
    ]
    where, params = event_where(Span(span.start, span.end + VIEW_REPORTS_S), filters)
    rows = session_rows(conn, sessions, f"{where} AND path IN ({marks})", (*params, *paths))
    out: dict[str, dict[int, int]] = {}
    for (_site, _bot, path, _day, b), n in views(rows, span).items():
        hist = out.setdefault(path, {})
        hist[b] = hist.get(b, 0) + n
    return out


def recount_rows(conn: sqlite3.Connection, low: int, high: int) -> list[tuple[Any, ...]]:
    """The rows (VIEW_COLUMNS, in (ts, id) order, ids up to `high`) whose views change when the events of ids
    (low, high] are added, for each (session, path, bot flag) that got an engagement report among them.

    New rows can only change the view open when the first of them arrives (in (ts, id) order) and those after
    it: views begun earlier were closed by its page hit. So each one's rows are read from the latest page hit
    stored before (ids up to `low`, at or before its first new row's ts) on; rows before that hit (reports of
    earlier views) are left out, and so are views whose page hit is not read, alike before and after."""
    cur = conn.cursor()
    cur.row_factory = None
    return cur.execute(_RECOUNT_SQL, {"low": low, "high": high}).fetchall()


class OpenViews:
    """Per connection, as of event id `upto`: the open view (latest page hit's [site, ts, engaged ms, counted
    reports]) of each recently seen (session, path, bot flag), and the newest ts among the rows so far. When a
    flush's rows all come after that ts, a view they change is one of these (or begins in the flush), so its
    views are counted on from these without reading anything back."""

    __slots__ = ("conn", "upto", "last", "newest", "views")

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn
        self.upto = -1
        self.last: Row | None = None
        """(ts, session_id) of event `upto`, to tell a rolled-back flush's ids reused by other events."""
        self.newest = math.inf
        self.views: dict[Triple, list[Any]] = {}

    def holds_up_to(self, conn: sqlite3.Connection, low: int) -> bool:
        """Whether the open views are still those of the events up to `low` (this connection counted every
        event since, and that work was committed)."""
        if self.upto != low:
            return False
        row = conn.execute("SELECT ts, session_id FROM events WHERE id = ?", (low,)).fetchone()
        return (None if row is None else tuple(row)) == self.last

    def reset(self, conn: sqlite3.Connection) -> None:
        """Forget every open view; only rows newer than every stored one can be counted from memory again."""
        self.views.clear()
        self.newest = conn.execute("SELECT coalesce(max(ts), -1e300) FROM events").fetchone()[0]

    def advance(self, conn: sqlite3.Connection, high: int, newest: float) -> None:
        """Now as of event id `high`, whose rows reach `newest`."""
        self.newest = max(self.newest, newest)
        if len(self.views) > MAX_OPEN_VIEWS:  # the older half goes: most reports come soon after their page hit
            by_age = sorted(self.views.items(), key=lambda item: item[1][1])
            self.views = dict(by_age[len(by_age) // 2 :])
        row = conn.execute("SELECT ts, session_id FROM events WHERE id = ?", (high,)).fetchone()
        self.upto, self.last = high, None if row is None else tuple(row)


_OPEN_VIEWS = PerConnection(OpenViews)


def open_views(conn: sqlite3.Connection) -> OpenViews:
    """The open views kept for `conn`."""
    return _OPEN_VIEWS.get(conn)


def written_rows(events: Sequence[Sequence[Any]], first_id: int) -> list[Row]:
    """The page hits and reports (VIEW_COLUMNS, in (ts, id) order) among a flush's own event rows (columns as
    EVENT_COLUMNS), which got the ids from `first_id` on in order."""
    out = [
        (row[_TS], first_id + i, row[_SESSION], row[_PATH], row[_TYPE], row[_MS], row[_BOT], row[_SITE])
        for i, row in enumerate(events)
        if row[_SESSION] and row[_TYPE] in _VIEW_TYPES
    ]
    out.sort(key=itemgetter(0, 1))
    return out


def view_changes(conn: sqlite3.Connection, low: int, high: int, new: list[Row] | None = None) -> dict[ViewKey, int]:
    """What adding the events of ids (low, high] changes in the views per key: the views of each (session, path,
    bot flag) that got an engagement report among them, from the one open when its first new row came on.

    Counted on from the open views kept in memory when the new rows all come after every stored one; the views
    not kept, and every view when rows came out of order, are read back (`recount_rows`) and counted again.
    `new`: those ids' rows when the caller holds them (`written_rows`), else they are read."""
    if new is None:
        cur = conn.cursor()
        cur.row_factory = None
        new = cur.execute(_NEW_ROWS_SQL, (low, high)).fetchall()
    kept = open_views(conn)
    if not kept.holds_up_to(conn, low) or (new and new[0][0] < kept.newest):
        kept.reset(conn)
    in_order = not new or new[0][0] >= kept.newest
    by_triple: dict[Triple, list[Row]] = {}
    for row in new:
        by_triple.setdefault((row[2], row[3], row[6]), []).append(row)
    out: dict[ViewKey, int] = {}
    missing: set[Triple] = set()
    for triple, rows in by_triple.items():
        view = kept.views.get(triple)
        if not in_order or (view is None and rows[0][4] not in PAGE_TYPES):
            missing.add(triple)  # (without a kept view, a page hit first closes every earlier view as it stood)
            continue
        tally(out, view, triple, -1)
        view = count_on(None if view is None else view.copy(), rows, out)
        tally(out, view, triple, 1)
        if view is not None:
            kept.views[triple] = view
    if missing:
        read: dict[Triple, list[Row]] = {}
        for row in recount_rows(conn, low, high):
            if (row[2], row[3], row[6]) in missing:
                read.setdefault((row[2], row[3], row[6]), []).append(row)
        rows = sorted((row for triple_rows in read.values() for row in triple_rows), key=itemgetter(0, 1))
        for key, n in replaced([row for row in rows if row[1] <= low], rows).items():
            out[key] = out.get(key, 0) + n
        for triple, triple_rows in read.items():
            view = count_on(None, triple_rows, None)
            if view is not None:
                kept.views[triple] = view
    kept.advance(conn, high, new[-1][0] if new else -math.inf)
    return {key: n for key, n in out.items() if n}


def forget_open_views(conn: sqlite3.Connection) -> None:
    """After stored rows changed (bot re-marking, deletions): the open views kept for `conn` are read again."""
    open_views(conn).upto = -1


def session_rows(
    conn: sqlite3.Connection, session_ids: Iterable[int], where: str, params: Sequence[object]
) -> list[tuple[Any, ...]]:
    """The page hits and reports (VIEW_COLUMNS) of these sessions that match `where`, in (ts, id) order."""
    ids = sorted(set(session_ids))
    cur = conn.cursor()
    cur.row_factory = None
    rows: list[tuple[Any, ...]] = []
    for i in range(0, len(ids), _CHUNK):
        chunk = ids[i : i + _CHUNK]
        rows += cur.execute(
            f"SELECT {VIEW_COLUMNS} FROM events INDEXED BY events_session WHERE session_id IN "
            f"({','.join('?' * len(chunk))}) AND {VIEW_TYPES_SQL} AND {where}",
            (*chunk, *params),
        ).fetchall()
    rows.sort(key=itemgetter(0, 1))
    return rows
