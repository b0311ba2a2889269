"""Whatever arrives, the collector answers 2xx/4xx, never 500, and keeps serving good traffic."""

from __future__ import annotations

import random

import orjson

from collector.app import create_app
from tests.conftest import BROWSER_HEADERS, flushed, query

FIREFOX_UA = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"
FIELDS = ["site", "type", "url", "referrer", "title", "name", "props", "engaged_ms", "scroll", "screen", "webdriver",
          "ts"]


def random_value(rng: random.Random, depth: int = 0) -> object:
    kind = rng.randrange(9 if depth < 2 else 6)
    if kind == 0:
        return None
    if kind == 1:
        return rng.choice([True, False])
    if kind == 2:
        return rng.choice([0, -1, 2**63, -(2**70), 1e308, -1e-308, 3.5])
    if kind == 3:
        return "".join(chr(rng.randrange(0x110000)) for _ in range(rng.randrange(40))).encode(
            "utf-8", "surrogatepass").decode("utf-8", "replace")
    if kind == 4:
        return rng.choice(["", "pageview", "event", "engagement", "example.com", "https://example.com/x",
                           "[red]x[/red]", "\x1b]8;;http://evil\x07link", "\u202egnp.exe", "a" * 5000])
    if kind == 5:
        return "https://example.com/" + "/".join(str(rng.randrange(100)) for _ in range(rng.randrange(5)))
    if kind == 6:
        return [random_value(rng, depth + 1) for _ in range(rng.randrange(4))]
    return {rng.choice(FIELDS + ["x", ""]): random_value(rng, depth + 1) for _ in range(rng.randrange(6))}


def random_event(rng: random.Random) -> object:
    if rng.random() < 0.2:
        return random_value(rng)
    event: dict[str, object] = {"site": "example.com", "url": "https://example.com/"}
    for _ in range(rng.randrange(1, 5)):
        event[rng.choice(FIELDS)] = random_value(rng)
    return event


async def test_random_payloads_never_cause_a_500(aiohttp_client, cfg):
    cfg.throttle.enabled = False  # exercise validation, not the rate limiter
    client = await aiohttp_client(create_app(cfg))
    rng = random.Random(20261123)
    statuses: set[int] = set()
    for i in range(300):
        payload = random_event(rng) if i % 3 else [random_event(rng) for _ in range(rng.randrange(1, 5))]
        try:
            body = orjson.dumps(payload)
        except TypeError:
            continue
        if i % 7 == 0:  # corrupt some bodies at the byte level
            raw = bytearray(body)
            for _ in range(3):
                if raw:
                    raw[rng.randrange(len(raw))] = rng.randrange(256)
            body = bytes(raw)
        resp = await client.post("/api/event", data=body, headers=BROWSER_HEADERS)
        statuses.add(resp.status)
        assert resp.status < 500, (resp.status, body[:200], await resp.text())
        assert "error" in await resp.json() or resp.status == 202
    assert 400 in statuses and 202 in statuses
    good = await client.post("/api/event", data=orjson.dumps({"site": "good.example", "url": "https://good.example/ok"}),
                             headers={**BROWSER_HEADERS, "User-Agent": FIREFOX_UA})  # another client
    assert good.status == 202
    await flushed(client)
    assert [r["path"] for r in query(cfg, "SELECT path FROM events WHERE site = 'good.example'")] == ["/ok"]


async def test_hostile_query_strings_on_the_pixel_never_cause_a_500(client):
    for params in ({"site": "\x00"}, {"site": "a" * 10000}, {"site": "x", "url": "\ud800"}, {"site": "x", "url": "::"},
                   {"site": "x", "ref": "javascript:alert(1)"}):
        resp = await client.get("/p.gif", params=params, headers=BROWSER_HEADERS)
        assert resp.status < 500
