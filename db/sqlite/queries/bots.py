"""SQLite: the Bots view: crawlers by name, fingerprints by reputation, throttle refusals, bot share of traffic."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable

from db.queries.bots import BEHAVIOURAL, BotRow, DropRow, FingerprintRow, _signals
from db.queries.common import Filters, Span, session_where, split_days
from db.queries.overview import use_rollups
from db.sqlite.queries.overview import rolled_rows, totals


def top_bots(
    conn: sqlite3.Connection, span: Span, filters: Filters, limit: int = 20, *, rollups: bool | None = None
) -> list[BotRow]:
    """Bot sessions started in the span grouped by bot name, busiest first (daily rollups for the whole
    days of spans longer than two days without dimension filters; `rollups` forces one path, for tests)."""
    bot_filters = Filters(filters.site, filters.dims, "bots")
    rollups = use_rollups(span, filters) if rollups is None else rollups
    found: dict[str, list[int]] = {}

    def add(rows: Iterable[tuple[object, ...]]) -> None:
        for name, sessions, requests in rows:
            cur = found.setdefault(str(name) or BEHAVIOURAL, [0, 0])
            cur[0] += int(sessions or 0)  # type: ignore[call-overload]
            cur[1] += int(requests or 0)  # type: ignore[call-overload]

    def raw(part: Span) -> None:
        where, params = session_where(part, bot_filters)
        add(
            conn.execute(
                f"SELECT bot_name, count(*), sum(pageviews + requests + events) FROM sessions WHERE {where} "
                "GROUP BY bot_name",
                params,
            )
        )

    if not rollups:
        raw(span)
    else:
        pieces = split_days(span)
        for part in pieces.raw:
            raw(part)
        add(
            rolled_rows(
                conn,
                "rollup_dims",
                "value",
                "sum(sessions), sum(hits + events)",
                span,
                bot_filters,
                " AND dim = 'bot_name'",
                (),
                pieces,
            )
        )
    order = sorted(((n, v) for n, v in found.items() if v[0]), key=lambda kv: (-kv[1][1], kv[0]))
    return [BotRow(name, v[0], v[1]) for name, v in order[:limit]]


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
    # Pageviews and bot pageviews are the same from rollups at any span length; visitors are not needed.
    t = totals(conn, span, Filters(filters.site, filters.dims, "all"), rollups=None if filters.dims else True)
    return round(100.0 * t.bots / t.pageviews, 2) if t.pageviews else 0.0
