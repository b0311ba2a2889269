"""SQLite: the Funnels view's stored definitions and per-step reports (matching is in db.funnels)."""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from db.funnels import (
    Funnel,
    Step,
    StepResult,
    make_funnel,
    match_masks,
    step_mask,
    summarise,
)
from db.queries.common import DIMENSIONS, Filters, Span, event_where
from db.queries.funnels import (
    _JOURNEY_KEY,
    _PAGES,
    _after_prefix,
    _by_query,
    _exact,
    _literal_prefix,
    _props,
    _step_query,
    with_config,
)
from db.rules import PAGE_TYPES


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


MAX_CANDIDATES = 10_000
"""Most distinct candidates (page paths, props objects) of an inexact step's query decided once each and bound into
it as a list; with more, every candidate row is matched in Python (`_matched_in_python`)."""

MAX_ROWS = 20_000
"""Most events that may complete the first step a report reads and groups into visitors in Python; with more, SQL
first counts the visitors who can only reach the first step, and only the others' events are read (a second pass
over the indexes: not taken when a filter on an event column reads each event's table row)."""

_Queries = dict[tuple[str, str, tuple[object, ...]], int]
"""Each distinct step query (index hint, SQL condition, parameters) → the bits of the steps it selects events for."""


@dataclass(slots=True, frozen=True)
class _Arm:
    """One indexed query for events that complete exactly the steps of `mask` (bit i: step i)."""

    hint: str
    condition: str
    params: tuple[object, ...]
    mask: int


def _queries(funnel: Funnel, humans: bool) -> _Queries:
    """The funnel's step queries, each once, with the bits of the steps they serve."""
    return _by_query(funnel, lambda step: _step_query(step, humans))


def _indexed_paths(conn: sqlite3.Connection, pattern: str, limit: int) -> list[tuple[str, ...]]:
    """The distinct paths of human page hits from a glob's literal prefix on (every site, every day: more than the
    report's candidates), one seek into `events_pages` each rather than a read of every hit; at most `limit`."""
    prefix = _literal_prefix(pattern)
    upper = _after_prefix(prefix)
    below, below_params = ("", ()) if upper is None else (" AND path < ?", (upper,))
    smallest = f"SELECT min(path) FROM events INDEXED BY events_pages WHERE {_PAGES} AND is_bot = 0 AND path"
    sql = (
        f"WITH RECURSIVE paths(path) AS (SELECT ({smallest} >= ?) "
        f"UNION ALL SELECT ({smallest} > paths.path) FROM paths WHERE path IS NOT NULL{below} LIMIT {limit}) "
        f"SELECT path FROM paths WHERE path IS NOT NULL{below}"
    )
    return conn.execute(sql, (prefix, *below_params, *below_params)).fetchall()


def _candidates(
    conn: sqlite3.Connection,
    query: tuple[str, str, tuple[object, ...]],
    steps: list[Step],
    humans: bool,
    where: tuple[str, list[object]],
) -> list[str] | None:
    """The distinct candidates of one inexact step query: the paths the page index holds from a glob's prefix on
    (human page hits), or the props objects of a custom event in `where`. None: more than MAX_CANDIDATES, or page
    steps no index lists the candidates of without reading every row (bots' hits, steps checking props)."""
    limit = MAX_CANDIDATES + 1
    if steps[0].kind == "path":
        if not humans or any(step.props for step in steps):
            return None
        found = _indexed_paths(conn, steps[0].match, limit)
    else:
        hint, condition, params = query
        found = conn.execute(
            f"SELECT DISTINCT props FROM events {hint} WHERE {condition} AND {where[0]} LIMIT {limit}",
            (*params, *where[1]),
        ).fetchall()
    return None if len(found) > MAX_CANDIDATES else [str(row[0]) for row in found]


def _decided(
    conn: sqlite3.Connection,
    funnel: Funnel,
    query: tuple[str, str, tuple[object, ...]],
    bits: int,
    humans: bool,
    where: tuple[str, list[object]],
) -> list[_Arm] | None:
    """An inexact step query as arms whose events complete known steps: its distinct candidates (a page hit's path,
    a custom event's props) each decided once by `step_mask`, and the query narrowed to the candidates of each
    mask (page hits: one seek into the page index per path). None: see `_candidates`; or a path whose page types
    complete different steps."""
    steps = [step for i, step in enumerate(funnel.steps) if bits >> i & 1]  # all of one kind: one query
    found = _candidates(conn, query, steps, humans, where)
    if found is None:
        return None
    pages = steps[0].kind == "path"
    by_mask: dict[int, list[str]] = {}
    for value in found:
        if pages:
            masks = {step_mask(funnel, type_, value, "", {}) & bits for type_ in PAGE_TYPES}
        else:
            masks = {step_mask(funnel, "event", "", steps[0].match, _props(value)) & bits}
        if len(masks) > 1:
            return None
        mask = masks.pop()
        if mask:
            by_mask.setdefault(mask, []).append(value)
    hint, condition, params = ("INDEXED BY events_pages", _PAGES, ()) if pages else query
    column = "path" if pages else "props"
    return [
        _Arm(hint, f"{condition} AND {column} IN (SELECT value FROM json_each(?))", (*params, json.dumps(values)), mask)
        for mask, values in by_mask.items()
    ]


def _arms(conn: sqlite3.Connection, funnel: Funnel, humans: bool, where: tuple[str, list[object]]) -> list[_Arm] | None:
    """The report's indexed queries, each selecting events that complete known steps (inexact steps' queries
    narrowed to their decided candidates: `_decided`); None when an inexact step has too many candidates."""
    arms: list[_Arm] = []
    for query, bits in _queries(funnel, humans).items():
        if all(_exact(step) for i, step in enumerate(funnel.steps) if bits >> i & 1):
            arms.append(_Arm(*query, bits))
            continue
        decided = _decided(conn, funnel, query, bits, humans, where)
        if decided is None:
            return None
        arms.extend(decided)
    return arms


def _union(
    arms: Sequence[_Arm], columns: str, where: tuple[str, list[object]], extra: tuple[str, list[object]] = ("", [])
) -> tuple[str, list[object]]:
    """SQL for the `columns` of every arm's events in `where` (journey: whose journey, mask: the arm's steps), and
    its parameters; `extra`: a further condition on the arms whose events cannot complete the second step."""
    selects, params = [], []
    for arm in arms:
        more, more_params = ("", []) if arm.mask & 2 else extra
        selects.append(
            f"SELECT {columns}, {arm.mask} AS mask FROM events {arm.hint} WHERE {arm.condition} AND {where[0]}{more}"
        )
        params += [*arm.params, *where[1], *more_params]
    return " UNION ALL ".join(selects), params


def funnel_report(conn: sqlite3.Connection, funnel: Funnel, span: Span, filters: Filters) -> list[StepResult]:
    """Per step: visitors entering, converting to the next step within the window, and time between steps.

    Only events that may complete a step are read, by indexed queries (`_arms`) that each give their events a mask of
    the steps they complete: SQL decides exact steps (a custom event name, a literal path); for inexact ones
    (globs, properties) a first query reads their distinct candidates, `db.funnels.step_mask` decides each once,
    and the query is narrowed to the candidates of each mask (else `_matched_in_python`). Up to MAX_ROWS events of
    the first step come to Python (any number when a filter reads every event's row anyway); with more, SQL counts
    the visitors with no event that may complete the second step (they can only reach the first) and only the
    others' events come (`_first_only_counted`). Each visitor's events are matched in (time, id) order, each event
    once, by `db.funnels.match_masks`. Run it in one read transaction: an event stored between the queries with a
    candidate the first did not see is otherwise missed."""
    site = funnel.site or filters.site
    where = event_where(span, Filters(site, filters.dims, filters.bots))
    humans = filters.bots == "humans"  # event_where then says "is_bot = 0", as the page index requires
    arms = _arms(conn, funnel, humans, where)
    if arms is None:
        return _matched_in_python(conn, funnel, _queries(funnel, humans), where)
    if not any(arm.mask & 1 for arm in arms):
        return summarise(funnel, [])
    columns = f"ts, id, {_JOURNEY_KEY}"
    cur = conn.cursor()
    cur.row_factory = None  # plain tuples: thousands of rows
    rows = cur.execute(*_union([arm for arm in arms if arm.mask & 1], columns, where))
    if any(DIMENSIONS[name].events is not None for name, _value in filters.dims):
        # A filter on an event column reads each candidate's table row: reading them all twice costs more than
        # grouping them all in Python.
        hits = rows.fetchall()
    elif len(hits := rows.fetchmany(MAX_ROWS + 1)) > MAX_ROWS:
        cur.close()
        return _first_only_counted(conn, funnel, arms, where)
    if later := [arm for arm in arms if not arm.mask & 1]:
        hits += cur.execute(*_union(later, columns, where)).fetchall()
    return _summarised(funnel, hits)


def _first_only_counted(
    conn: sqlite3.Connection, funnel: Funnel, arms: list[_Arm], where: tuple[str, list[object]]
) -> list[StepResult]:
    """The report with the visitors entering counted in SQL and only the events of those with an event that may
    complete the second step read: most visitors of a popular first step go no further."""
    journey = f"{_JOURNEY_KEY} AS journey"
    sql, params = _union([arm for arm in arms if arm.mask & 1], journey, where)
    entering = int(conn.execute(f"SELECT count(DISTINCT journey) FROM ({sql})", params).fetchone()[0])
    reaching, reaching_params = _union([arm for arm in arms if arm.mask & 2], journey, where)
    if not reaching:
        return summarise(funnel, [], first_only=entering)
    probe = (f" AND {_JOURNEY_KEY} IN (SELECT journey FROM ({reaching}))", reaching_params)
    cur = conn.cursor()
    cur.row_factory = None  # plain tuples: thousands of rows
    return _summarised(funnel, cur.execute(*_union(arms, f"ts, id, {_JOURNEY_KEY}", where, probe)).fetchall(), entering)


def _matched_in_python(
    conn: sqlite3.Connection, funnel: Funnel, queries: _Queries, where: tuple[str, list[object]]
) -> list[StepResult]:
    """The report with every candidate row of every step query read, the events of inexact steps matched in Python
    (each distinct event once), and every entering visitor's events grouped and matched in Python: for steps with
    too many distinct candidates to bind."""
    cur = conn.cursor()
    cur.row_factory = None  # plain tuples: thousands of rows
    hits: list[tuple[float, int, str, int]] = []  # (ts, event id, journey key, step mask)
    for (hint, condition, step_params), all_bits in queries.items():
        sql = f"FROM events {hint} WHERE {condition} AND {where[0]}"
        params = (*step_params, *where[1])
        if all(_exact(step) for i, step in enumerate(funnel.steps) if all_bits >> i & 1):
            # Exact steps (a path or an event name, no props) match every row their query returns: SQLite
            # builds the rows, nothing is checked in Python.
            hits.extend(cur.execute(f"SELECT ts, id, {_JOURNEY_KEY}, {all_bits} {sql}", params))
            continue
        checked: dict[tuple[str, str, str, str], int] = {}  # each distinct event is matched once
        for ts, event_id, key, type_, path, name, props in cur.execute(
            f"SELECT ts, id, {_JOURNEY_KEY}, type, path, name, props {sql}", params
        ):
            what = (type_, path, name, props)
            bits = checked.get(what, -1)
            if bits < 0:
                mask = step_mask(funnel, str(type_), str(path), str(name), _props(props))
                bits = checked[what] = mask & all_bits  # the other steps' queries speak for themselves
            if bits:
                hits.append((ts, event_id, key, bits))
    return _summarised(funnel, hits)


def _summarised(
    funnel: Funnel, hits: list[tuple[float, int, str, int]], entering: int | None = None
) -> list[StepResult]:
    """The report from the (ts, event id, journey key, step mask) candidate events of visitors; `entering`: how
    many visitors reached the first step in all, when more did than have events here (counted, not listed)."""
    hits.sort()
    # Visitors who never reached the first step add nothing: they are not matched at all.
    listed = {hit[2] for hit in hits if hit[3] & 1}
    journeys: dict[str, tuple[list[float], list[int]]] = {key: ([], []) for key in listed}
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
    matched = (match_masks(n, window, times, marks) for times, marks in journeys.values())
    return summarise(funnel, matched, first_only=0 if entering is None else entering - len(listed))
