"""Throttle overrides (set, clear, list) and fingerprint reputation reads for the CLI, TUI and collector.

The records and rules every engine shares; the SQL is in db/sqlite/queries and db/clickhouse/queries.
"""

from __future__ import annotations

import ipaddress
import json
from dataclasses import dataclass
from typing import Any

KINDS = ("fingerprint", "ip", "cidr")
LEVELS = ("normal", "warning", "severe", "blocked")
MAX_TARGET = 256
MAX_REASON = 500


class OverrideError(ValueError):
    """An override that cannot be stored, worded for the user."""


@dataclass(slots=True, frozen=True)
class OverrideRow:
    """One stored throttle override."""

    id: int
    kind: str
    target: str
    level: str
    reason: str
    created: float
    expires: float | None
    cleared: float | None


@dataclass(slots=True, frozen=True)
class FingerprintRow:
    """The reputation of one fingerprint as stored."""

    fingerprint: str
    first_seen: float
    last_seen: float
    sessions: int
    requests: int
    max_score: int
    flags: tuple[str, ...]
    level: str
    ua: str
    bot_name: str


def normalise_target(kind: str, target: str) -> str:
    """Validate an override target and return its canonical spelling (IPs and networks compressed)."""
    target = target.strip()
    if kind not in KINDS:
        raise OverrideError(f"unknown override kind {kind!r} (fingerprint, ip, cidr)")
    if not target or len(target) > MAX_TARGET or not target.isprintable():
        raise OverrideError(f"invalid {kind} {target[:40]!r}")
    if kind == "ip":
        try:
            return ipaddress.ip_address(target).compressed
        except ValueError:
            raise OverrideError(f"{target[:40]!r} is not an IP address") from None
    if kind == "cidr":
        try:
            return ipaddress.ip_network(target, strict=False).compressed
        except ValueError:
            raise OverrideError(f"{target[:40]!r} is not a network (e.g. 203.0.113.0/24)") from None
    return target


def _override(r: Any) -> OverrideRow:
    return OverrideRow(
        id=int(r[0]),
        kind=str(r[1]),
        target=str(r[2]),
        level=str(r[3]),
        reason=str(r[4]),
        created=float(r[5]),
        expires=None if r[6] is None else float(r[6]),
        cleared=None if r[7] is None else float(r[7]),
    )


_OVERRIDE_COLUMNS = "id, kind, target, level, reason, created, expires, cleared"


def _fingerprint(r: Any) -> FingerprintRow:
    try:
        flags = json.loads(str(r[6]))
        flag_list = tuple(str(f) for f in flags) if isinstance(flags, list) else ()
    except ValueError:
        flag_list = ()
    return FingerprintRow(
        fingerprint=str(r[0]),
        first_seen=float(r[1]),
        last_seen=float(r[2]),
        sessions=int(r[3]),
        requests=int(r[4]),
        max_score=int(r[5]),
        flags=flag_list,
        level=str(r[7]),
        ua=str(r[8]),
        bot_name=str(r[9]),
    )


_FP_COLUMNS = "fingerprint, first_seen, last_seen, sessions, requests, max_score, flags, level, ua, bot_name"


def checked_override(
    kind: str, target: str, level: str, reason: str, expires: float | None, now: float
) -> tuple[str, str, str]:
    """(target, level, reason) of an override as every engine stores it; OverrideError for one that cannot work."""
    target = normalise_target(kind, target)
    level = level.strip().lower()
    if level not in LEVELS:
        raise OverrideError(f"unknown throttle level {level!r} (normal, warning, severe, blocked)")
    if expires is not None and expires <= now:
        raise OverrideError("the override would already have expired")
    return target, level, "".join(c if c.isprintable() else " " for c in reason)[:MAX_REASON]
