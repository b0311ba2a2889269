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
from db.queries.funnels import _PAGES, _after_prefix, _by_query, _exact, _literal_prefix, _props, with_config

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
    pages, path = _PAGES, source.path
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


def _times_and_masks(hits: list[tuple[float, int, int]]) -> tuple[list[float], list[int]]:
    """The times and step masks of one journey's (ts, event id, mask) hits in (ts, id) order, each event once (a
    row stored twice sorts next to itself)."""
    if len(hits) > 1:
        hits = [hit for i, hit in enumerate(hits) if not i or hit[1] != hits[i - 1][1]]
    return [hit[0] for hit in hits], [hit[2] for hit in hits]


MAX_CANDIDATES = 10_000
"""Most distinct (type, path, name, props) candidates of inexact steps a report decides once each and binds into
its query as step masks; with more (many distinct props objects) it matches every candidate row in Python."""

_Conditions = dict[tuple[str, tuple[object, ...]], int]
"""Each distinct step query (SQL condition, parameters) → the bits of the steps it selects candidates for."""


def _conditions(funnel: Funnel, source: _Source) -> _Conditions:
    """The funnel's step queries on the source, each once, with the bits of the steps they serve."""
    return _by_query(funnel, lambda step: _step_query(step, source))


def _inexact_bits(funnel: Funnel) -> int:
    """The bits of the funnel's inexact steps (globs, properties: their queries only offer candidates)."""
    return sum(1 << i for i, step in enumerate(funnel.steps) if not _exact(step))


def _props_bits(funnel: Funnel) -> int:
    """The bits of the funnel's steps that check properties."""
    return sum(1 << i for i, step in enumerate(funnel.steps) if step.props)


def _any(conditions: Iterable[tuple[str, tuple[object, ...]]]) -> tuple[str, list[object]]:
    """One SQL condition for the events any of the step queries selects (none: false), and its parameters."""
    conditions = list(conditions)
    return " OR ".join(f"({sql})" for sql, _p in conditions) or "0", [v for _sql, p in conditions for v in p]


def _columns(source: _Source) -> str:
    """The columns besides props that decide which steps an event completes: type, path, name (on `funnel_steps`
    one column holds a page hit's path and an event's name)."""
    return ", ".join(dict.fromkeys(("type", source.path, source.name)))


def _rows(source: _Source, conditions: _Conditions, where: str, params: list[object]) -> tuple[str, list[object]]:
    """SQL for the events in `where` that may complete a step of `conditions`, as (ts, id, journey, bits: the
    steps they are candidates for, `_columns`, props), and its parameters."""
    bit_sql = " + ".join(f"if({condition}, {bits}, 0)" for (condition, _p), bits in conditions.items())
    any_sql, any_params = _any(conditions)
    sql = (
        f"SELECT ts, id, {_JOURNEY_KEY} AS journey, toUInt64({bit_sql}) AS bits, {_columns(source)}, props "
        f"FROM {source.table} WHERE ({any_sql}) AND {where}"
    )
    return sql, [*any_params, *any_params, *params]


def _candidate_masks(
    ch: ClickHouse, funnel: Funnel, source: _Source, where: str, params: list[object]
) -> dict[tuple[object, ...], int] | None:
    """The distinct (`_columns`, props) of the candidate events in `where` of the funnel's inexact steps (props ''
    unless a step checking props selects the event: fewer distinct ones), each with its step mask from
    `db.funnels.step_mask`; None when there are more than MAX_CANDIDATES of them."""
    conditions = _conditions(funnel, source)
    inexact, with_props = _inexact_bits(funnel), _props_bits(funnel)
    candidates_sql, candidates_params = _any(query for query, bits in conditions.items() if bits & inexact)
    checked_sql, checked_params = _any(query for query, bits in conditions.items() if bits & with_props)
    found = ch.rows(
        f"SELECT DISTINCT {_columns(source)}, if({checked_sql}, props, '') FROM {source.table} "
        f"WHERE ({candidates_sql}) AND {where} LIMIT {MAX_CANDIDATES + 1}",
        [*checked_params, *candidates_params, *params],
    )
    if len(found) > MAX_CANDIDATES:
        return None
    # (type, path, name, props), or (type, target, props) on `funnel_steps`
    return {key: step_mask(funnel, str(key[0]), str(key[1]), str(key[-2]), _props(key[-1])) for key in found}


def _lookup(source: _Source, masks: dict[tuple[object, ...], int], with_props: int) -> tuple[str, list[object]]:
    """SQL for the step mask of a candidate event (0 for one completing no step) from the masks of the distinct
    candidates (`_candidate_masks`), and its parameters. On `funnel_steps`, by the target alone where every
    candidate with that target has the same mask (a lookup by one column is cheaper than by the whole key)."""
    found = {key: mask for key, mask in masks.items() if mask}
    key_sql = f"tuple({_columns(source)}, if(bitAnd(bits, {with_props}) = 0, '', props))"
    if source.path != source.name:
        by_key = [list(column) for column in zip(*found, strict=True)]
        return f"transform({key_sql}, arrayZip({', '.join('?' * len(by_key))}), ?, 0)", [*by_key, list(found.values())]
    by_target: dict[object, set[int]] = {}
    for key, mask in masks.items():
        by_target.setdefault(key[1], set()).add(mask)
    mixed = [target for target, seen in by_target.items() if len(seen) > 1]
    single = {target: seen.pop() for target, seen in by_target.items() if len(seen) == 1 and 0 not in seen}
    sql, params = (f"transform({source.path}, ?, ?, 0)", [list(single), list(single.values())]) if single else ("0", [])
    if not mixed:
        return sql, params
    found = {key: mask for key, mask in found.items() if key[1] in mixed}
    by_key = [list(column) for column in zip(*found, strict=True)]
    return (
        f"if(has(?, {source.path}), transform({key_sql}, arrayZip({', '.join('?' * len(by_key))}), ?, 0), {sql})",
        [mixed, *by_key, list(found.values()), *params],
    )


def funnel_report(ch: ClickHouse, funnel: Funnel, span: Span, filters: Filters) -> list[StepResult]:
    """Per step: visitors entering, converting to the next step within the window, and time between steps.

    As on SQLite, only the events that may complete a step are read (from `funnel_steps`, where each step is a
    key range) and each visitor's events are matched in (time, id) order by `db.funnels.match_masks`. Here
    ClickHouse gives each event the bit mask of the steps it completes and groups the events into each entering
    visitor's journey, each event id once (`funnel_steps` may hold a row twice until its parts merge). SQL decides
    exact steps (a custom event name, a literal path); for inexact ones (globs, properties) a first query reads
    the distinct (type, path, name, props) of their candidate events, `db.funnels.step_mask` decides each once, and
    the masks go into the main query as a lookup (with more than MAX_CANDIDATES, `_matched_in_python`). An event
    stored between the two queries with a candidate the first did not see may be misjudged until the next report."""
    site = funnel.site or filters.site
    source = _source(filters)
    where, params = event_where(span, Filters(site, filters.dims, filters.bots))
    rows, rows_params = _rows(source, _conditions(funnel, source), where, params)
    inexact = _inexact_bits(funnel)
    mask_sql = "bits"
    mask_params: list[object] = []
    if inexact:
        candidates = _candidate_masks(ch, funnel, source, where, params)
        if candidates is None:
            return _matched_in_python(ch, funnel, source, rows, rows_params)
        mask_sql = f"bitAnd(bits, {~inexact & (1 << len(funnel.steps)) - 1})"
        if any(candidates.values()):  # an inexact step's query only offers candidates: their masks say which steps
            lookup, mask_params = _lookup(source, candidates, _props_bits(funnel))
            mask_sql = f"bitOr({mask_sql}, bitAnd(bits, {lookup}))"
    # Journeys with no event completing the second step reach the first only: counted in SQL, listed as empty.
    journeys = ch.rows(
        "SELECT hits, count() FROM (SELECT if(bitAnd(groupBitOr(mask), 2) = 0, [], "
        "arraySort(x -> (x.1, x.2), groupArray((ts, id, mask)))) AS hits "
        f"FROM (SELECT ts, id, journey, toUInt64({mask_sql}) AS mask FROM ({rows})) WHERE mask != 0 "
        "GROUP BY journey HAVING bitAnd(groupBitOr(mask), 1) = 1) GROUP BY hits",
        [*mask_params, *rows_params],
    )
    n, window = len(funnel.steps), funnel.window_s
    matched = (
        match_masks(n, window, *_times_and_masks(hits)) for hits, count in journeys if hits for _ in range(count)
    )
    return summarise(funnel, matched, first_only=sum(count for hits, count in journeys if not hits))


def _matched_in_python(
    ch: ClickHouse, funnel: Funnel, source: _Source, rows: str, params: list[object]
) -> list[StepResult]:
    """The report with every candidate row of `rows` (`_rows`) read in (ts, id) order and the events of inexact
    steps matched in Python, each distinct event once: for steps with too many distinct candidates to bind."""
    inexact = _inexact_bits(funnel)
    found: list[tuple[float, int, str, int]] = []  # (ts, event id, journey key, step mask), in (ts, id) order
    checked: dict[tuple[str, str, str, str], int] = {}  # each distinct event is matched once
    more = f"if(bitAnd(bits, {inexact}) = 0, '', type), {source.path}, {source.name}, props"
    last = None
    for ts, event_id, key, bits, type_, path, name, props in ch.rows(
        f"SELECT ts, id, journey, bits, {more} FROM ({rows}) ORDER BY ts, id", params
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
    n, window = len(funnel.steps), funnel.window_s
    return summarise(funnel, (match_masks(n, window, times, marks) for times, marks in by_journey.values()))
