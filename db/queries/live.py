"""Live view questions: who is on the sites right now, the latest events as they arrive, one session in detail.

The records and rules every engine shares; the SQL is in db/sqlite/queries and db/clickhouse/queries.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

LIVE_WINDOW_S = 30 * 60
"""A session counts as active when it was seen in the last 30 minutes."""

# Filter dimensions the sessions table can answer directly (others are ignored by live questions).
SESSION_DIMS: dict[str, str] = {
    "site": "site",
    "country": "country",
    "region": "region",
    "city": "city",
    "browser": "browser",
    "os": "os",
    "device": "device",
    "source": "ref_source",
    "ref_source": "ref_source",
    "medium": "ref_medium",
    "ref_medium": "ref_medium",
    "referrer": "referrer",
    "utm_source": "utm_source",
    "utm_medium": "utm_medium",
    "utm_campaign": "utm_campaign",
    "entry": "entry_path",
    "entry_path": "entry_path",
    "exit": "exit_path",
    "exit_path": "exit_path",
    "screen": "screen",
    "bot_name": "bot_name",
    "fingerprint": "fingerprint",
}
EVENT_DIMS: dict[str, str] = {
    **{k: v for k, v in SESSION_DIMS.items() if not k.startswith(("entry", "exit"))},
    "page": "path",
    "path": "path",
    "event": "name",
    "name": "name",
    "type": "type",
}


@dataclass(slots=True, frozen=True)
class ActiveSession:
    """One session seen in the live window, with the page it is on now."""

    id: int
    site: str
    country: str
    browser: str
    os: str
    device: str
    pageviews: int
    events: int
    current_page: str
    bot_score: int
    is_bot: bool
    bot_name: str
    throttle_level: str
    fingerprint: str
    ip: str
    started: float
    last_seen: float


@dataclass(slots=True, frozen=True)
class TailEvent:
    """One recently stored event for the live tail."""

    id: int
    ts: float
    site: str
    type: str
    path: str
    name: str
    country: str
    browser: str
    is_bot: bool
    session_id: int
    status: int


@dataclass(slots=True, frozen=True)
class TimelineEvent:
    """One event of a session, oldest first."""

    ts: float
    type: str
    path: str
    name: str
    props: str
    engaged_ms: int
    scroll: int
    status: int


@dataclass(slots=True, frozen=True)
class Signal:
    """One bot-score signal of a session: its name, weight and the value that triggered it."""

    name: str
    weight: int
    value: str


@dataclass(slots=True, frozen=True)
class SessionDetail:
    """Everything the session screen shows besides the timeline."""

    session: ActiveSession
    ua: str
    entry_path: str
    referrer: str
    ref_source: str
    city: str
    screen: str
    engaged_ms: int
    max_scroll: int
    bot_reasons: tuple[str, ...]
    signals: tuple[Signal, ...]
    browser_version: str = ""
    os_version: str = ""
    """The OS with its version ("Windows 10"), '' when unknown."""


@dataclass(slots=True, frozen=True)
class FingerprintSession:
    """One earlier session of a fingerprint."""

    id: int
    site: str
    started: float
    last_seen: float
    pageviews: int
    bot_score: int
    throttle_level: str


def _where(
    site: str | None,
    dims: Iterable[tuple[str, str]],
    columns: dict[str, str],
    bots: bool | None,
    bot_col: str,
    since: float = 0.0,
) -> tuple[str, list[object]]:
    """SQL conditions (and their parameters) for a site, dimension filters and the bots switch."""
    parts: list[str] = []
    params: list[object] = []
    if site:
        parts.append("site = ?")
        params.append(site)
    for dim, value in dims:
        column = columns.get(dim)
        if column is not None:
            parts.append(f"{column} = ?")  # column names come from our own whitelist, values are bound
            params.append(value)
        elif columns is SESSION_DIMS and dim in EVENT_DIMS:
            # An event attribute (page, event name): sessions that had such an event recently.
            parts.append(f"id IN (SELECT session_id FROM events WHERE {EVENT_DIMS[dim]} = ? AND ts > ?)")
            params.extend((value, since))
    if bots is not None:
        parts.append(f"{bot_col} = ?")
        params.append(1 if bots else 0)
    return "".join(f" AND {p}" for p in parts), params


_ACTIVE_COLUMNS = (
    "id, site, country, browser, os, device, pageviews, events, exit_path, bot_score, is_bot, bot_name, "
    "throttle_level, fingerprint, ip, started, last_seen"
)


def _active(r: Sequence[Any]) -> ActiveSession:
    return ActiveSession(
        id=int(r[0]),
        site=str(r[1]),
        country=str(r[2]),
        browser=str(r[3]),
        os=str(r[4]),
        device=str(r[5]),
        pageviews=int(r[6]),
        events=int(r[7]),
        current_page=str(r[8]),
        bot_score=int(r[9]),
        is_bot=bool(r[10]),
        bot_name=str(r[11]),
        throttle_level=str(r[12]),
        fingerprint=str(r[13]),
        ip=str(r[14]),
        started=float(r[15]),
        last_seen=float(r[16]),
    )


def parse_signals(raw: str) -> tuple[Signal, ...]:
    """Bot-score signals from their stored JSON; anything malformed is skipped, never raised."""
    try:
        data = json.loads(raw or "[]")
    except ValueError:
        return ()
    out: list[Signal] = []
    if isinstance(data, list):
        for item in data:
            if isinstance(item, dict) and "name" in item:
                try:
                    weight = int(item.get("weight", 0))
                except (TypeError, ValueError):
                    weight = 0
                out.append(Signal(str(item["name"]), weight, str(item.get("value", ""))))
    return tuple(out)
