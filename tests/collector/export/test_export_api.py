"""GET /api/export: admin token required, bad parameters named, the stream equals the database."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

import orjson
import pytest

from collector.app import create_app
from collector.config import Config
from tests.collector.export.seed import add_events, seed_db

AUTH = {"Authorization": "Bearer test-admin-token"}


@pytest.fixture
async def api(aiohttp_client: Any, tmp_path: Path) -> Any:
    seed_db(tmp_path / "s.db").close()
    return await aiohttp_client(create_app(Config.for_tests(tmp_path / "s.db")))


async def test_needs_the_admin_token(api: Any) -> None:
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": "Basic dGVzdA=="}):
        resp = await api.get("/api/export", headers=headers)
        assert resp.status == 401
        assert (await resp.json())["error"]


@pytest.mark.parametrize(
    ("query", "name"),
    [
        ("format=xml", "format"),
        ("what=users", "what"),
        ("range=soon", "range"),
        ("bots=some", "bots"),
        ("range=2026-02-01..2026-01-01", "range"),
    ],
)
async def test_bad_parameter_is_a_400_naming_it(api: Any, query: str, name: str) -> None:
    resp = await api.get(f"/api/export?{query}", headers=AUTH)
    assert resp.status == 400
    assert (await resp.json())["error"].startswith(f"{name}:")


async def test_streams_ndjson_chunked(api: Any, tmp_path: Path) -> None:
    import sqlite3

    conn = sqlite3.connect(tmp_path / "s.db", isolation_level=None)
    add_events(conn, 300, 8000)  # several chunks
    resp = await api.get("/api/export?what=events&format=ndjson&site=a.example&range=all", headers=AUTH)
    assert resp.status == 200
    assert resp.headers["Transfer-Encoding"] == "chunked"
    assert resp.headers["Content-Type"].startswith("application/x-ndjson")
    rows = [orjson.loads(line) for line in (await resp.read()).splitlines()]
    ids = [r[0] for r in conn.execute("SELECT id FROM events WHERE site = 'a.example' ORDER BY ts, id")]
    assert [r["id"] for r in rows] == ids and len(ids) > 5000


async def test_streams_csv_with_range(api: Any) -> None:
    resp = await api.get(
        "/api/export?what=sessions&format=csv&range=2026-01-01..2030-01-01&bots=humans", headers=AUTH
    )
    assert resp.status == 200
    rows = list(csv.DictReader(io.StringIO(await resp.text(), newline="")))
    assert [int(r["id"]) for r in rows] == [1000, 1001, 1002, 1003, 1004, 1005]


async def test_healthz_reports_the_export(api: Any) -> None:
    body = await (await api.get("/healthz")).json()
    assert body["export"]["enabled"] is False and body["export"]["pending_runs"] == 0


def test_bad_destination_stops_start_up(tmp_path: Path) -> None:
    from collector.config import ConfigError, ExportConfig

    cfg = Config.for_tests(
        tmp_path / "s.db", export=ExportConfig(schedule_hours=1, destinations=[{"type": "s3"}])
    )
    with pytest.raises(ConfigError, match=r"export.destinations\[0\]: an s3 destination needs bucket"):
        create_app(cfg)


async def test_funnel_results_over_the_api(api: Any) -> None:
    resp = await api.get("/api/export?what=funnels&format=ndjson", headers=AUTH)
    assert resp.status == 200
    assert await resp.read() == b""  # no funnels defined: no rows, still a clean stream
