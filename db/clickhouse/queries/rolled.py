"""Reading the ClickHouse rollups (db/clickhouse/rollups.py): which parts of a span they answer, and the WHERE
clause over `rollup_events` for those parts.

As on SQLite (db/sqlite/queries), a span is cut into raw edges shorter than an hour, hours and whole days
(`split_span`): the edges read raw events, the rest the hourly and daily sums, and the parts add up to exactly
what the raw rows give. Dimension filters always read raw rows (the rollups hold no dimensions)."""

from __future__ import annotations

from db.queries.common import Filters, Pieces, Span, bot_list_sql, exact_visitors, site_sql
from db.rules import DAY, HOUR


def use_rolled(span: Span, filters: Filters, rollups: bool | None) -> bool:
    """Whether the rollups answer (long spans, or `rollups=True`), never with a dimension filter."""
    if filters.dims or rollups is False:
        return False
    return rollups is True or not exact_visitors(span)


def rolled_where(pieces: Pieces, filters: Filters, *, hourly_only: bool = False) -> tuple[str, list[object]]:
    """Rollup rows of the pieces' hours and days for the filters' site and bots (`hourly_only`: every rolled-up
    part from hourly rows, for answers per hour)."""
    if hourly_only:  # the rolled-up middle is one run of whole hours
        parts = [(HOUR, pieces.rolled)] if pieces.rolled is not None else []
    else:
        parts = [(HOUR, s) for s in pieces.hourly] + [(DAY, s) for s in pieces.daily]
    ranges = " OR ".join("(grain = ? AND bucket >= ? AND bucket < ?)" for _ in parts) or "0"
    site, site_params = site_sql(filters.site)
    params: list[object] = [v for grain, s in parts for v in (grain, int(s.start), int(s.end))]
    return f"({ranges}){site} AND is_bot IN ({bot_list_sql(filters.bots)})", [*params, *site_params]
