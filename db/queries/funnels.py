"""The Funnels view: stored funnel definitions and per-step reports (matching is in collector.funnels)."""

from __future__ import annotations

import json
import logging
import sqlite3
import time
from collections.abc import Iterable
from typing import Any

from collector.funnels import (
    Funnel,
    FunnelError,
    Step,
    StepResult,
    funnel_from_config,
    make_funnel,
    match_journey,
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


_HIT_COLUMNS = "id, ts, type, path, name, props, visitor_id, session_id"
_WILDCARDS = "*?["


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


def _step_query(step: Step) -> tuple[str, str, list[object]]:
    """(index hint, SQL condition, parameters) selecting the events that may complete a step, through a
    narrow index: custom events by name, page hits by path (exact or by the glob's literal prefix)."""
    if step.kind == "event":
        return "INDEXED BY events_custom", "type = 'event' AND name = ?", [step.match]
    pages = "type IN ('pageview', 'request')"
    prefix = _literal_prefix(step.match)
    if prefix == step.match:
        return "INDEXED BY events_pages", f"{pages} AND path = ?", [step.match]
    # GLOB and fnmatch disagree on [classes]: only the prefix narrows those, Python decides.
    glob, glob_params = ("", []) if "[" in step.match else (" AND path GLOB ?", [step.match])
    if not prefix:
        return "", pages + glob, glob_params
    upper = _after_prefix(prefix)
    if upper is None:
        return "INDEXED BY events_pages", f"{pages} AND path >= ?{glob}", [prefix, *glob_params]
    return "INDEXED BY events_pages", f"{pages} AND path >= ? AND path < ?{glob}", [prefix, upper, *glob_params]


def funnel_report(conn: sqlite3.Connection, funnel: Funnel, span: Span, filters: Filters) -> list[StepResult]:
    """Per step: visitors entering, converting to the next step within the window, and time between steps.

    Only events that may complete a step are read, one indexed query per distinct step; the ordered matching
    runs in Python over each visitor's hits in (time, id) order."""
    site = funnel.site or filters.site
    where, params = event_where(span, Filters(site, filters.dims, filters.bots))
    hits: dict[int, tuple[Any, ...]] = {}
    for hint, condition, step_params in dict.fromkeys(
        (h, c, tuple(p)) for h, c, p in (_step_query(step) for step in funnel.steps)
    ):
        for row in conn.execute(
            f"SELECT {_HIT_COLUMNS} FROM events {hint} WHERE {condition} AND {where}", (*step_params, *params)
        ):
            hits[int(row[0])] = tuple(row)
    wants_props = any(step.props for step in funnel.steps)
    journeys: dict[str, list[tuple[float, str, str, str, dict[str, Any]]]] = {}
    for _id, ts, type_, path, name, props, visitor, session in sorted(hits.values(), key=lambda r: (r[1], r[0])):
        parsed: dict[str, Any] = {}
        if props and wants_props:
            try:
                value = json.loads(props)
                parsed = value if isinstance(value, dict) else {}
            except ValueError:
                pass
        key = visitor or f"session:{session}"
        journeys.setdefault(key, []).append((float(ts), str(type_), str(path), str(name), parsed))
    return summarise(funnel, (match_journey(funnel, journey) for journey in journeys.values()))
