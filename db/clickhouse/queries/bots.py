"""The Bots view on ClickHouse: crawlers by name, fingerprints by reputation, throttle refusals, bot share.

SQLite answers long spans partly from daily rollups that count exactly what the raw rows count (sessions by the
day they started, pageviews by their hour), so plain aggregates over `sessions FINAL` and `events` give the same
numbers for every span."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from db.clickhouse.client import ClickHouse
from db.clickhouse.queries.common import event_where, session_where
from db.clickhouse.queries.throttle import SEEN_SINCE
from db.clickhouse.rank import REPUTATION_SQL
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


_RANKED = "ORDER BY max_score DESC, requests DESC, fingerprint"
_LISTED = "fingerprint, ua, sessions, requests, max_score, level, bot_name, last_seen, flags"
_RANK_ORDER = (
    f"SELECT {_LISTED}, first_seen FROM fingerprint_ranks "
    "ORDER BY max_score DESC, requests DESC, fingerprint DESC, folded DESC LIMIT ?"
)
"""The rank rows from the worst down (db/clickhouse/rank.py): each fingerprint's first row is its current one."""
FIRST_READ = 256
MAX_READ = 16_384
"""Rank rows read at first, and at most before every fingerprint with news in the span is folded instead."""


def top_fingerprints(ch: ClickHouse, span: Span, limit: int = 50) -> list[FingerprintRow]:
    """Fingerprints seen in the span, worst first (highest bot score, then most requests)."""
    ranked = _worst(ch, span, limit)
    # The signals of each one's latest session (by last seen, then version), kept per fingerprint.
    listed = [str(r[0]) for r in ranked]
    signals = dict(
        ch.rows(
            "SELECT fingerprint, argMaxMerge(signals) FROM fingerprint_signals WHERE fingerprint IN ? "
            "GROUP BY fingerprint",
            (listed,),
        )
    ) if ranked else {}
    return [
        FingerprintRow(
            str(r[0]), str(r[1]), int(r[2]), int(r[3]), int(r[4]), str(r[5]), str(r[6]), float(r[7]),
            _signals(signals.get(r[0]), r[8]),
        )
        for r in ranked
    ]


def _worst(ch: ClickHouse, span: Span, limit: int) -> Sequence[Sequence[Any]]:
    """The rank rows (`_LISTED`) of the `limit` worst fingerprints seen in the span."""
    # The rank rows from the worst down, more of them until `limit` fingerprints seen in the span are among them
    # and every row ranking with the last of those is read too (SQLite breaks a tie by fingerprint); for short
    # spans, with few of the worst seen in them, every fingerprint with news since the span's start is folded.
    n = max(FIRST_READ, 4 * limit)
    while n <= MAX_READ:
        rows = ch.rows(_RANK_ORDER, (n,))
        ranked = worst_seen(rows, span, limit, complete=len(rows) < n)
        if ranked is not None:
            return ranked
        n *= 8
    fold = f"SELECT {_LISTED} FROM ({REPUTATION_SQL}) WHERE last_seen >= ? AND first_seen < ? {_RANKED} LIMIT ?"
    return ch.rows(fold.format(where=SEEN_SINCE), (span.start, span.start, span.end, limit))


def worst_seen(
    rows: Sequence[Sequence[Any]], span: Span, limit: int, *, complete: bool
) -> list[Sequence[Any]] | None:
    """The `limit` worst fingerprints seen in the span among rank rows read from the worst down (`_RANK_ORDER`;
    `complete`: they are all the rows), or None when rows further down could still rank among them."""
    seen: set[object] = set()
    found = []
    for r in rows:
        if r[0] in seen:
            continue  # an older rank row of a fingerprint already met
        seen.add(r[0])
        if r[7] >= span.start and r[9] < span.end:
            found.append(r)
    found.sort(key=lambda r: (-r[4], -r[3], r[0]))
    if complete:
        return found[:limit]
    if len(found) < limit:
        return None
    last, edge = rows[-1], found[limit - 1]
    # Rows not read rank at or below the last one read: none can tie with the edge once that one ranks below it.
    return found[:limit] if (last[4], last[3]) < (edge[4], edge[3]) else None


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
