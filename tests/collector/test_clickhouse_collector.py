"""The collector on ClickHouse (chDB in-process): the same answers as on SQLite, many collectors on one store,
and an outage that the local spool rides out."""

from __future__ import annotations

import asyncio
import gzip
import time
from typing import Any

import orjson
import pytest

from collector import keys
from collector.app import create_app
from collector.config import Config
from db.batch import Batch
from db.clickhouse.client import connect_client
from db.clickhouse.writer import insert, prepare
from db.records import EventRecord
from tests.conftest import BROWSER_HEADERS, flushed
from tests.engines import chdb_config

pytest.importorskip("chdb")
AUTH = {"Authorization": "Bearer test-admin-token"}


def hits(n_visitors: int = 6) -> list[tuple[str, dict[str, object]]]:
    """(client address, tracker event): a few visitors with a few pages each, one of them a crawler."""
    out: list[tuple[str, dict[str, object]]] = []
    for v in range(n_visitors):
        for page in ("/", "/pricing", f"/blog/{v}")[: 1 + v % 3]:
            out.append((f"203.0.113.{v + 1}", {"site": "example.com", "type": "pageview",
                                               "url": f"https://example.com{page}"}))
    return out


async def send(client: Any, ip: str, payload: object, ua: str | None = None) -> int:
    headers = {**BROWSER_HEADERS, "Content-Type": "text/plain", "X-Forwarded-For": ip}
    if ua:
        headers["User-Agent"] = ua
    resp = await client.post("/api/event", data=orjson.dumps(payload), headers=headers)
    await resp.read()
    return resp.status


def trusting(cfg: Config) -> Config:
    cfg.server.trusted_proxies = ["127.0.0.1"]  # each hit poses as its own client through X-Forwarded-For
    return cfg


async def stats(client: Any) -> dict[str, Any]:
    resp = await client.get("/api/stats?range=24h", headers=AUTH)
    assert resp.status == 200
    return dict(await resp.json())


async def test_the_collector_on_clickhouse_answers_like_on_sqlite(aiohttp_client, tmp_path, tmp_path_factory):
    on_sqlite = await aiohttp_client(create_app(trusting(Config.for_tests(tmp_path / "s.db"))))
    on_ch = await aiohttp_client(create_app(trusting(chdb_config(tmp_path, tmp_path_factory))))
    for ip, payload in hits():
        assert await send(on_sqlite, ip, payload) == 202
        assert await send(on_ch, ip, payload) == 202
    await flushed(on_sqlite)
    await flushed(on_ch)
    a, b = await stats(on_sqlite), await stats(on_ch)
    assert (b["visitors"], b["sessions"], b["pageviews"]) == (6, 6, 12)
    for key in ("visitors", "sessions", "pageviews", "bounce_rate", "top_pages", "browsers", "entry_pages"):
        assert a[key] == b[key], key
    health = await (await on_ch.get("/healthz")).json()
    assert health["database"]["ok"] and health["spooled_events"] == 0
    assert health["database"]["store"].startswith("chdb:///")


async def test_two_collectors_share_one_store(aiohttp_client, tmp_path, tmp_path_factory):
    shared = f"shared_{int(time.time() * 1000)}"
    a = await aiohttp_client(create_app(trusting(chdb_config(tmp_path / "a", tmp_path_factory, shared))))
    b = await aiohttp_client(create_app(trusting(chdb_config(tmp_path / "b", tmp_path_factory, shared))))
    store = a.server.app[keys.STORE]
    # One visitor through both collectors: one visitor id (the daily salt is shared through the store).
    assert await send(a, "198.51.100.7", {"site": "example.com", "type": "pageview",
                                          "url": "https://example.com/"}) == 202
    assert await send(b, "198.51.100.7", {"site": "example.com", "type": "pageview",
                                          "url": "https://example.com/next"}) == 202
    await flushed(a)
    await flushed(b)
    assert store.ch.rows("SELECT uniqExact(visitor_id), count() FROM events") == [(1, 2)]
    # A throttle override written through one reaches the other within 5 s.
    store.set_override("ip", "198.51.100.9", "blocked", "test", None)
    throttle = b.server.app[keys.PIPELINE].throttle
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and not any(o.target == "198.51.100.9" for o in throttle.overrides):
        await asyncio.sleep(0.1)
    assert any(o.target == "198.51.100.9" for o in throttle.overrides)
    before = store.ch.value("SELECT count() FROM events")
    await send(b, "198.51.100.9", {"site": "example.com", "type": "pageview", "url": "https://example.com/"})
    await flushed(b)
    assert store.ch.value("SELECT count() FROM events") == before  # blocked on the other collector
    # A batch sent again (a retry after a timeout that had in fact succeeded) is not a second copy.
    batch = Batch(events=[EventRecord(time.time(), "example.com", "pageview", path="/retry").as_row()])
    prepared = prepare(batch)
    insert(store.ch, prepared)
    insert(store.ch, prepared)
    assert store.ch.value("SELECT count() FROM events WHERE path = '/retry'") == 1
    # Stopping a collector (SIGTERM runs the same cleanup) writes everything it acknowledged.
    for i in range(20):
        await send(a, f"192.0.2.{i + 1}", {"site": "example.com", "type": "pageview", "url": "https://example.com/s"})
    await a.close()
    assert b.server.app[keys.STORE].ch.value("SELECT count() FROM events WHERE path = '/s'") == 20


async def test_an_outage_is_ridden_out_in_the_spool_and_sent_once(aiohttp_client, tmp_path, tmp_path_factory):
    cfg = trusting(chdb_config(tmp_path, tmp_path_factory))
    client = await aiohttp_client(create_app(cfg))
    ch = client.server.app[keys.STORE].ch
    ch.command("DETACH TABLE events")  # ClickHouse cannot take events now
    try:
        for i in range(30):
            assert await send(client, f"192.0.2.{i + 1}", {"site": "example.com", "type": "pageview",
                                                          "url": f"https://example.com/o{i}"}) == 202
        await flushed(client)
        resp = await client.get("/healthz")
        health = await resp.json()
        assert resp.status == 200 and health["spooled_events"] == 30  # still taking events: not an outage
    finally:
        ch.command("ATTACH TABLE events")
    writer = client.server.app[keys.WRITER]
    writer._sink._retry_at = 0.0  # don't wait out the back-off: the store is back now  # type: ignore[union-attr]
    await send(client, "192.0.2.200", {"site": "example.com", "type": "pageview", "url": "https://example.com/after"})
    await flushed(client)
    assert ch.value("SELECT count() FROM events") == 31
    assert ch.value("SELECT uniqExact(path) FROM events") == 31
    assert (await (await client.get("/healthz")).json())["spooled_events"] == 0


def test_collectors_sharing_a_store_take_turns_judging_anomalies(tmp_path_factory):
    from collector.leases import hold_lease
    from db.store import open_store
    from tests.engines import chdb_url

    url = chdb_url(tmp_path_factory)
    one, two = open_store(url), open_store(url)
    assert hold_lease(one, "anomalies", 1000.0, 60, me="a")
    assert not hold_lease(two, "anomalies", 1010.0, 60, me="b")  # a's lease is still valid
    assert hold_lease(one, "anomalies", 1050.0, 60, me="a")  # renewed
    assert not hold_lease(two, "anomalies", 1100.0, 60, me="b")
    assert hold_lease(two, "anomalies", 1111.0, 60, me="b")  # a stopped renewing: b takes over
    assert not hold_lease(one, "anomalies", 1120.0, 60, me="a")


async def test_a_visit_split_between_collectors_is_reported(aiohttp_client, tmp_path, tmp_path_factory, caplog):
    from collector.tasks import warn_split_visits
    from tests.engines import ch_write
    from tests.factories import visit

    client = await aiohttp_client(create_app(chdb_config(tmp_path, tmp_path_factory)))
    store = client.server.app[keys.STORE]
    now = time.time()
    first = visit(now - 600, [(0, "/"), (300, "/a")], visitor="v1", session_id=1)
    second = visit(now - 500, [(0, "/b")], visitor="v1", session_id=2)  # same visitor, another collector
    alone = visit(now - 400, [(0, "/")], visitor="v2", session_id=3)
    visits = (first, second, alone)
    ch_write(store.ch, [e for v in visits for e in v.events], [v.session for v in visits])
    assert store.split_visits(now - 1800) == 1
    with caplog.at_level("WARNING", logger="sitelens.tasks"):
        await warn_split_visits(client.server.app)
    assert "1 visitors in the last 30 minutes had two sessions at once" in caplog.text


async def test_a_full_spool_answers_503_and_loses_nothing_acknowledged(aiohttp_client, tmp_path, tmp_path_factory):
    cfg = trusting(chdb_config(tmp_path, tmp_path_factory))
    cfg.db.spool_max_mb = 1
    cfg.db.queue_max = 500
    client = await aiohttp_client(create_app(cfg))
    ch = client.server.app[keys.STORE].ch
    writer = client.server.app[keys.WRITER]
    ch.command("DETACH TABLE events")
    accepted, refused = 0, 0
    try:
        for n in range(400):
            batch = [{"site": "example.com", "type": "pageview", "url": f"https://example.com/f{n}-{i}"}
                     for i in range(100)]
            status = await send(client, f"10.1.{n // 250}.{n % 250 + 1}", batch)
            if status == 202:
                accepted += 100
            else:
                assert status == 503
                refused += 1
                if refused >= 3:
                    break
            await writer.flush()
        assert refused, "the spool never filled"
        assert writer.spooled_events > 0 and writer.queue_depth > 0  # acknowledged, some still in memory
        await client.close()  # SIGTERM's cleanup: what memory holds goes to the spool, past its limit
    finally:
        connect_client(cfg.store_url).command("ATTACH TABLE IF NOT EXISTS events")  # no store: it migrates
    restarted = await aiohttp_client(create_app(cfg))  # the next start sends the spool, once the store answers
    writer = restarted.server.app[keys.WRITER]
    assert writer.spooled_events == accepted
    await writer.flush()
    ch = restarted.server.app[keys.STORE].ch
    assert writer.spooled_events == 0
    assert ch.value("SELECT count() FROM events") == accepted
    assert ch.value("SELECT uniqExact(path) FROM events") == accepted


async def test_a_collector_on_clickhouse_exports_on_its_schedule(aiohttp_client, tmp_path, tmp_path_factory,
                                                                  monkeypatch):
    """Scheduled export on a ClickHouse store: the collector starts with it, and its service exports what was
    collected (runs take events the moment they are stored here: no settling time)."""
    from collector.config import ExportConfig
    from collector.export.scheduled import scheduled_export_service

    monkeypatch.setattr("db.clickhouse.export_runs.SETTLE_S", 0.0)
    cfg = trusting(chdb_config(tmp_path, tmp_path_factory))
    cfg.export = ExportConfig(schedule_hours=1, directory=str(tmp_path / "out"))
    client = await aiohttp_client(create_app(cfg))
    for ip, payload in hits():
        assert await send(client, ip, payload) == 202
    await flushed(client)
    await scheduled_export_service(client.server.app)  # one tick, as the service runs it every minute
    health = await (await client.get("/healthz")).json()
    assert health["export"]["enabled"] and health["export"]["pending_runs"] == 0
    assert health["export"]["last_done"] is not None
    files = (tmp_path / "out").rglob("*.ndjson.gz")
    lines = [line for f in files for line in gzip.decompress(f.read_bytes()).splitlines()]
    assert len(lines) == 12  # every pageview of hits(), once
