"""The Bots view: crawlers by name, fingerprints by reputation, throttle refusals, bot share of traffic.

The records and rules every engine shares; the SQL is in db/sqlite/queries and db/clickhouse/queries.
"""

from __future__ import annotations

import json
from dataclasses import dataclass


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


BEHAVIOURAL = "behavioural"
"""The name bots without a crawler name (caught by their behaviour) are listed under."""


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
