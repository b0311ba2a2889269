"""The Bots view on ClickHouse: crawlers by name, fingerprints by reputation, throttle refusals, bot share.

SQLite answers long spans partly from daily rollups that count exactly what the raw rows count (sessions by the
day they started, pageviews by their hour), so plain aggregates over `sessions FINAL` and `events` give the same
numbers for every span."""

from __future__ import annotations

from db.clickhouse.client import ClickHouse
from db.clickhouse.queries.common import event_where, session_where
from db.clickhouse.queries.throttle import REPUTATION_SQL, SEEN_SINCE
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
_SCORE_FLOOR = (
    "(SELECT if(count() < ?, NULL, min(score)) FROM (SELECT score FROM fingerprint_scores WHERE seen >= ? "
    "AND seen < ? ORDER BY score DESC LIMIT ?))"
)
"""The lowest of the `limit` highest (score, fingerprint) pairs last seen in the span (NULL when there are fewer):
a cheap guess of the lowest max score among the worst `limit` fingerprints seen in it."""
_CANDIDATES = f" WHERE fingerprint IN (SELECT fingerprint FROM fingerprint_scores WHERE score >= {_SCORE_FLOOR})"


def top_fingerprints(ch: ClickHouse, span: Span, limit: int = 50) -> list[FingerprintRow]:
    """Fingerprints seen in the span, worst first (highest bot score, then most requests)."""
    # First only the fingerprints with a news row scoring at least the floor are folded (a few thousand of a
    # million, a range of `fingerprint_scores`). Each has a max score at or above the floor and every other
    # fingerprint one below it, so when `limit` of them were seen in the span no other can rank among them: the
    # answer is the one folding every fingerprint gives. Otherwise (fewer fingerprints in the span than asked, or
    # the span's best pairs belonging to fewer than `limit` of them) every fingerprint with news since the span's
    # start is folded.
    seen = (span.start, span.end)
    fold = f"SELECT {_LISTED} FROM ({REPUTATION_SQL}) WHERE last_seen >= ? AND first_seen < ? {_RANKED} LIMIT ?"
    rows = ch.rows(fold.format(where=_CANDIDATES), (limit, *seen, limit, *seen, limit))
    if len(rows) < limit:
        rows = ch.rows(fold.format(where=SEEN_SINCE), (span.start, *seen, limit))
    # The signals of each one's latest session (by last seen, then version), kept per fingerprint.
    listed = [str(r[0]) for r in rows]
    signals = dict(
        ch.rows(
            "SELECT fingerprint, argMaxMerge(signals) FROM fingerprint_signals WHERE fingerprint IN ? "
            "GROUP BY fingerprint",
            (listed,),
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
