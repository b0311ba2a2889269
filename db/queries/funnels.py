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


def _prefilter(funnel: Funnel) -> tuple[str, list[object]]:
    """SQL narrowing events to those any step could match (exact matching happens in Python)."""
    parts: list[str] = []
    params: list[object] = []
    for step in funnel.steps:
        if step.kind == "event":
            parts.append("(type = 'event' AND name = ?)")
            params.append(step.match)
        elif "[" in step.match:  # GLOB and fnmatch disagree on classes: let Python decide
            parts.append("type IN ('pageview', 'request')")
        else:
            parts.append("(type IN ('pageview', 'request') AND path GLOB ?)")
            params.append(step.match)
    return "(" + " OR ".join(parts) + ")", params


def funnel_report(conn: sqlite3.Connection, funnel: Funnel, span: Span, filters: Filters) -> list[StepResult]:
    """Per step: visitors entering, converting to the next step within the window, and time between steps."""
    site = funnel.site or filters.site
    where, params = event_where(span, Filters(site, filters.dims, filters.bots))
    pre, pre_params = _prefilter(funnel)
    journeys: dict[str, list[tuple[float, str, str, str, dict[str, Any]]]] = {}
    for ts, type_, path, name, props, visitor, session in conn.execute(
        f"SELECT ts, type, path, name, props, visitor_id, session_id FROM events WHERE {where} AND {pre} "
        "ORDER BY ts, id",
        (*params, *pre_params),
    ):
        parsed: dict[str, Any] = {}
        if props:
            try:
                value = json.loads(props)
                parsed = value if isinstance(value, dict) else {}
            except ValueError:
                pass
        key = visitor or f"session:{session}"
        journeys.setdefault(key, []).append((float(ts), str(type_), str(path), str(name), parsed))
    return summarise(funnel, (match_journey(funnel, hits) for hits in journeys.values()))
