"""Parsing export time spans from people: `7d`, `24h`, `all`, ISO dates and datetimes (UTC by default)."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta

from collector.export.formats import ExportError

_AGO = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(m|min|h|d|w)\s*$", re.IGNORECASE)
_UNITS = {"m": 60, "min": 60, "h": 3600, "d": 86400, "w": 7 * 86400}

Span = tuple[float | None, float | None]


def parse_ago(text: str, now: float, what: str = "--since") -> float:
    """The start of a span like `30m`, `24h`, `7d`, `2w` ending now."""
    m = _AGO.match(text)
    if not m or float(m.group(1)) <= 0:
        raise ExportError(f"bad {what} {text!r}: use a number and a unit, e.g. 30m, 24h, 7d, 2w")
    return now - float(m.group(1)) * _UNITS[m.group(2).lower()]


def parse_when(text: str, *, end: bool, what: str) -> float:
    """An ISO date (a whole UTC day: its start, or for an end the start of the next day) or ISO datetime."""
    value = text.strip()
    try:
        if len(value) == 10:
            day = date.fromisoformat(value)
            start = datetime(day.year, day.month, day.day, tzinfo=UTC)
            return (start + timedelta(days=1) if end else start).timestamp()
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise ExportError(
            f"bad {what} {text!r}: use an ISO date like 2026-11-22 or 2026-11-22T13:00"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


def resolve_span(since: str | None, date_from: str | None, date_to: str | None, now: float) -> Span:
    """(start, end) from the CLI's --since / --from / --to; None means unbounded."""
    if since and date_from:
        raise ExportError("use either --since or --from, not both")
    start = parse_ago(since, now) if since else None
    if date_from:
        start = parse_when(date_from, end=False, what="--from")
    end = parse_when(date_to, end=True, what="--to") if date_to else None
    if start is not None and end is not None and end <= start:
        raise ExportError("bad range: --to is not after the start")
    return start, end


def parse_range(text: str, now: float) -> Span:
    """(start, end) from the API's `range=`: `all`, `24h`/`7d`…, `today`, or `FROM..TO` with ISO dates."""
    value = text.strip().lower()
    if value in ("", "all"):
        return None, None
    if value == "today":
        midnight = datetime.fromtimestamp(now, UTC).replace(hour=0, minute=0, second=0, microsecond=0)
        return midnight.timestamp(), None
    if ".." in value:
        left, _, right = text.strip().partition("..")
        start = parse_when(left, end=False, what="range") if left else None
        end = parse_when(right, end=True, what="range") if right else None
        if start is not None and end is not None and end <= start:
            raise ExportError("bad range: its end is not after its start")
        return start, end
    return parse_ago(value, now, what="range"), None
