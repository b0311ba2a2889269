"""Stored funnel definitions as both engines read them back, and the SQL pieces of narrowing a funnel's rows
(matching itself is in db.funnels)."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Hashable, Iterable
from typing import Any, TypeVar

from db.funnels import (
    Funnel,
    FunnelError,
    Step,
    funnel_from_config,
    make_funnel,
)
from db.queries.overview import PAGE_TYPES_SQL

log = logging.getLogger("sitelens.funnels")


def _from_row(row: Any) -> Funnel | None:
    try:
        steps = json.loads(row[2])
        return make_funnel(str(row[0]), steps if isinstance(steps, list) else [], int(row[3]), str(row[1]))
    except (ValueError, TypeError, FunnelError) as exc:
        log.warning("stored funnel %r is invalid and skipped: %s", row[0], exc)
        return None


_WILDCARDS = "*?["
_JOURNEY_KEY = "CASE WHEN visitor_id != '' THEN visitor_id ELSE 'session:' || session_id END"
"""Whose journey an event belongs to: its visitor, or its session when it has no visitor id."""


_PAGES = f"type IN {PAGE_TYPES_SQL}"
"""Page hits, as SQLite's partial index `events_pages` (humans) says it: a query must say it so to use the index."""


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
    pages = _PAGES
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


def _exact(step: Step) -> bool:
    """Whether every event a step's query selects completes the step (nothing left to decide in Python): a custom
    event name or a literal path, no properties."""
    return not step.props and (step.kind == "event" or _literal_prefix(step.match) == step.match)


_Query = TypeVar("_Query", bound=Hashable)


def _by_query(funnel: Funnel, query: Callable[[Step], _Query]) -> dict[_Query, int]:
    """The funnel's step queries (`query` of each step), each once, with the bits of the steps they serve."""
    queries: dict[_Query, int] = {}
    for i, step in enumerate(funnel.steps):
        key = query(step)
        queries[key] = queries.get(key, 0) | 1 << i
    return queries


def _props(text: str) -> dict[str, Any]:
    """A props object from its JSON text (anything else: no props)."""
    if not text:
        return {}
    try:
        value = json.loads(text)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def with_config(cfg_funnels: Iterable[Any], stored_rows: Iterable[Any]) -> list[Funnel]:
    """Funnels from the config (first; they win on a name clash) and stored ones, as (name, site, steps, window_s)
    rows by name; invalid ones are logged and skipped. Every engine's `list_funnels`."""
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
    for row in stored_rows:
        stored = _from_row(row)
        if stored is not None and stored.name not in names:
            out.append(stored)
    return out
