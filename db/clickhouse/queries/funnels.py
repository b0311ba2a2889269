"""Funnel definitions and per-step reports on ClickHouse (matching stays in db.funnels, as on SQLite)."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterable
from typing import Any

from db.clickhouse.client import ClickHouse
from db.clickhouse.queries.common import event_where
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
from db.queries.common import Filters, Span
from db.queries.funnels import _after_prefix, _from_row, _literal_prefix, _props

__all__ = ["Funnel", "Step", "StepResult", "list_funnels", "save_funnel", "delete_funnel", "funnel_report"]

log = logging.getLogger("sitelens.funnels")

_COLUMNS = ("name", "site", "steps", "window_s", "created", "updated", "deleted", "version")
_JOURNEY_KEY = "if(visitor_id != '', visitor_id, concat('session:', toString(session_id)))"
"""Whose journey an event belongs to: its visitor, or its session when it has no visitor id (as on SQLite)."""


def list_funnels(ch: ClickHouse, cfg_funnels: Iterable[Any] = ()) -> list[Funnel]:
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
    for row in ch.rows("SELECT name, site, steps, window_s FROM funnels FINAL WHERE deleted = 0 ORDER BY name"):
        stored = _from_row(row)
        if stored is not None and stored.name not in names:
            out.append(stored)
    return out


def save_funnel(ch: ClickHouse, funnel: Funnel, *, now: float | None = None) -> None:
    """Create or replace a funnel by name (a replaced funnel keeps its creation time, as on SQLite)."""
    funnel = make_funnel(funnel.name, funnel.steps, funnel.window_s, funnel.site)  # validate
    now = time.time() if now is None else now
    created = ch.value("SELECT created FROM funnels FINAL WHERE name = ? AND deleted = 0", (funnel.name,))
    steps = json.dumps([s.as_dict() for s in funnel.steps])
    first = now if created is None else created
    ch.insert("funnels", [(funnel.name, funnel.site, steps, funnel.window_s, first, now, 0, time.time_ns())], _COLUMNS)


def delete_funnel(ch: ClickHouse, name: str) -> bool:
    """Delete a stored funnel (a deleted version of it); False when there was none by that name."""
    if ch.one("SELECT 1 FROM funnels FINAL WHERE name = ? AND deleted = 0", (name,)) is None:
        return False
    ch.command(
        "INSERT INTO funnels SELECT name, site, steps, window_s, created, updated, 1, ? "
        "FROM funnels FINAL WHERE name = ?",
        (time.time_ns(), name),
    )
    return True


def _like(glob: str) -> str:
    """A glob without [classes] as a LIKE pattern (the same strings match; case-sensitive in ClickHouse)."""
    out = []
    for ch in glob:
        if ch in "\\%_":
            out.append("\\" + ch)
        elif ch == "*":
            out.append("%")
        elif ch == "?":
            out.append("_")
        else:
            out.append(ch)
    return "".join(out)


def _step_query(step: Step) -> tuple[str, tuple[object, ...]]:
    """(SQL condition, parameters) selecting the events that may complete a step: custom events by name, page
    hits by path (exact, or the glob's literal prefix as a range on the primary key's neighbour, plus LIKE)."""
    if step.kind == "event":
        return "type = 'event' AND name = ?", (step.match,)
    pages = "type IN ('pageview', 'request')"
    prefix = _literal_prefix(step.match)
    if prefix == step.match:
        return f"{pages} AND path = ?", (step.match,)
    # LIKE and fnmatch disagree on [classes]: only the prefix narrows those, Python decides.
    like, like_params = ("", ()) if "[" in step.match else (" AND path LIKE ?", (_like(step.match),))
    if not prefix:
        return pages + like, like_params
    upper = _after_prefix(prefix)
    if upper is None:
        return f"{pages} AND path >= ?{like}", (prefix, *like_params)
    return f"{pages} AND path >= ? AND path < ?{like}", (prefix, upper, *like_params)


def funnel_report(ch: ClickHouse, funnel: Funnel, span: Span, filters: Filters) -> list[StepResult]:
    """Per step: visitors entering, converting to the next step within the window, and time between steps.

    As on SQLite: one query per distinct step reads only the events that may complete it, each distinct event
    is matched against the steps once (a bit mask), and the ordered matching runs in Python over each visitor's
    masks in (time, id) order."""
    site = funnel.site or filters.site
    where, params = event_where(span, Filters(site, filters.dims, filters.bots))
    queries: dict[tuple[str, tuple[object, ...]], list[int]] = {}
    for i, step in enumerate(funnel.steps):
        queries.setdefault(_step_query(step), []).append(i)
    hits: list[tuple[float, int, str, int]] = []  # (ts, event id, journey key, step mask)
    for (condition, step_params), indexes in queries.items():
        steps = [funnel.steps[i] for i in indexes]
        all_bits = sum(1 << i for i in indexes)
        sql = f"FROM events WHERE {condition} AND {where}"
        if all(not st.props and (st.kind == "event" or _literal_prefix(st.match) == st.match) for st in steps):
            # Exact steps match every row their query returns: nothing is checked in Python.
            rows = ch.rows(f"SELECT ts, id, {_JOURNEY_KEY} {sql}", (*step_params, *params))
            hits.extend((ts, event_id, key, all_bits) for ts, event_id, key in rows)
            continue
        checked: dict[tuple[str, str, str, str], int] = {}  # each distinct event is matched once
        for ts, event_id, key, type_, path, name, props in ch.rows(
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
