"""Right to erasure on ClickHouse: find a visitor's rows and remove them with lightweight DELETEs."""

from __future__ import annotations

from collections.abc import Iterable

from db.clickhouse import funnel_steps, rank
from db.clickhouse.client import ClickHouse
from db.queries.erase import Erased

__all__ = [
    "Erased",
    "erase_visitors",
    "existing_visitor_ids",
    "known_salts",
    "recent_site_uas",
    "stored_ip_count",
    "visitor_ids_with_ip",
]

BATCH = 500
"""Visitor ids per statement: parameters travel with the query, so lists stay short."""


def _batches(values: list[str], size: int = BATCH) -> Iterable[list[str]]:
    for i in range(0, len(values), size):
        yield values[i : i + size]


def recent_site_uas(ch: ClickHouse, since: float) -> list[tuple[str, str]]:
    """Distinct (site, User-Agent) of sessions seen since `since` (the inputs to recompute visitor ids)."""
    rows = ch.rows(
        "SELECT DISTINCT site, ua FROM sessions FINAL WHERE last_seen >= ? AND ua != '' ORDER BY site, ua", (since,)
    )
    return [(str(r[0]), str(r[1])) for r in rows]


def known_salts(ch: ClickHouse) -> list[bytes]:
    """The daily salts still stored (today's and yesterday's; older ones are deleted on purpose)."""
    return [bytes.fromhex(str(r[0])) for r in ch.rows("SELECT salt FROM salts FINAL ORDER BY day DESC")]


def existing_visitor_ids(ch: ClickHouse, candidates: Iterable[str]) -> set[str]:
    """Which of `candidates` appear as a visitor id in sessions or events."""
    values = list(dict.fromkeys(candidates))
    found: set[str] = set()
    for batch in _batches(values):
        for table in ("sessions", "events"):
            rows = ch.rows(f"SELECT DISTINCT visitor_id FROM {table} WHERE visitor_id IN ?", (batch,))
            found.update(str(r[0]) for r in rows)
    return found


def visitor_ids_with_ip(ch: ClickHouse, ip: str) -> set[str]:
    """Visitor ids of rows that stored this raw IP (only when privacy.store_ip was on)."""
    found: set[str] = set()
    for table in ("sessions", "events"):
        found.update(str(r[0]) for r in ch.rows(f"SELECT DISTINCT visitor_id FROM {table} WHERE ip = ?", (ip,)))
    found.discard("")
    return found


def stored_ip_count(ch: ClickHouse) -> int:
    """Whether any IPs are stored at all (decides how an IP erasure can match)."""
    return int(ch.value("SELECT count() FROM (SELECT 1 FROM sessions WHERE ip != '' LIMIT 1)") or 0)


def _erase(ch: ClickHouse, condition: str, params: tuple[object, ...], fingerprints: set[str]) -> tuple[int, int]:
    """Delete the events (with their funnel steps) and sessions matching `condition`; (events, sessions)
    removed. The sessions' fingerprints are collected first, so their reputation can go too."""
    for (fp,) in ch.rows(f"SELECT DISTINCT fingerprint FROM sessions WHERE {condition}", params):
        fingerprints.add(str(fp))
    events = int(ch.value(f"SELECT count() FROM events WHERE {condition}", params) or 0)
    sessions = int(ch.value(f"SELECT uniqExact(id) FROM sessions WHERE {condition}", params) or 0)
    if events:
        funnel_steps.erase(ch, condition, params)
        ch.command(f"DELETE FROM events WHERE {condition}", params)
    if sessions:
        # Every stored version of the session goes, not only the newest.
        ch.command(f"DELETE FROM sessions WHERE id IN (SELECT id FROM sessions WHERE {condition})", params)
    return events, sessions


def erase_visitors(ch: ClickHouse, visitor_ids: Iterable[str], *, ip: str = "") -> Erased:
    """Delete every event and session of these visitors (and rows holding `ip`) and their fingerprints'
    reputation rows; the counts mean what SQLite's do (event rows, sessions, fingerprints)."""
    visitors = sorted({v for v in visitor_ids if v})
    result = Erased(visitors=visitors)
    fingerprints: set[str] = set()
    for batch in _batches(visitors):
        events, sessions = _erase(ch, "visitor_id IN ?", (batch,), fingerprints)
        result.events += events
        result.sessions += sessions
    if ip:
        events, sessions = _erase(ch, "ip = ?", (ip,), fingerprints)
        result.events += events
        result.sessions += sessions
    fingerprints.discard("")
    for batch in _batches(sorted(fingerprints)):
        n = int(ch.value("SELECT uniqExact(fingerprint) FROM fingerprint_news WHERE fingerprint IN ?", (batch,)) or 0)
        if n:
            ch.command("DELETE FROM fingerprint_news WHERE fingerprint IN ?", (batch,))
            result.fingerprints += n
        rank.forget(ch, batch)
    return result
