"""SiteLensClient against a real collector on 127.0.0.1: batching, flush, sampling, never raising."""

from __future__ import annotations

import asyncio
import random
import socket
import subprocess
import sys
import textwrap
import time

import pytest

from collector.app import create_app
from collector.client import SiteLensClient
from collector.config import SiteConfig
from tests.conftest import CHROME_UA, query

TOKEN = "client-test-token"


@pytest.fixture
async def server(aiohttp_server, cfg):
    cfg.sites = [SiteConfig(name="example.com", ingest_token=TOKEN)]
    return await aiohttp_server(create_app(cfg), host="127.0.0.1")


def base_url(server) -> str:
    return f"http://127.0.0.1:{server.port}"


async def stored(server, cfg, sql: str = "SELECT count(*) FROM events") -> int:
    from collector import keys

    await server.app[keys.WRITER].flush()
    return int(query(cfg, sql)[0][0])


async def test_events_are_batched_and_sent_on_flush(server, cfg):
    client = SiteLensClient(base_url(server), TOKEN, batch_size=50, flush_interval_s=60)
    try:
        for i in range(120):
            client.api_request("GET", f"/api/items/{i % 7}", 200, 3.5, ip="203.0.113.5", ua=CHROME_UA)
        client.auth("login", user_id="u1", ip="203.0.113.5", ua=CHROME_UA)
        client.external_call("openai", "/v1/chat", status=200, cost_usd=0.02, tokens=900)
        client.custom("invoice_paid", {"plan": "pro"})
        assert await asyncio.to_thread(client.flush, 5.0)
        assert client.stats.sent == 123
        assert await stored(server, cfg) == 123
        kinds = dict(query(cfg, "SELECT type, count(*) FROM events GROUP BY type"))
        assert kinds == {"api_request": 120, "auth": 1, "external_call": 1, "event": 1}
    finally:
        await asyncio.to_thread(client.close)


async def test_a_partial_batch_goes_out_after_the_interval(server, cfg):
    client = SiteLensClient(base_url(server), TOKEN, batch_size=1000, flush_interval_s=0.2)
    try:
        client.custom("one")
        deadline = time.monotonic() + 5
        while client.stats.sent < 1 and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        assert client.stats.sent == 1
    finally:
        await asyncio.to_thread(client.close)


async def test_a_full_batch_goes_out_without_waiting_for_the_interval(server, cfg):
    client = SiteLensClient(base_url(server), TOKEN, batch_size=10, flush_interval_s=60)
    try:
        for i in range(10):
            client.custom(f"e{i}")
        deadline = time.monotonic() + 5
        while client.stats.sent < 10 and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        assert client.stats.sent == 10
    finally:
        await asyncio.to_thread(client.close)


async def test_sampling_keeps_every_error_and_skips_health_and_static(server, cfg):
    client = SiteLensClient(base_url(server), TOKEN, sample_rate=0.1, flush_interval_s=60, rng=random.Random(3))
    try:
        for _i in range(400):
            client.api_request("GET", "/api/ok", 200)
        for _i in range(30):
            client.api_request("GET", "/api/broken", 502)
            client.api_request("GET", "/api/raised", 200, error="KeyError")
        client.api_request("GET", "/healthz", 200)
        client.api_request("GET", "/static/app.css", 200)
        assert await asyncio.to_thread(client.flush, 5.0)
        assert client.stats.skipped == 2
        kept_ok = await stored(server, cfg, "SELECT count(*) FROM events WHERE path = '/api/ok'")
        assert 15 <= kept_ok <= 70  # about 10 % of 400
        assert client.stats.sampled_out == 400 - kept_ok
        errors = query(cfg, "SELECT count(*) FROM events WHERE path IN ('/api/broken', '/api/raised')")[0][0]
        assert errors == 60
    finally:
        await asyncio.to_thread(client.close)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_a_dead_collector_never_blocks_or_raises_into_the_app():
    client = SiteLensClient(f"http://127.0.0.1:{_free_port()}", TOKEN, flush_interval_s=0.05, timeout_s=1)
    started = time.perf_counter()
    for _i in range(200):
        client.api_request("GET", "/x", 200)
    assert time.perf_counter() - started < 0.5  # recording is a queue put, not a request
    assert client.flush(5.0)
    assert client.stats.dropped_send_failed == 200
    client.close()


def test_a_full_queue_drops_and_counts_instead_of_blocking():
    client = SiteLensClient(f"http://127.0.0.1:{_free_port()}", TOKEN, queue_size=5, flush_interval_s=30)
    started = time.perf_counter()
    for _i in range(500):
        client.custom("burst")
    assert time.perf_counter() - started < 0.5
    assert client.stats.dropped_queue_full >= 490
    client.close()


def test_bad_arguments_are_swallowed_not_raised():
    client = SiteLensClient("http://127.0.0.1:9", TOKEN)
    client.api_request("GET", None, "200")  # type: ignore[arg-type]
    client.custom("x", props=42)  # type: ignore[arg-type]
    client.track(None)  # type: ignore[arg-type]
    assert client.stats.errors == 3
    client.close()
    client.close()  # idempotent
    client.custom("after close")  # dropped, not raised
    assert client.stats.dropped_queue_full == 1


async def test_invalid_events_are_counted_as_rejected(server, cfg):
    client = SiteLensClient(base_url(server), TOKEN, flush_interval_s=60)
    try:
        client.auth("not-an-action")
        client.auth("logout", user_id="u1")
        assert await asyncio.to_thread(client.flush, 5.0)
        assert (client.stats.sent, client.stats.rejected) == (1, 1)
    finally:
        await asyncio.to_thread(client.close)


async def test_what_is_queued_is_sent_at_interpreter_exit(server, cfg):
    script = textwrap.dedent(
        f"""
        from collector.client import SiteLensClient
        client = SiteLensClient("{base_url(server)}", "{TOKEN}", batch_size=1000, flush_interval_s=3600)
        for i in range(25):
            client.custom("at_exit")
        """
    )
    proc = await asyncio.create_subprocess_exec(sys.executable, "-c", script)
    assert await asyncio.wait_for(proc.wait(), timeout=20) == 0
    assert await stored(server, cfg, "SELECT count(*) FROM events WHERE name = 'at_exit'") == 25


def test_the_client_imports_nothing_beyond_the_standard_library():
    code = (
        "import sys, collector.client; "
        "bad = [m for m in sys.modules if m.split('.')[0] in ('aiohttp', 'orjson', 'textual', 'aiosqlite')]; "
        "print(bad)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=30)
    assert out.stdout.strip() == "[]", out.stderr
