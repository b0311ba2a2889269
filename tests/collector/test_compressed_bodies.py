"""Compressed request bodies on /api/event and /api/ingest: decoded when well-formed, a clear 4xx otherwise."""

from __future__ import annotations

import asyncio
import gzip
import time
import tracemalloc
import zlib

import brotli
import orjson
import pytest

from collector.app import create_app
from collector.config import SiteConfig
from tests.conftest import BROWSER_HEADERS, flushed, query

TOKEN = "config-token-for-example"
ROUTES = ("/api/event", "/api/ingest")


@pytest.fixture
async def api(aiohttp_client, cfg):
    cfg.sites = [SiteConfig(name="example.com", ingest_token=TOKEN)]
    return await aiohttp_client(create_app(cfg))


def good_body(route: str, count: int = 1, tag: str = "a") -> bytes:
    """A valid JSON batch for a route, each event marked with `tag` in its path."""
    if route == "/api/event":
        return orjson.dumps([{"site": "example.com", "url": f"https://example.com/{tag}{i}"} for i in range(count)])
    return orjson.dumps([{"type": "api_request", "endpoint": f"/{tag}{i}", "status": 200} for i in range(count)])


def raw_deflate(data: bytes) -> bytes:
    compressor = zlib.compressobj(wbits=-15)
    return compressor.compress(data) + compressor.flush()


ENCODERS = {
    "gzip": gzip.compress,
    "deflate": zlib.compress,
    "br": brotli.compress,
}


async def send(api, route: str, body: bytes, encoding: str | None):
    headers = {**BROWSER_HEADERS, "Content-Type": "application/json", "Authorization": f"Bearer {TOKEN}"}
    if encoding is not None:
        headers["Content-Encoding"] = encoding
    resp = await api.post(route, data=body, headers=headers)
    assert resp.content_type == "application/json", await resp.text()
    return resp.status, await resp.json()


def stored_paths(cfg) -> list[str]:
    return sorted(r["path"] for r in query(cfg, "SELECT path FROM events"))


@pytest.mark.parametrize("route", ROUTES)
async def test_well_formed_compressed_bodies_are_decoded_and_stored(api, cfg, route):
    for name, encode in {**ENCODERS, "raw deflate": raw_deflate}.items():
        encoding = "deflate" if name == "raw deflate" else name
        status, body = await send(api, route, encode(good_body(route, 2, tag=name[:2])), encoding)
        assert (status, body) == (202, {"accepted": 2}), name
    # Two gzip members back to back are one body (RFC 1952), and identity means "not encoded".
    whole = good_body(route, 2, "m")
    half = len(whole) // 2
    status, _ = await send(api, route, gzip.compress(whole[:half]) + gzip.compress(whole[half:]), "gzip")
    assert status == 202
    status, _ = await send(api, route, good_body(route, 1, "id"), "Identity")
    assert status == 202
    await flushed(api)
    assert len(stored_paths(cfg)) == 11


def malformed_bodies(encoding: str, route: str) -> dict[str, bytes]:
    """Ways a compressed body can be broken: random bytes, a truncated stream, trailing garbage, plain JSON."""
    whole = ENCODERS[encoding](good_body(route, 3))
    return {
        "random": bytes(range(7, 250, 3)) * 3,
        "truncated": whole[: len(whole) // 2],
        "plain json": good_body(route),
        "empty header only": whole[:2],
    }


@pytest.mark.parametrize("route", ROUTES)
@pytest.mark.parametrize("encoding", sorted(ENCODERS))
async def test_a_malformed_compressed_body_is_a_400_naming_the_encoding(api, cfg, route, encoding):
    for what, body in malformed_bodies(encoding, route).items():
        status, answer = await send(api, route, body, encoding)
        assert status == 400, (what, answer)
        assert encoding in answer["error"], (what, answer)
    status, _ = await send(api, route, ENCODERS[encoding](good_body(route, 1, "after")), encoding)
    assert status == 202
    await flushed(api)
    assert stored_paths(cfg) == ["/after0"]  # nothing from the rejected bodies


@pytest.mark.parametrize("route", ROUTES)
async def test_an_unknown_content_encoding_is_415_and_nothing_is_stored(api, cfg, route):
    for encoding in ("compress", "zstd", "gzip, br", "x-bogus", "gzip;q=1"):
        status, answer = await send(api, route, good_body(route, 1, "x"), encoding)
        assert status == 415, (encoding, answer)
        assert "gzip, deflate, br" in answer["error"]
    await flushed(api)
    assert stored_paths(cfg) == []


@pytest.mark.parametrize("route", ROUTES)
async def test_a_compressed_batch_with_a_bad_event_keeps_the_good_ones(api, cfg, route):
    events = orjson.loads(good_body(route, 2))
    events.insert(1, {"type": 42})
    status, answer = await send(api, route, gzip.compress(orjson.dumps(events)), "gzip")
    assert status == 202 and answer["accepted"] == 2 and [r["index"] for r in answer["rejected"]] == [1]
    await flushed(api)
    assert len(stored_paths(cfg)) == 2


def bomb(size: int) -> bytes:
    """A gzip body that inflates to `size` bytes of spaces (valid JSON whitespace around nothing)."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, 31)
    block = b" " * (1 << 20)
    parts = [compressor.compress(block) for _ in range(size >> 20)]
    return b"".join(parts) + compressor.flush()


@pytest.mark.parametrize(
    ("route", "limit_attr"), [("/api/event", "max_body_bytes"), ("/api/ingest", "max_ingest_bytes")]
)
async def test_a_gzip_bomb_is_cut_at_the_route_limit_while_decompressing(api, cfg, route, limit_attr):
    limit = getattr(cfg.server, limit_attr)
    payload = bomb(1 << 30 if route == "/api/ingest" else 60 << 20)  # 1 GiB and 60 MiB once inflated
    assert len(payload) < limit  # small on the wire: only inflating it is a problem
    tracemalloc.start()
    try:
        started = time.perf_counter()
        status, answer = await send(api, route, payload, "gzip")
        elapsed = time.perf_counter() - started
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert status == 413, answer
    assert "gzip" in answer["error"] and str(limit) in answer["error"]
    # Inflating stops at the route's own limit: memory stays within a few times that limit and the
    # time is that of inflating `limit` bytes, not the whole bomb (1 GiB would take seconds).
    assert peak < 4 * limit + (256 << 10), f"peak {peak} bytes for a {limit}-byte limit"
    assert elapsed < 2.0
    await asyncio.sleep(0)
    status, _ = await send(api, route, gzip.compress(good_body(route, 1, "ok")), "gzip")
    assert status == 202
