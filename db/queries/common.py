"""What every statistics query shares: time spans, ranges, filters and how they become parameterised SQL.

The records and rules every engine shares; the SQL is in db/sqlite/queries and db/clickhouse/queries.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime

from db.rules import DAY, HOUR

RANGES = ("live", "1h", "24h", "7d", "30d", "90d", "all")
"""Range names the views and the read API accept (plus "custom:START..END")."""
_RANGE_SECONDS = {"live": 30 * 60, "1h": HOUR, "24h": DAY, "7d": 7 * DAY, "30d": 30 * DAY, "90d": 90 * DAY}
EXACT_VISITORS_MAX_S = 2 * DAY
"""Spans up to this long count distinct visitor ids from raw rows; longer ones add up daily first visits."""
LIVE_WINDOW_S = 300
"""Live visitors are those seen in the last five minutes of a span."""


@dataclass(slots=True, frozen=True)
class Span:
    """A time span [start, end) in unix seconds."""

    start: float
    end: float

    @property
    def seconds(self) -> float:
        return self.end - self.start

    def previous(self) -> Span:
        """The equally long period just before this one (for comparisons)."""
        return Span(self.start - self.seconds, self.start)


def span_for(
    range_name: str, now: float, *, custom: tuple[float, float] | None = None, first_ts: float | None = None
) -> Span:
    """The span a range name stands for at `now`; "all" starts at `first_ts` (or 0, meaning the beginning)."""
    if range_name == "custom":
        if custom is None:
            raise ValueError("custom range needs a (start, end) pair")
        start, end = custom
        if not end > start:
            raise ValueError("custom range: the end must be after the start")
        return Span(float(start), float(end))
    if range_name == "all":
        return Span(float(first_ts) if first_ts is not None else 0.0, float(now))
    seconds = _RANGE_SECONDS.get(range_name)
    if seconds is None:
        raise ValueError(f"unknown range {range_name!r}: {_ACCEPTED}")
    return Span(float(now - seconds), float(now))


_ACCEPTED = f"accepted: {', '.join(RANGES)} or custom:START..END (ISO dates or times, UTC unless an offset is given)"


def parse_range(text: str) -> str | tuple[float, float]:
    """A range name, or (start, end) for "custom:2024-05-01..2024-05-08" (ISO); ValueError otherwise."""
    text = text.strip()
    if text in RANGES:
        return text
    if text.startswith("custom:") and ".." in text:
        first, _, last = text[len("custom:") :].partition("..")
        start, end = _iso(first), _iso(last, end_of_day=True)
        if end <= start:
            raise ValueError(f"range {text[:80]!r}: the end must be after the start")
        return (start, end)
    raise ValueError(f"unknown range {text[:80]!r}: {_ACCEPTED}")


def _iso(text: str, *, end_of_day: bool = False) -> float:
    """Unix seconds of an ISO date or date-time; a bare end date means the end of that day."""
    text = text.strip()
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"not an ISO date or time: {text[:40]!r} ({_ACCEPTED})") from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    ts = when.timestamp()
    if end_of_day and len(text) == 10:
        ts += DAY
    return ts


# ----------------------------------------------------------------------------------------------- dimensions


@dataclass(slots=True, frozen=True)
class Dimension:
    """A filterable attribute: its column on events and/or sessions."""

    events: str | None
    sessions: str | None


DIMENSIONS: dict[str, Dimension] = {
    "path": Dimension("path", None),
    "name": Dimension("name", None),
    "type": Dimension("type", None),
    "entry_path": Dimension(None, "entry_path"),
    "exit_path": Dimension(None, "exit_path"),
    "referrer": Dimension(None, "referrer"),
    "ref_source": Dimension(None, "ref_source"),
    "ref_medium": Dimension(None, "ref_medium"),
    "utm_source": Dimension(None, "utm_source"),
    "utm_medium": Dimension(None, "utm_medium"),
    "utm_campaign": Dimension(None, "utm_campaign"),
    "country": Dimension("country", "country"),
    "region": Dimension("region", "region"),
    "city": Dimension("city", "city"),
    "browser": Dimension("browser", "browser"),
    "os": Dimension("os", "os"),
    "os_version": Dimension("os_version", "os_version"),
    "device": Dimension("device", "device"),
    "screen": Dimension("screen", "screen"),
    "bot_name": Dimension("bot_name", "bot_name"),
    "fingerprint": Dimension("fingerprint", "fingerprint"),
    "status": Dimension("status", None),
    "user_id": Dimension("user_id", None),
}
"""Every dimension a view may filter on; sources and UTM belong to the session (where the visit came from)."""
BOT_MODES = ("humans", "bots", "all")


@dataclass(slots=True, frozen=True)
class Filters:
    """Which rows a query looks at: one site or all, dimension = value pairs, humans, bots or both."""

    site: str | None = None
    dims: tuple[tuple[str, str], ...] = ()
    bots: str = "humans"

    def __post_init__(self) -> None:
        if self.bots not in BOT_MODES:
            raise ValueError(f"bots must be one of {', '.join(BOT_MODES)}, got {self.bots!r}")
        for name, _value in self.dims:
            check_dimension(name)

    def with_dim(self, name: str, value: str) -> Filters:
        """These filters plus (or with a new value for) one dimension."""
        check_dimension(name)
        return replace(self, dims=(*((n, v) for n, v in self.dims if n != name), (name, value)))

    def without_dim(self, name: str) -> Filters:
        return replace(self, dims=tuple((n, v) for n, v in self.dims if n != name))


def check_dimension(name: str) -> Dimension:
    """The dimension called `name`; ValueError naming the accepted ones otherwise."""
    dim = DIMENSIONS.get(name)
    if dim is None:
        raise ValueError(f"unknown dimension {name[:40]!r} (accepted: {', '.join(DIMENSIONS)})")
    return dim


def site_sql(site: str | None, alias: str = "") -> tuple[str, tuple[object, ...]]:
    """The SQL `AND site = ?` and its parameter for one site, nothing for all sites (`alias` like "e.")."""
    return (f" AND {alias}site = ?", (site,)) if site is not None else ("", ())


def bots_sql(bots: str, alias: str = "") -> str:
    """The SQL `AND is_bot = N` for humans or bots, nothing for all."""
    values = bot_values(bots)
    return "" if len(values) > 1 else f" AND {alias}is_bot = {values[0]}"


def bot_list_sql(bots: str) -> str:
    """The is_bot values a bot mode selects as an SQL list body ("0", "1" or "0, 1"), for IN (...) and CASE."""
    return ", ".join(str(v) for v in bot_values(bots))


def _span_where(column: str, span: Span, filters: Filters, a: str) -> tuple[str, list[object]]:
    """`column` within the span plus the site and bot filters: the part events and sessions clauses share."""
    site, site_params = site_sql(filters.site, a)
    sql = f"{a}{column} >= ? AND {a}{column} < ?{site}{bots_sql(filters.bots, a)}"
    return sql, [span.start, span.end, *site_params]


def event_where(span: Span, filters: Filters, alias: str = "") -> tuple[str, list[object]]:
    """WHERE clause (without the keyword) for events in the span matching the filters."""
    a = f"{alias}." if alias else ""
    sql, params = _span_where("ts", span, filters, a)
    for name, value in filters.dims:
        dim = DIMENSIONS[name]
        if dim.events is not None:
            sql += f" AND {a}{dim.events} = ?"
        else:
            sql += f" AND {a}session_id IN (SELECT id FROM sessions WHERE {dim.sessions} = ?)"
        params.append(value)
    return sql, params


def session_where(span: Span, filters: Filters, alias: str = "") -> tuple[str, list[object]]:
    """WHERE clause for sessions started in the span matching the filters (event dims: sessions with one)."""
    a = f"{alias}." if alias else ""
    sql, params = _span_where("started", span, filters, a)
    for name, value in filters.dims:
        dim = DIMENSIONS[name]
        if dim.sessions is not None:
            sql += f" AND {a}{dim.sessions} = ?"
            params.append(value)
        else:
            sql += f" AND {a}id IN (SELECT session_id FROM events WHERE {dim.events} = ? AND ts >= ? AND ts < ?)"
            params.extend((value, span.start, span.end + DAY))
    return sql, params


def bot_values(bots: str) -> tuple[int, ...]:
    """The is_bot values a bot mode selects."""
    return {"humans": (0,), "bots": (1,), "all": (0, 1)}[bots]


# ---------------------------------------------------------------------------------------------- span pieces


@dataclass(slots=True, frozen=True)
class Pieces:
    """A span cut into parts read from raw rows (uneven edges), hourly rollups and daily rollups."""

    raw: tuple[Span, ...]
    hourly: tuple[Span, ...]
    daily: tuple[Span, ...]

    @property
    def rolled(self) -> Span | None:
        """The hour-aligned middle covered by rollups (hourly and daily together), if any."""
        spans = self.hourly + self.daily
        if not spans:
            return None
        return Span(min(s.start for s in spans), max(s.end for s in spans))


def _ceil(ts: float, grain: int) -> int:
    return -int(-ts // grain) * grain


def _floor(ts: float, grain: int) -> int:
    return int(ts // grain) * grain


def split_span(span: Span) -> Pieces:
    """Raw edges shorter than an hour, hourly parts shorter than a day, and whole days in the middle."""
    h0, h1 = _ceil(span.start, HOUR), _floor(span.end, HOUR)
    if h1 <= h0:
        return Pieces((span,), (), ())
    raw = tuple(s for s in (Span(span.start, h0), Span(h1, span.end)) if s.end > s.start)
    d0, d1 = _ceil(h0, DAY), _floor(h1, DAY)
    if d1 <= d0:
        return Pieces(raw, (Span(h0, h1),), ())
    hourly = tuple(s for s in (Span(h0, d0), Span(d1, h1)) if s.end > s.start)
    return Pieces(raw, hourly, (Span(d0, d1),))


def split_days(span: Span) -> Pieces:
    """Raw edges shorter than a day and whole days in the middle (for the daily-only rollups)."""
    d0, d1 = _ceil(span.start, DAY), _floor(span.end, DAY)
    if d1 <= d0:
        return Pieces((span,), (), ())
    raw = tuple(s for s in (Span(span.start, d0), Span(d1, span.end)) if s.end > s.start)
    return Pieces(raw, (), (Span(d0, d1),))


def exact_visitors(span: Span) -> bool:
    """Whether visitors are counted as distinct ids (short spans) or as daily first visits (long spans)."""
    return span.seconds <= EXACT_VISITORS_MAX_S
