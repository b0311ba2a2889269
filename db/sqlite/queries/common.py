"""SQLite: what every statistics query shares: time spans, ranges, filters and how they become parameterised SQL."""

from __future__ import annotations

import sqlite3

from db.rules import HOUR


def sites(conn: sqlite3.Connection) -> list[str]:
    """Every site with stored traffic, for the site selector."""
    return [str(r[0]) for r in conn.execute("SELECT DISTINCT site FROM rollup_traffic ORDER BY site")]


def first_event_ts(conn: sqlite3.Connection, site: str | None = None) -> float | None:
    """When the first stored traffic happened (raw events may be gone; rollups remember)."""
    where, params = ("", ()) if site is None else (" WHERE site = ?", (site,))
    rolled = conn.execute(f"SELECT min(hour) FROM rollup_traffic{where}", params).fetchone()[0]
    raw = conn.execute(f"SELECT min(ts) FROM events{where}", params).fetchone()[0]
    if raw is not None and (rolled is None or raw < rolled + HOUR):
        return float(raw)
    return None if rolled is None else float(rolled)
