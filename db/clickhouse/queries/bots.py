"""The Bots view on ClickHouse: crawlers by name, fingerprints by reputation, throttle refusals, bot share.

SQLite answers long spans partly from daily rollups that count exactly what the raw rows count (sessions by the
day they started, pageviews by their hour), so plain aggregates over `sessions FINAL` and `events` give the same
numbers for every span."""

from __future__ import annotations

from db.clickhouse.client import ClickHouse
from db.clickhouse.queries.common import event_where, session_where
from db.clickhouse.queries.throttle import LEVEL_ONLY, REPUTATION_SQL, SEEN_SINCE
from db.queries.bots import BEHAVIOURAL, BotRow, DropRow, FingerprintRow, _signals
from db.queries.common import Filters, Span
from db.queries.overview import PAGE_TYPES_SQL


def top_bots(
    ch: ClickHouse, span: Span, filters: Filters, limit: int = 20, *, rollups: bool | None = None
) -> list[BotRow]:
    """Bot sessions started in the span grouped by bot name (unnamed ones as "behavioural"), busiest first
    (`rollups` is accepted for SQLite's signature: there are none here, every span reads raw rows)."""
    where, params = session_where(span, Filters(filters.site, filters.dims, "bots"))
    found: dict[str, list[int]] = {}
    for name, sessions, requests in ch.rows(
        f"SELECT bot_name, count(), sum(pageviews + requests + events) FROM sessions FINAL WHERE {where} "
        "GROUP BY bot_name",
        params,
    ):
        cur = found.setdefault(str(name) or BEHAVIOURAL, [0, 0])
        cur[0] += int(sessions)
        cur[1] += int(requests)
    order = sorted(((n, v) for n, v in found.items() if v[0]), key=lambda kv: (-kv[1][1], kv[0]))
    return [BotRow(name, v[0], v[1]) for name, v in order[:limit]]


def top_fingerprints(ch: ClickHouse, span: Span, limit: int = 50) -> list[FingerprintRow]:
    """Fingerprints seen in the span, worst first (highest bot score, then most requests)."""
    # Ranking needs only cheap aggregates (seen times, requests, score); the whole reputation (the newest User-Agent,
    # bot name and flags) is then folded for the listed fingerprints only.
    ranked = (
        "SELECT fingerprint FROM (SELECT fingerprint, minIf(seen, NOT level_only) AS first_seen, "
        "maxIf(seen, NOT level_only) AS last_seen, sum(requests) AS requests, max(score) AS max_score, "
        f"countIf(NOT level_only) AS news FROM (SELECT fingerprint, seen, requests, score, {LEVEL_ONLY} AS level_only "
        f"FROM fingerprint_news{SEEN_SINCE}) GROUP BY fingerprint) "
        "WHERE news > 0 AND last_seen >= ? AND first_seen < ? "
        "ORDER BY max_score DESC, requests DESC, fingerprint LIMIT ?"
    )
    rows = ch.rows(
        "SELECT fingerprint, ua, sessions, requests, max_score, level, bot_name, last_seen, flags "
        f"FROM ({REPUTATION_SQL.format(where=f' WHERE fingerprint IN ({ranked})')}) "
        "ORDER BY max_score DESC, requests DESC, fingerprint",
        (span.start, span.start, span.end, limit),
    )
    # The signals of each one's latest session, read for the listed fingerprints only. Their sessions' keys, found
    # without FINAL (a kept version is among all versions), let FINAL merge only the granules holding them.
    listed = [str(r[0]) for r in rows]
    signals = dict(
        ch.rows(
            "SELECT fingerprint, argMax(bot_signals, last_seen) FROM sessions FINAL WHERE fingerprint IN ? "
            "AND (site, started, id) IN (SELECT site, started, id FROM sessions WHERE fingerprint IN ?) "
            "GROUP BY fingerprint",
            (listed, listed),
        )
    ) if rows else {}
    return [
        FingerprintRow(
            str(r[0]), str(r[1]), int(r[2]), int(r[3]), int(r[4]), str(r[5]), str(r[6]), float(r[7]),
            _signals(signals.get(r[0]), r[8]),
        )
        for r in rows
    ]


def drops_by_level(ch: ClickHouse, span: Span) -> list[DropRow]:
    """Throttle refusals in the span (minute buckets) per level and reason, most first."""
    rows = ch.rows(
        "SELECT level, reason, sum(count) AS n FROM throttle_drops WHERE bucket >= ? AND bucket < ? "
        "GROUP BY level, reason ORDER BY n DESC, level, reason",
        (int(span.start // 60 * 60), span.end),
    )
    return [DropRow(str(r[0]), str(r[1]), int(r[2])) for r in rows]


def bot_share(ch: ClickHouse, span: Span, filters: Filters) -> float:
    """Percent (0-100) of pageviews made by bots in the span."""
    where, params = event_where(span, Filters(filters.site, filters.dims, "all"))
    pageviews, bots = ch.one(
        f"SELECT countIf(type IN {PAGE_TYPES_SQL}), countIf(type IN {PAGE_TYPES_SQL} AND is_bot = 1) FROM events "
        f"WHERE {where}",
        params,
    ) or (0, 0)
    return round(100.0 * bots / pageviews, 2) if pageviews else 0.0
