"""Seeded databases for export tests: varied events and sessions with awkward strings and exact floats."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from db.records import EventRecord, SessionRecord
from db.sqlite.batch import INSERT_EVENT, UPSERT_SESSION
from db.sqlite.connection import connect

T0 = 1_795_000_000.0  # a fixed hour boundary: 2026-11-18T09:06:40Z rounded below
T0 = T0 - T0 % 3600
AWKWARD = [
    "plain",
    "comma, inside",
    'quote " inside',
    "new\nline",
    "ünïcødé ✓ 🙂",
    "=1+1",
    "",
    "tab\tand\\slash",
]


def event(i: int, ts: float) -> EventRecord:
    """A deterministic, varied event."""
    return EventRecord(
        ts=ts,
        site="a.example" if i % 3 else "b.example",
        type=("pageview", "event", "engagement", "api_request")[i % 4],
        session_id=1000 + i % 7,
        visitor_id=f"v{i % 5:015d}",
        fingerprint=f"f{i % 4:015d}",
        path=f"/p/{i % 6}",
        title=AWKWARD[i % len(AWKWARD)],
        props='{"k":"' + str(i) + '"}' if i % 2 else "",
        engaged_ms=i * 10,
        scroll=i % 101,
        browser="Chrome",
        latency_ms=0.1 * i + 0.2,
        cost_usd=i / 3,
        is_bot=1 if i % 5 == 0 or i % 7 == 6 else 0,  # session 1006 is a bot: all its events are too
        status=200 + i % 3,
    )


def seed_db(path: Path, n: int = 300, start: float = T0, step: float = 37.0) -> sqlite3.Connection:
    """A database with `n` events spread `step` seconds apart from `start`, and 7 sessions."""
    conn = connect(path)
    conn.executemany(INSERT_EVENT, [event(i, start + i * step).as_row() for i in range(n)])
    add_sessions(conn, start)
    return conn


def add_events(conn: sqlite3.Connection, first: int, n: int, start: float = T0, step: float = 37.0) -> None:
    conn.executemany(INSERT_EVENT, [event(i, start + i * step).as_row() for i in range(first, first + n)])


def add_sessions(conn: sqlite3.Connection, start: float = T0) -> None:
    rows = [
        SessionRecord(
            id=1000 + k,
            site="a.example" if k % 2 else "b.example",
            visitor_id=f"v{k % 5:015d}",
            fingerprint=f"f{k % 4:015d}",
            started=start + k * 60.5,
            last_seen=start + k * 90.25,
            pageviews=k,
            entry_path=AWKWARD[k % len(AWKWARD)],
            ua=f"UA {k}",
            bot_score=k * 10,
            bot_signals='[{"name":"x","weight":1,"value":0.5}]',
            is_bot=int(k == 6),
        ).as_row()
        for k in range(7)
    ]
    conn.executemany(UPSERT_SESSION, rows)


def table_rows(
    conn: sqlite3.Connection, sql: str, params: tuple[object, ...] = ()
) -> list[tuple[object, ...]]:
    return [tuple(r) for r in conn.execute(sql, params)]
