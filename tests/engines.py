"""Both storage engines side by side for tests: a SQLite file and a database in the in-process ClickHouse (chDB).

chDB opens one data directory per process, so the whole test run shares one (under pytest's base temp) and each
test gets a database of its own there, dropped afterwards."""

from __future__ import annotations

import sys
import uuid
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import pytest

from db.batch import Batch
from db.records import EventRecord, SessionRecord

_CHDB_ROOT: Path | None = None
CREATED: list[str] = []
"""Every database handed out by `chdb_url`, so the module that made it can drop it (see `drop_databases`)."""


def chdb_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The one chDB data directory of this test run."""
    global _CHDB_ROOT
    if _CHDB_ROOT is None:
        _CHDB_ROOT = tmp_path_factory.getbasetemp() / "chdb"
    return _CHDB_ROOT


def chdb_url(tmp_path_factory: pytest.TempPathFactory, database: str | None = None) -> str:
    """A `chdb://` store URL for a fresh database of its own."""
    name = database or f"t_{uuid.uuid4().hex[:12]}"
    CREATED.append(name)
    return f"chdb://{chdb_root(tmp_path_factory)}?database={name}"


def drop_databases(names: Iterable[str]) -> None:
    """Drop these test databases from the run's chDB engine when this process holds it, so later modules do not
    share the engine with every table an earlier one left behind."""
    if _CHDB_ROOT is None or "chdb" not in sys.modules:
        return
    from db.clickhouse.client import connect_client
    from db.url import parse_store_url

    ch = connect_client(parse_store_url(f"chdb://{_CHDB_ROOT}"))
    for name in dict.fromkeys(names):
        try:
            ch.command(f"DROP DATABASE IF EXISTS {name} SYNC")
        except Exception:  # noqa: BLE001 - a database another process holds stays; cleanup must not fail a test
            pass


@pytest.fixture
def clickhouse(tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    """A migrated, empty ClickHouse database (chDB) for one test."""
    pytest.importorskip("chdb")
    from db.clickhouse.client import connect_client
    from db.clickhouse.migrate import migrate
    from db.url import parse_store_url

    url = parse_store_url(chdb_url(tmp_path_factory))
    ch = connect_client(url)
    migrate(ch)
    yield ch
    ch.command(f"DROP DATABASE IF EXISTS {url.database}")


def ch_write(ch: object, events: Iterable[EventRecord] = (), sessions: Iterable[SessionRecord] = ()) -> None:
    """Write rows into ClickHouse exactly as one writer flush would."""
    from db.clickhouse.writer import insert, prepare

    batch = Batch(events=[e.as_row() for e in events], sessions={s.id: s.as_row() for s in sessions})
    insert(ch, prepare(batch))  # type: ignore[arg-type]


def sqlite_store(where: object) -> object:
    """A store on a SQLite file, given its path or an open connection to it."""
    from db.store import open_store
    from db.url import sqlite_url

    if hasattr(where, "execute"):
        where = where.execute("PRAGMA database_list").fetchone()[2]  # type: ignore[attr-defined]
    return open_store(sqlite_url(str(where)))


def chdb_config(tmp_path: Path, tmp_path_factory: pytest.TempPathFactory, database: str | None = None) -> Any:
    """A test config on a fresh chDB database (or a named one, to share it), spooling under `tmp_path`."""
    from collector.config import Config

    cfg = Config.for_tests(tmp_path / "unused.db")
    cfg.db.path = ""
    cfg.db.url = chdb_url(tmp_path_factory, database)
    cfg.db.spool_dir = str(tmp_path / "spool")
    cfg.anomalies.enabled = False
    return cfg
