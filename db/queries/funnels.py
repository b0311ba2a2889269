"""The Funnels view: stored funnel definitions and per-step reports (matching is in db.funnels)."""

from __future__ import annotations

import json
import logging
import sqlite3
import time
from collections.abc import Iterable
from typing import Any

from db.funnels import (
    Funnel,
    FunnelError,
    Step,
    StepResult,
    funnel_from_config,
    make_funnel,
    match_masks,
    step_mask,
    summarise,
)
from db.queries.common import Filters, Span, event_where

__all__ = ["Funnel", "Step", "StepResult", "list_funnels", "save_funnel", "delete_funnel", "funnel_report"]

log = logging.getLogger("sitelens.funnels")


def _from_row(row: Any) -> Funnel | None:
    try:
        steps = json.loads(row[2])
        return make_funnel(str(row[0]), steps if isinstance(steps, list) else [], int(row[3]), str(row[1]))
    except (ValueError, TypeError, FunnelError) as exc:
        log.warning("stored funnel %r is invalid and skipped: %s", row[0], exc)
        return None


def list_funnels(conn: sqlite3.Connection, cfg_funnels: Iterable[Any] = ()) -> list[Funnel]:
    """Funnels from the config (first; they win on a name clash) and from the database, by name."""
    out: list[Funnel] = []
    names: set[str] = set()
    for entry in cfg_funnels:
        try:
            funnel = funnel_from_config(entry)
        except FunnelError as exc:
            log.warning("funnel in config skipped: %s", exc)
            continue
        out.append(funnel)
        names.add(funnel.name)
    for row in conn.execute("SELECT name, site, steps, window_s FROM funnels ORDER BY name"):
        stored = _from_row(row)
        if stored is not None and stored.name not in names:
            out.append(stored)
    return out


def save_funnel(conn: sqlite3.Connection, funnel: Funnel, *, now: float | None = None) -> None:
    """Create or replace a funnel by name."""
    funnel = make_funnel(funnel.name, funnel.steps, funnel.window_s, funnel.site)  # validate
    now = time.time() if now is None else now
    conn.execute(
        "INSERT INTO funnels (name, site, steps, window_s, created, updated) VALUES (?, ?, ?, ?, ?, ?) "
        "ON CONFLICT (name) DO UPDATE SET site = excluded.site, steps = excluded.steps, "
        "window_s = excluded.window_s, updated = excluded.updated",
        (
            funnel.name,
            funnel.site,
            json.dumps([s.as_dict() for s in funnel.steps]),
            funnel.window_s,
            now,
            now,
        ),
    )
    if not conn.in_transaction and conn.isolation_level is not None:
        conn.commit()


def delete_funnel(conn: sqlite3.Connection, name: str) -> bool:
    """Delete a stored funnel; False when there was none by that name."""
    deleted = conn.execute("DELETE FROM funnels WHERE name = ?", (name,)).rowcount > 0
    if conn.isolation_level is not None:
        conn.commit()
    return deleted


_WILDCARDS = "*?["
_JOURNEY_KEY = "CASE WHEN visitor_id != '' THEN visitor_id ELSE 'session:' || session_id END"
"""Whose journey an event belongs to: its visitor, or its session when it has no visitor id."""


def _literal_prefix(pattern: str) -> str:
    """The part of a path glob before its first wildcard (the same in fnmatch and SQLite GLOB)."""
    for i, ch in enumerate(pattern):
        if ch in _WILDCARDS:
            return pattern[:i]
    return pattern


def _after_prefix(prefix: str) -> str | None:
    """The smallest string after every string starting with `prefix` (None: there is none)."""
    while prefix:
        code = ord(prefix[-1]) + 1
        if code <= 0x10FFFF:
            if 0xD800 <= code <= 0xDFFF:  # surrogates cannot be stored: skip past them
                code = 0xE000
            return prefix[:-1] + chr(code)
        prefix = prefix[:-1]
    return None


def _step_query(step: Step, humans: bool) -> tuple[str, str, tuple[object, ...]]:
    """(index hint, SQL condition, parameters) selecting the events that may complete a step, through a
    narrow index: custom events by name, human page hits by path (exact or by the glob's literal prefix)."""
    if step.kind == "event":
        return "INDEXED BY events_custom", "type = 'event' AND name = ?", (step.match,)
    pages = "type IN ('pageview', 'request')"
    # The partial index on page hits holds humans only; its condition must appear in the query as written.
    hint = "INDEXED BY events_pages" if humans else ""
    prefix = _literal_prefix(step.match)
    if prefix == step.match:
        return hint, f"{pages} AND path = ?", (step.match,)
    # GLOB and fnmatch disagree on [classes]: only the prefix narrows those, Python decides.
    glob, glob_params = ("", ()) if "[" in step.match else (" AND path GLOB ?", (step.match,))
    if not prefix:
        return "", pages + glob, glob_params
    upper = _after_prefix(prefix)
    if upper is None:
        return hint, f"{pages} AND path >= ?{glob}", (prefix, *glob_params)
    return hint, f"{pages} AND path >= ? AND path < ?{glob}", (prefix, upper, *glob_params)


def funnel_report(conn: sqlite3.Connection, funnel: Funnel, span: Span, filters: Filters) -> list[StepResult]:
    """Per step: visitors entering, converting to the next step within the window, and time between steps.

    Only events that may complete a step are read, one indexed query per distinct step; each event is matched
    against the steps once (a bit mask), and the ordered matching runs in Python over each visitor's masks in
    (time, id) order."""
    site = funnel.site or filters.site
    where, params = event_where(span, Filters(site, filters.dims, filters.bots))
    humans = filters.bots == "humans"  # event_where then says "is_bot = 0", as the page index requires
    queries: dict[tuple[str, str, tuple[object, ...]], list[int]] = {}
    for i, step in enumerate(funnel.steps):
        hint, condition, step_params = _step_query(step, humans)
        queries.setdefault((hint, condition, step_params), []).append(i)
    cur = conn.cursor()
    cur.row_factory = None  # plain tuples: thousands of rows
    hits: list[tuple[float, int, str, int]] = []  # (ts, event id, journey key, step mask)
    for (hint, condition, step_params), indexes in queries.items():
        steps = [funnel.steps[i] for i in indexes]
        all_bits = sum(1 << i for i in indexes)
        sql = f"FROM events {hint} WHERE {condition} AND {where}"
        if all(not st.props and (st.kind == "event" or _literal_prefix(st.match) == st.match) for st in steps):
            # Exact steps (a path or an event name, no props) match every row their query returns: SQLite
            # builds the rows, nothing is checked in Python.
            hits.extend(cur.execute(f"SELECT ts, id, {_JOURNEY_KEY}, {all_bits} {sql}", (*step_params, *params)))
            continue
        checked: dict[tuple[str, str, str, str], int] = {}  # each distinct event is matched once
        for ts, event_id, key, type_, path, name, props in cur.execute(
            f"SELECT ts, id, {_JOURNEY_KEY}, type, path, name, props {sql}", (*step_params, *params)
        ):
            what = (type_, path, name, props)
            bits = checked.get(what, -1)
            if bits < 0:
                mask = step_mask(funnel, str(type_), str(path), str(name), _props(props))
                bits = checked[what] = mask & all_bits  # the other steps' queries speak for themselves
            if bits:
                hits.append((ts, event_id, key, bits))
    hits.sort()
    # Visitors who never reached the first step add nothing: they are not matched at all.
    entering = {hit[2] for hit in hits if hit[3] & 1}
    journeys: dict[str, tuple[list[float], list[int]]] = {key: ([], []) for key in entering}
    last_id = None
    for ts, event_id, key, bits in hits:
        journey = journeys.get(key)
        if journey is None:
            continue
        if event_id == last_id:  # one event returned by two step queries: it completes both
            journey[1][-1] |= bits
            continue
        last_id = event_id
        journey[0].append(float(ts))
        journey[1].append(bits)
    n, window = len(funnel.steps), funnel.window_s
    return summarise(funnel, (match_masks(n, window, times, marks) for times, marks in journeys.values()))


def _props(text: str) -> dict[str, Any]:
    """A props object from its JSON text (anything else: no props)."""
    if not text:
        return {}
    try:
        value = json.loads(text)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}
