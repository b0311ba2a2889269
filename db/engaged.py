"""Engaged time per page view, counted in Python from page hits and reports in (ts, id) order: the one reading of
views that SQLite's and ClickHouse's engaged histograms (`rollup_engaged`) are both kept by.

A view is a page hit; an engagement report belongs to the latest earlier page hit (in (ts, id) order) of the same
session, path and bot flag, and counts when sent within VIEW_REPORTS_S of it. Views with no counted report are
left out. A view is kept under the UTC day of its page hit, so a day's histogram holds views begun that day.
Rows are VIEW_COLUMNS tuples."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from db.queries.common import Span
from db.rules import DAY, PAGE_TYPES, VIEW_REPORTS_S, bucket, engaged_bucket

VIEW_COLUMNS = "ts, id, session_id, path, type, engaged_ms, is_bot, site"
"""The event columns a view row holds, in its order."""
VIEW_TYPES = ("pageview", "request", "engagement")
"""The event types that make up views."""
Row = tuple[Any, ...]
Triple = tuple[int, str, int]
"""(session, path, bot flag): the rows whose views are counted together."""
ViewKey = tuple[str, int, str, int, int]
"""(site, is_bot, path, day (or hour: `grain`) of the page hit, engaged-time bucket): a `rollup_engaged` row's key."""
_SWEEP_EVERY = 100_000
"""Open views added between two sweeps of those past their window (bounds memory over a long raw span)."""


def views(rows: Iterable[Sequence[Any]], hits_in: Span | None = None, grain: int = DAY) -> dict[ViewKey, int]:
    """Views per key (by the `grain` of their page hit) from event rows (columns as VIEW_COLUMNS) sorted by
    (ts, id); other sessions' rows may be interleaved. Rows without a session are left out; with `hits_in`, so
    are views whose page hit is outside it."""
    out: dict[ViewKey, int] = {}
    open_views: dict[tuple[int, str, int], list[Any]] = {}
    """(session, path, bot flag) -> [site, page hit ts, engaged ms, counted reports] of its latest view."""

    def close(path: str, is_bot: int, view: list[Any]) -> None:
        if view[3] and (hits_in is None or hits_in.start <= view[1] < hits_in.end):
            key = (view[0], is_bot, path, bucket(view[1], grain), engaged_bucket(view[2]))
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


def tally(out: dict[ViewKey, int], view: list[Any] | None, triple: Triple, sign: int, grain: int = DAY) -> None:
    """Add (or take out) an open view ([site, page hit ts, engaged ms, counted reports]) of `triple` to the views
    per key, when it has a counted report."""
    if view is not None and view[3]:
        key = (view[0], triple[2], triple[1], bucket(view[1], grain), engaged_bucket(view[2]))
        out[key] = out.get(key, 0) + sign


def count_on(
    view: list[Any] | None, rows: Iterable[Row], out: dict[ViewKey, int] | None, grain: int = DAY
) -> list[Any] | None:
    """The open view after `rows` (one (session, path, bot flag)'s, in (ts, id) order) follow `view`; the views
    they close go into `out` (when given)."""
    for ts, _id, sid, path, type_, ms, is_bot, site in rows:
        if type_ in PAGE_TYPES:
            if out is not None:
                tally(out, view, (sid, path, is_bot), 1, grain)
            view = [site, ts, 0, 0]
        elif view is not None and ts < view[1] + VIEW_REPORTS_S:
            view[2] += ms
            view[3] += 1
    return view


def replaced(before: Iterable[Sequence[Any]], after: Iterable[Sequence[Any]], grain: int = DAY) -> dict[ViewKey, int]:
    """What replacing the views of `before` rows by those of `after` rows (both in (ts, id) order) changes per key."""
    out = views(after, grain=grain)
    for key, n in views(before, grain=grain).items():
        out[key] = out.get(key, 0) - n
    return {key: n for key, n in out.items() if n}
