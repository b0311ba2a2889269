"""SQLite: the Funnels view's stored definitions and per-step reports (matching is in db.funnels)."""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterable
from typing import Any

from db.funnels import (
    Funnel,
    StepResult,
    make_funnel,
    match_masks,
    step_mask,
    summarise,
)
from db.queries.common import Filters, Span, event_where
from db.queries.funnels import _JOURNEY_KEY, _literal_prefix, _props, _step_query, with_config


def list_funnels(conn: sqlite3.Connection, cfg_funnels: Iterable[Any] = ()) -> list[Funnel]:
    """Funnels from the config (first; they win on a name clash) and from the database, by name."""
    return with_config(cfg_funnels, conn.execute("SELECT name, site, steps, window_s FROM funnels ORDER BY name"))


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
