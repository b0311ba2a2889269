"""The Bots view: crawlers by name, fingerprints by reputation, throttle refusals, bot share of traffic."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass

from db.queries.common import Filters, Span, session_where
from db.queries.overview import totals


@dataclass(slots=True, frozen=True)
class BotRow:
    """A bot (crawler name, or "behavioural" for unnamed ones caught by their behaviour)."""

    name: str
    sessions: int
    requests: int


@dataclass(slots=True, frozen=True)
class FingerprintRow:
    """A client fingerprint with its reputation and the reasons of its latest bot score."""

    fingerprint: str
    ua: str
    sessions: int
    requests: int
    max_score: int
    level: str
    bot_name: str
    last_seen: float
    signals: tuple[str, ...]
    """Behavioural signals ("name +weight") of its latest session, then request-level flags."""


@dataclass(slots=True, frozen=True)
class DropRow:
    """Requests the throttle refused, per level and reason."""

    level: str
    reason: str
    count: int


def top_bots(conn: sqlite3.Connection, span: Span, filters: Filters, limit: int = 20) -> list[BotRow]:
    """Bot sessions started in the span grouped by bot name, busiest first."""
    where, params = session_where(span, Filters(filters.site, filters.dims, "bots"))
    rows = conn.execute(
        "SELECT coalesce(nullif(bot_name, ''), 'behavioural') AS n, count(*), "
        f"sum(pageviews + requests + events) AS r FROM sessions WHERE {where} "
        "GROUP BY n ORDER BY r DESC, n LIMIT ?",
        (*params, limit),
    ).fetchall()
    return [BotRow(str(r[0]), int(r[1]), int(r[2] or 0)) for r in rows]


def _signals(bot_signals: str | None, flags: str | None) -> tuple[str, ...]:
    """Readable reasons from the stored JSON (bad JSON gives none rather than an error)."""
    out: list[str] = []
    try:
        for s in json.loads(bot_signals or "[]"):
            if isinstance(s, dict):
                out.append(f"{s.get('name', '?')} +{s.get('weight', 0)}")
    except ValueError:
        pass
    try:
        out.extend(str(f) for f in json.loads(flags or "[]") if isinstance(f, str))
    except (ValueError, TypeError):
        pass
    return tuple(out)


def top_fingerprints(conn: sqlite3.Connection, span: Span, limit: int = 50) -> list[FingerprintRow]:
    """Fingerprints seen in the span, worst first (highest bot score, then most requests)."""
    rows = conn.execute(
        "SELECT f.fingerprint, f.ua, f.sessions, f.requests, f.max_score, f.level, f.bot_name, f.last_seen, "
        "(SELECT s.bot_signals FROM sessions s WHERE s.fingerprint = f.fingerprint ORDER BY s.last_seen DESC "
        "LIMIT 1), f.flags FROM fingerprints f WHERE f.last_seen >= ? AND f.first_seen < ? "
        "ORDER BY f.max_score DESC, f.requests DESC, f.fingerprint LIMIT ?",
        (span.start, span.end, limit),
    ).fetchall()
    return [
        FingerprintRow(
            str(r[0]),
            str(r[1]),
            int(r[2]),
            int(r[3]),
            int(r[4]),
            str(r[5]),
            str(r[6]),
            float(r[7]),
            _signals(r[8], r[9]),
        )
        for r in rows
    ]


def drops_by_level(conn: sqlite3.Connection, span: Span) -> list[DropRow]:
    """Throttle refusals in the span (minute buckets) per level and reason, most first."""
    rows = conn.execute(
        "SELECT level, reason, sum(count) AS n FROM throttle_drops WHERE bucket >= ? AND bucket < ? "
        "GROUP BY level, reason ORDER BY n DESC, level, reason",
        (int(span.start // 60 * 60), span.end),
    ).fetchall()
    return [DropRow(str(r[0]), str(r[1]), int(r[2])) for r in rows]


def bot_share(conn: sqlite3.Connection, span: Span, filters: Filters) -> float:
    """Percent (0-100) of pageviews made by bots in the span."""
    t = totals(conn, span, Filters(filters.site, filters.dims, "all"))
    return round(100.0 * t.bots / t.pageviews, 2) if t.pageviews else 0.0
