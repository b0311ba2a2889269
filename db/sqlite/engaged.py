"""SQLite: engaged time per page view in histogram buckets (db/rules.py), the one reading of views that both the
`rollup_engaged` maintenance and the raw reading of a long span's uneven ends use.

A view is a page hit; an engagement report belongs to the latest earlier page hit (in (ts, id) order) of the same
session, path and bot flag, and counts when sent within VIEW_REPORTS_S of it. Views with no counted report are
left out. A view is kept under the UTC day of its page hit, so a day's histogram holds views begun that day."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Sequence
from operator import itemgetter
from typing import Any

from db.queries.common import Filters, Span, event_where
from db.rules import DAY, PAGE_TYPES, VIEW_REPORTS_S, bucket, engaged_bucket

VIEW_COLUMNS = "ts, id, session_id, path, type, engaged_ms, is_bot, site"
"""The event columns `views` reads, in its order."""
VIEW_TYPES_SQL = "type IN ('pageview', 'request', 'engagement')"

_CHUNK = 900
"""Session ids per query (SQLite binds at most 999 parameters in older builds)."""
_SWEEP_EVERY = 100_000
"""Open views added between two sweeps of those past their window (bounds memory over a long raw span)."""
ViewKey = tuple[str, int, str, int, int]
"""(site, is_bot, path, day of the page hit, engaged-time bucket): a `rollup_engaged` row's key."""


def views(rows: Iterable[Sequence[Any]], hits_in: Span | None = None) -> dict[ViewKey, int]:
    """Views per key from event rows (columns as VIEW_COLUMNS) sorted by (ts, id); other sessions' rows may be
    interleaved. Rows without a session are left out; with `hits_in`, so are views whose page hit is outside it."""
    out: dict[ViewKey, int] = {}
    open_views: dict[tuple[int, str, int], list[Any]] = {}
    """(session, path, bot flag) -> [site, page hit ts, engaged ms, counted reports] of its latest view."""

    def close(path: str, is_bot: int, view: list[Any]) -> None:
        if view[3] and (hits_in is None or hits_in.start <= view[1] < hits_in.end):
            key = (view[0], is_bot, path, bucket(view[1], DAY), engaged_bucket(view[2]))
            out[key] = out.get(key, 0) + 1

    swept = 0
    for ts, _id, session_id, path, type_, ms, is_bot, site in rows:
        if not session_id:
            continue
        if len(open_views) > swept + _SWEEP_EVERY:  # views past their reporting window can take no more
            for key, done in [(k, v) for k, v in open_views.items() if v[1] + VIEW_REPORTS_S <= ts]:
                close(key[1], key[2], done)
                del open_views[key]
            swept = len(open_views)
        key = (session_id, path, is_bot)
        view = open_views.get(key)
        if type_ in PAGE_TYPES:
            if view is not None:
                close(path, is_bot, view)
            open_views[key] = [site, ts, 0, 0]
        elif view is not None and ts < view[1] + VIEW_REPORTS_S:
            view[2] += ms
            view[3] += 1
    for (_sid, path, is_bot), view in open_views.items():
        close(path, is_bot, view)
    return out


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
