"""SQLite: right to erasure: find a visitor's rows and delete them in short transactions (no writer stall)."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable

from db.queries.erase import Erased, _batches, _marks
from db.sqlite.retention import events_deleted


def recent_site_uas(conn: sqlite3.Connection, since: float) -> list[tuple[str, str]]:
    """Distinct (site, User-Agent) of sessions seen since `since` (the inputs to recompute visitor ids)."""
    rows = conn.execute("SELECT DISTINCT site, ua FROM sessions WHERE last_seen >= ? AND ua != ''", (since,)).fetchall()
    return [(str(r[0]), str(r[1])) for r in rows]


def known_salts(conn: sqlite3.Connection) -> list[bytes]:
    """The daily salts still stored (today's and yesterday's; older ones are deleted on purpose)."""
    return [bytes(r[0]) for r in conn.execute("SELECT salt FROM salts ORDER BY day DESC")]


def existing_visitor_ids(conn: sqlite3.Connection, candidates: Iterable[str]) -> set[str]:
    """Which of `candidates` appear as a visitor id in sessions or events."""
    values = list(dict.fromkeys(candidates))
    found: set[str] = set()
    for batch in _batches(values):  # type: ignore[arg-type]
        for table in ("sessions", "events"):
            found.update(
                str(r[0])
                for r in conn.execute(
                    f"SELECT DISTINCT visitor_id FROM {table} WHERE visitor_id IN ({_marks(len(batch))})",
                    batch,
                )
            )
    return found


def visitor_ids_with_ip(conn: sqlite3.Connection, ip: str) -> set[str]:
    """Visitor ids of rows that stored this raw IP (only when privacy.store_ip was on)."""
    found = {str(r[0]) for r in conn.execute("SELECT DISTINCT visitor_id FROM sessions WHERE ip = ?", (ip,))}
    found |= {str(r[0]) for r in conn.execute("SELECT DISTINCT visitor_id FROM events WHERE ip = ?", (ip,))}
    found.discard("")
    return found


def stored_ip_count(conn: sqlite3.Connection) -> int:
    """Whether any IPs are stored at all (decides how an IP erasure can match)."""
    return int(conn.execute("SELECT count(*) FROM (SELECT 1 FROM sessions WHERE ip != '' LIMIT 1)").fetchone()[0])


def _delete_ids(conn: sqlite3.Connection, table: str, column: str, ids: list[object]) -> int:
    removed = 0
    for batch in _batches(ids):
        conn.execute("BEGIN IMMEDIATE")
        try:
            removed += conn.execute(f"DELETE FROM {table} WHERE {column} IN ({_marks(len(batch))})", batch).rowcount
            if table == "events":
                events_deleted(conn)
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
    return removed


def erase_visitors(conn: sqlite3.Connection, visitor_ids: Iterable[str], *, ip: str = "") -> Erased:
    """Delete every event and session of these visitors (and rows holding `ip`) and their fingerprints."""
    visitors = sorted({v for v in visitor_ids if v})
    result = Erased(visitors=visitors)
    event_ids: list[object] = []
    session_ids: list[object] = []
    fingerprints: set[str] = set()
    for batch in _batches(visitors):  # type: ignore[arg-type]
        marks = _marks(len(batch))
        event_ids += [r[0] for r in conn.execute(f"SELECT id FROM events WHERE visitor_id IN ({marks})", batch)]
        for sid, fp in conn.execute(f"SELECT id, fingerprint FROM sessions WHERE visitor_id IN ({marks})", batch):
            session_ids.append(sid)
            fingerprints.add(str(fp))
    if ip:
        event_ids += [r[0] for r in conn.execute("SELECT id FROM events WHERE ip = ?", (ip,))]
        for sid, fp in conn.execute("SELECT id, fingerprint FROM sessions WHERE ip = ?", (ip,)):
            session_ids.append(sid)
            fingerprints.add(str(fp))
    fingerprints.discard("")
    result.events = _delete_ids(conn, "events", "id", sorted(set(event_ids)))  # type: ignore[type-var]
    result.sessions = _delete_ids(conn, "sessions", "id", sorted(set(session_ids)))  # type: ignore[type-var]
    result.fingerprints = _delete_ids(conn, "fingerprints", "fingerprint", sorted(fingerprints))  # type: ignore[arg-type]
    return result
