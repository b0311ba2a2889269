"""Seeded databases for export tests: varied events and sessions with awkward strings and exact floats."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from collector.config import Config
from db.records import EventRecord, SessionRecord
from db.sqlite.batch import INSERT_EVENT, UPSERT_SESSION
from db.sqlite.connection import connect
from db.store import Store, open_store

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


class Seeded:
    """A store with seeded events on one engine, its config, and ways to add events and list their ids."""

    def __init__(self, cfg: Config, store: Store, conn: sqlite3.Connection | None = None) -> None:
        self.cfg = cfg
        self.store = store
        self.conn = conn

    def add(self, first: int, n: int, start: float = T0, step: float = 37.0) -> None:
        """Events `first`..`first + n - 1`, stored as the engine's writer stores them (ClickHouse: 20 a flush)."""
        if self.conn is not None:
            add_events(self.conn, first, n, start, step)
            return
        from tests.engines import ch_write

        for low in range(first, first + n, 20):
            ch_write(self.store.ch, [event(i, start + i * step) for i in range(low, min(low + 20, first + n))])  # type: ignore[attr-defined]

    def ids(self) -> list[int]:
        """Every stored event id, sorted."""
        if self.conn is not None:
            return sorted(int(r[0]) for r in self.conn.execute("SELECT id FROM events"))
        return sorted(int(r[0]) for r in self.store.ch.rows("SELECT id FROM events"))  # type: ignore[attr-defined]


@pytest.fixture(params=["sqlite", "chdb"])
def seeded(
    request: pytest.FixtureRequest,
    tmp_path: Path,
    tmp_path_factory: pytest.TempPathFactory,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[Seeded]:
    """300 events (as seed_db) in a SQLite file or a chDB database; on ClickHouse, runs may take events the
    moment they are stored (no settling time)."""
    if request.param == "sqlite":
        db = tmp_path / "s.db"
        conn = seed_db(db)
        cfg = Config.for_tests(db)
        store = open_store(cfg.store_url)
        yield Seeded(cfg, store, conn)
    else:
        pytest.importorskip("chdb")
        from tests.engines import chdb_config

        monkeypatch.setattr("db.clickhouse.export_runs.SETTLE_S", 0.0)
        cfg = chdb_config(tmp_path, tmp_path_factory)
        store = open_store(cfg.store_url, create=True)
        seeded = Seeded(cfg, store)
        seeded.add(0, 300)
        yield seeded
    store.close()
