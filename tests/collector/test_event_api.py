"""POST /api/event, /p.gif, /sl.js and /healthz through the real collector: input rules and what gets stored."""

from __future__ import annotations

import gzip

import orjson
import pytest

from collector.app import create_app
from collector.config import SiteConfig
from tests.conftest import BROWSER_HEADERS, flushed, query


def event(**fields: object) -> dict[str, object]:
    return {"site": "example.com", "type": "pageview", "url": "https://example.com/", **fields}


async def post(client, payload, *, headers=None, raw: bytes | None = None, content_type="text/plain"):
    data = raw if raw is not None else orjson.dumps(payload)
    resp = await client.post("/api/event", data=data, headers={**BROWSER_HEADERS, "Content-Type": content_type,
                                                                **(headers or {})})
    return resp.status, await resp.json()


async def test_single_pageview_is_stored_enriched(client, cfg):
    status, body = await post(client, event(url="https://example.com/blog?utm_source=news&utm_medium=email",
                                            referrer="https://www.google.com/search?q=x", title="Blog"))
    assert status == 202 and body == {"accepted": 1}
    await flushed(client)
    [row] = query(cfg, "SELECT * FROM events")
    assert (row["type"], row["path"], row["title"]) == ("pageview", "/blog", "Blog")
    assert (row["browser"], row["os"], row["device"]) == ("Chrome", "Windows", "desktop")
    assert row["ref_medium"] == "email" and row["utm_source"] == "news"
    assert row["ip"] == "" and row["is_bot"] == 0
    [session] = query(cfg, "SELECT * FROM sessions")
    assert session["pageviews"] == 1 and session["entry_path"] == "/blog"


async def test_gzipped_and_chunked_bodies_are_read_whole(client, cfg):
    body = orjson.dumps([event(url=f"https://example.com/p{i}", title="t" * 500) for i in range(60)])

    async def chunks():
        for start in range(0, len(body), 1000):
            yield body[start : start + 1000]

    resp = await client.post("/api/event", data=chunks(), headers={**BROWSER_HEADERS, "Content-Type": "text/plain"})
    assert resp.status == 202 and (await resp.json()) == {"accepted": 60}
    zipped = gzip.compress(orjson.dumps(event(url="https://example.com/zipped")))
    status, answer = await post(client, None, raw=zipped, headers={"Content-Encoding": "gzip"})
    assert status == 202 and answer == {"accepted": 1}
    await flushed(client)
    assert len(query(cfg, "SELECT path FROM events")) == 61


async def test_a_chunked_body_over_the_limit_is_413(client, cfg):
    async def chunks():
        for _ in range(100):
            yield b" " * 1024

    resp = await client.post("/api/event", data=chunks(), headers={**BROWSER_HEADERS, "Content-Type": "text/plain"})
    assert resp.status == 413 and "too large" in (await resp.json())["error"]


async def test_json_content_type_is_accepted_too(client, cfg):
    status, _ = await post(client, event(), content_type="application/json")
    assert status == 202


async def test_batch_with_one_bad_event_keeps_the_good_ones(client, cfg):
    status, body = await post(client, [event(url="https://example.com/a"), {"site": "example.com", "url": 42},
                                       event(url="https://example.com/b")])
    assert status == 202
    assert body["accepted"] == 2
    assert body["rejected"] == [{"index": 1, "error": "url: expected a string, got number"}]
    await flushed(client)
    assert sorted(r["path"] for r in query(cfg, "SELECT path FROM events")) == ["/a", "/b"]


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        ({"site": 5, "url": "https://x/"}, "site: expected a string, got number"),
        ({"site": "example.com"}, "url: required"),
        ({"site": "example.com", "url": "https://x/", "type": "click"}, "type: must be one of"),
        ({"site": "example.com", "url": "https://x/", "type": "event"}, "name: required"),
        ({"site": "example.com", "url": "https://x/", "props": [1]}, "props: expected an object"),
        ({"site": "example.com", "url": "https://x/", "type": "event", "name": "n",
          "props": {str(i): "v" for i in range(31)}}, "props: at most 30"),
        ({"site": "example.com", "url": "https://x/", "scroll": "deep"}, "scroll: expected a number"),
        ({"site": "example.com", "url": "https://x/", "webdriver": "yes"}, "webdriver: expected a boolean"),
        ("just a string", "expected a JSON object or array"),
        ([], "empty batch"),
    ],
)
async def test_wrong_types_get_a_400_that_says_what_is_wrong(client, cfg, payload, message):
    status, body = await post(client, payload)
    assert status == 400
    assert message in body["error"] or any(message in e["error"] for e in body.get("rejected", []))
    await flushed(client)
    assert query(cfg, "SELECT count(*) AS n FROM events")[0]["n"] == 0


async def test_malformed_json_and_invalid_utf8_are_400(client):
    status, body = await post(client, None, raw=b'{"site": "example.com", ')
    assert status == 400 and body["error"].startswith("malformed JSON")
    status, body = await post(client, None, raw=b'{"site": "\xff\xfe", "url": "https://x/"}')
    assert status == 400 and "UTF-8" in body["error"]
    status, body = await post(client, None, raw=b"")
    assert status == 400 and "empty body" in body["error"]


async def test_oversized_body_is_413_and_nothing_is_stored(client, cfg):
    big = orjson.dumps(event(title="x" * (1024 * 1024)))
    status, body = await post(client, None, raw=big)
    assert status == 413 and "too large" in body["error"]
    status, _ = await post(client, event(url="https://example.com/after"))
    assert status == 202
    await flushed(client)
    assert [r["path"] for r in query(cfg, "SELECT path FROM events")] == ["/after"]


async def test_batch_over_100_is_refused(client):
    status, body = await post(client, [event()] * 101)
    assert status == 400 and "at most 100" in body["error"]


async def test_long_strings_are_capped(client, cfg):
    status, _ = await post(client, event(url="https://example.com/" + "a" * 5000, type="event", name="n" * 300,
                                         props={"k": "v" * 2000}))
    assert status == 202
    await flushed(client)
    [row] = query(cfg, "SELECT path, name, props FROM events")
    assert len(row["path"]) <= 2000 and len(row["name"]) == 100
    assert len(orjson.loads(row["props"])["k"]) == 500


async def test_unknown_site_is_refused_when_sites_are_configured(aiohttp_client, cfg):
    cfg.sites = [SiteConfig(name="example.com")]
    client = await aiohttp_client(create_app(cfg))
    status, body = await post(client, event(site="other.org"))
    assert status == 400 and "unknown site" in body["error"]
    status, _ = await post(client, event(), headers={"Origin": "https://www.example.com"})
    assert status == 202


async def test_cors_allows_configured_origins_only(aiohttp_client, cfg):
    cfg.sites = [SiteConfig(name="example.com", origins=["https://app.example.net"])]
    client = await aiohttp_client(create_app(cfg))
    ok = await client.options("/api/event", headers={"Origin": "https://app.example.net",
                                                     "Access-Control-Request-Method": "POST"})
    assert ok.status == 204 and ok.headers["Access-Control-Allow-Origin"] == "https://app.example.net"
    bad = await client.post("/api/event", data=orjson.dumps(event()), headers={"Origin": "https://evil.test"})
    assert bad.status == 403


async def test_any_origin_when_no_sites_are_configured(client):
    resp = await client.post("/api/event", data=orjson.dumps(event()), headers={"Origin": "https://anything.test"})
    assert resp.status == 202 and resp.headers["Access-Control-Allow-Origin"] == "https://anything.test"


async def test_pii_is_redacted_before_storage(client, cfg):
    await post(client, event(url="https://example.com/u/jane.doe@mail.com?password=hunter2&page=2",
                             referrer="https://news.example.org/?email=bob@x.org"))
    await flushed(client)
    stored = " ".join(str(v) for r in query(cfg, "SELECT * FROM events") for v in tuple(r))
    for secret in ("jane.doe@mail.com", "hunter2", "bob@x.org"):
        assert secret not in stored


async def test_pixel_records_a_pageview(client, cfg):
    resp = await client.get("/p.gif", params={"site": "example.com", "url": "https://example.com/nojs"},
                            headers=BROWSER_HEADERS)
    assert resp.status == 200 and resp.content_type == "image/gif"
    await flushed(client)
    assert [r["path"] for r in query(cfg, "SELECT path FROM events WHERE type = 'pageview'")] == ["/nojs"]
    bad = await client.get("/p.gif")
    assert bad.status == 400


async def test_tracker_is_served_cacheable(client):
    resp = await client.get("/sl.js", headers={"Accept-Encoding": "gzip"})
    assert resp.status == 200 and "javascript" in resp.content_type
    assert "max-age" in resp.headers["Cache-Control"]
    assert "sendBeacon" in await resp.text()


async def test_healthz_reports_database_and_queue(client):
    resp = await client.get("/healthz")
    body = await resp.json()
    assert resp.status == 200 and body["status"] == "ok"
    assert body["database"]["ok"] is True and body["queue_depth"] >= 0


async def test_unknown_route_and_method_are_json_4xx(client):
    resp = await client.get("/nope")
    assert resp.status == 404 and "error" in await resp.json()
    resp = await client.put("/api/event")
    assert resp.status == 405 and "error" in await resp.json()


async def test_full_queue_answers_503_and_counts_the_drop(aiohttp_client, cfg):
    cfg.db.queue_max = 2
    cfg.db.flush_interval_s = 60
    client = await aiohttp_client(create_app(cfg))
    statuses = [(await post(client, event()))[0] for _ in range(3)]
    assert statuses == [202, 202, 503]
    health = await (await client.get("/healthz")).json()
    assert health["writer"]["rejected_full"] == 1
    await flushed(client)
    assert query(cfg, "SELECT count(*) AS n FROM events")[0]["n"] == 2
