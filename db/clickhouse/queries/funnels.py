"""Funnel definitions and per-step reports on ClickHouse (matching stays in db.funnels, as on SQLite)."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from db.clickhouse import funnel_steps
from db.clickhouse.client import ClickHouse
from db.clickhouse.queries.common import event_where
from db.funnels import (
    Funnel,
    Step,
    StepResult,
    make_funnel,
    match_masks,
    step_mask,
    summarise,
)
from db.queries.common import DIMENSIONS, Filters, Span
from db.queries.funnels import _after_prefix, _literal_prefix, _props, with_config

__all__ = ["Funnel", "Step", "StepResult", "list_funnels", "save_funnel", "delete_funnel", "funnel_report"]

log = logging.getLogger("sitelens.funnels")

_COLUMNS = ("name", "site", "steps", "window_s", "created", "updated", "deleted", "version")
_JOURNEY_KEY = "if(visitor_id != '', visitor_id, concat('session:', toString(session_id)))"
"""Whose journey an event belongs to: its visitor, or its session when it has no visitor id (as on SQLite)."""


def list_funnels(ch: ClickHouse, cfg_funnels: Iterable[Any] = ()) -> list[Funnel]:
    """Funnels from the config (first; they win on a name clash) and from the database, by name."""
    return with_config(
        cfg_funnels, ch.rows("SELECT name, site, steps, window_s FROM funnels FINAL WHERE deleted = 0 ORDER BY name")
    )


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


@dataclass(slots=True, frozen=True)
class _Source:
    """Where a report reads events from, and the columns a step matches a page hit's path and an event's name by."""

    table: str
    path: str
    name: str


_STEPS = _Source(funnel_steps.TABLE, "target", "target")
"""Page hits and custom events ordered by (site, type, path or name, time): a step is one key range."""
_EVENTS = _Source("events", "path", "name")
"""Every event with every column, for filters on event columns the narrow table does not hold."""


def _source(filters: Filters) -> _Source:
    """`funnel_steps` unless a filter names an event column it does not hold (a session dimension is looked up by
    session id in either)."""
    for name, _value in filters.dims:
        column = DIMENSIONS[name].events
        if column is not None and column not in funnel_steps.DIMENSIONS:
            return _EVENTS
    return _STEPS


def _step_query(step: Step, source: _Source) -> tuple[str, tuple[object, ...]]:
    """(SQL condition, parameters) selecting the events that may complete a step: custom events by name, page
    hits by path (exact, or the glob's literal prefix as a range on the sort key, plus LIKE)."""
    if step.kind == "event":
        return f"type = 'event' AND {source.name} = ?", (step.match,)
    pages, path = "type IN ('pageview', 'request')", source.path
    prefix = _literal_prefix(step.match)
    if prefix == step.match:
        return f"{pages} AND {path} = ?", (step.match,)
    # LIKE and fnmatch disagree on [classes]: only the prefix narrows those, Python decides.
    like, like_params = ("", ()) if "[" in step.match else (f" AND {path} LIKE ?", (_like(step.match),))
    if not prefix:
        return pages + like, like_params
    upper = _after_prefix(prefix)
    if upper is None:
        return f"{pages} AND {path} >= ?{like}", (prefix, *like_params)
    return f"{pages} AND {path} >= ? AND {path} < ?{like}", (prefix, upper, *like_params)


def _exact(step: Step) -> bool:
    """Whether every event a step's query selects completes the step (nothing left to check in Python)."""
    return not step.props and (step.kind == "event" or _literal_prefix(step.match) == step.match)


def _times_and_masks(hits: list[tuple[float, int, int]]) -> tuple[list[float], list[int]]:
    """The times and step masks of one journey's (ts, event id, mask) hits in (ts, id) order, each event once (a
    row stored twice sorts next to itself)."""
    if len(hits) > 1:
        hits = [hit for i, hit in enumerate(hits) if not i or hit[1] != hits[i - 1][1]]
    return [hit[0] for hit in hits], [hit[2] for hit in hits]


def funnel_report(ch: ClickHouse, funnel: Funnel, span: Span, filters: Filters) -> list[StepResult]:
    """Per step: visitors entering, converting to the next step within the window, and time between steps.

    As on SQLite, only the events that may complete a step are read (from `funnel_steps`, where each step is a
    key range) and each visitor's events are matched in (time, id) order by `db.funnels.match_masks`; here one
    pass reads them all, each with the bit mask of the steps it completes computed in SQL, each event id once
    (`funnel_steps` may hold a row twice until its parts merge). When every step is exact (a custom event name or
    a literal path, no properties), ClickHouse also groups them into each entering visitor's journey; otherwise
    the events of inexact steps (globs, properties) are matched against the steps in Python, each distinct event
    once."""
    site = funnel.site or filters.site
    source = _source(filters)
    where, params = event_where(span, Filters(site, filters.dims, filters.bots))
    conditions: dict[tuple[str, tuple[object, ...]], int] = {}
    inexact = 0
    for i, step in enumerate(funnel.steps):
        query = _step_query(step, source)
        conditions[query] = conditions.get(query, 0) | 1 << i
        if not _exact(step):
            inexact |= 1 << i
    bit_sql = " + ".join(f"if({condition}, {bits}, 0)" for (condition, _p), bits in conditions.items())
    bit_params = [v for (_c, step_params) in conditions for v in step_params]
    any_sql = " OR ".join(f"({condition})" for condition, _p in conditions)
    rows_sql = (
        f"SELECT ts, id, {_JOURNEY_KEY} AS journey, toUInt64({bit_sql}) AS bits{{more}} "
        f"FROM {source.table} WHERE ({any_sql}) AND {where}"
    )
    n, window = len(funnel.steps), funnel.window_s
    if not inexact:
        journeys = ch.rows(
            f"SELECT arraySort(x -> (x.1, x.2), groupArray((ts, id, bits))) FROM ({rows_sql.format(more='')}) "
            "GROUP BY journey HAVING max(bitAnd(bits, 1)) = 1",
            (*bit_params, *bit_params, *params),
        )
        return summarise(funnel, (match_masks(n, window, *_times_and_masks(hits)) for (hits,) in journeys))
    found: list[tuple[float, int, str, int]] = []  # (ts, event id, journey key, step mask), in (ts, id) order
    checked: dict[tuple[str, str, str, str], int] = {}  # each distinct event is matched once
    more = f", if(bitAnd(bits, {inexact}) = 0, '', type), {source.path}, {source.name}, props"
    last = None
    for ts, event_id, key, bits, type_, path, name, props in ch.rows(
        rows_sql.format(more=more) + " ORDER BY ts, id", (*bit_params, *bit_params, *params)
    ):
        if event_id == last:  # the same event twice (in order, a repeated row comes next to the first)
            continue
        last = event_id
        bits = int(bits)
        if bits & inexact:
            what = (type_, path, name, props)
            mask = checked.get(what, -1)
            if mask < 0:
                mask = checked[what] = step_mask(funnel, str(type_), str(path), str(name), _props(props))
            bits = (bits & ~inexact) | (mask & bits & inexact)  # an inexact step's query only offers a candidate
        if bits:
            found.append((ts, event_id, key, bits))
    # Visitors who never reached the first step add nothing: they are not matched at all.
    entering = {hit[2] for hit in found if hit[3] & 1}
    by_journey: dict[str, tuple[list[float], list[int]]] = {key: ([], []) for key in entering}
    for ts, _event_id, key, bits in found:
        journey = by_journey.get(key)
        if journey is not None:
            journey[0].append(float(ts))
            journey[1].append(bits)
    return summarise(funnel, (match_masks(n, window, times, marks) for times, marks in by_journey.values()))
