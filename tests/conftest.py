"""Shared fixtures: a test config on a tmp_path database and a real collector behind aiohttp's test client."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from collector.app import create_app
from collector.config import Config
from tests import engines

CHROME_UA = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/124.0.0.0 Safari/537.36"
)
BROWSER_HEADERS = {"User-Agent": CHROME_UA, "Accept": "*/*", "Accept-Language": "en-GB,en;q=0.9"}


@pytest.fixture(autouse=True, scope="module")
def _drop_chdb_databases() -> Iterator[None]:
    """Drop the chDB databases a test module made once it is done with them."""
    start = len(engines.CREATED)
    yield
    engines.drop_databases(engines.CREATED[start:])


@pytest.fixture
def cfg(tmp_path: Path) -> Config:
    """A config on a fresh database with fast flushes."""
    return Config.for_tests(tmp_path / "sitelens.db")


@pytest.fixture
async def client(aiohttp_client: Callable[..., Any], cfg: Config) -> Any:
    """A test client talking to the real collector app over a real socket."""
    return await aiohttp_client(create_app(cfg))


def query(cfg: Config, sql: str, params: tuple[object, ...] = ()) -> list[sqlite3.Row]:
    """Rows from the test database (read in its own connection, as another process would)."""
    conn = sqlite3.connect(cfg.db_path)
    conn.row_factory = sqlite3.Row
    try:
        return conn.execute(sql, params).fetchall()
    finally:
        conn.close()


async def flushed(client: Any) -> None:
    """Wait until the collector's writer has committed everything queued."""
    from collector import keys

    await client.server.app[keys.WRITER].flush()


from tests.engines import clickhouse  # noqa: E402,F401  (fixture: a fresh chDB database per test)
