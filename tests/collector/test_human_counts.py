"""Human figures through the real HTTP collector: bots' early hits and server-side events never count as people.

The accuracy test generates a mixed dataset (people, a fast scraper that is only judged a bot after its first hits
were stored, slow library-UA and headless scrapers, API traffic from the people's own addresses, auth events,
external calls) and checks every human figure of /api/stats and of the Overview queries against the counts the
generator knows to be true.
"""

from __future__ import annotations

import random
import sqlite3
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
import pytest

from collector.app import create_app
from collector.config import Config, SiteConfig, ThrottleConfig
from db.queries.common import Filters, Span
from db.sqlite.connection import connect
from db.sqlite.queries.anomalies import metric_value
from db.sqlite.queries.overview import kpis, live_visitors, timeseries, top
from db.sqlite.rollups import ROLLUP_TABLES, rebuild
from tests.conftest import CHROME_UA, flushed

SITE = "example.com"
TOKEN = "ingest-token-for-example"
ADMIN = {"Authorization": "Bearer test-admin-token"}
HUMAN_PATHS = ["/", "/pricing", "/blog", "/blog/a", "/blog/b", "/docs", "/docs/setup", "/signup", "/about", "/jobs"]
REFERRERS = {"": "", "https://www.google.com/": "Google", "https://news.ycombinator.com/item?id=1": "Hacker News"}
HEADLESS_UA = CHROME_UA.replace("Chrome/", "HeadlessChrome/")
FIREFOX_UA = "Mozilla/5.0 (X11; Linux x86_64; rv:126.0) Gecko/20100101 Firefox/126.0"


@pytest.fixture
def cfg(tmp_path: Path) -> Config:
    cfg = Config.for_tests(tmp_path / "sitelens.db")
    cfg.server.trusted_proxies = ["127.0.0.1"]  # each simulated client poses as its own IP via X-Forwarded-For
    cfg.throttle = ThrottleConfig(enabled=False)  # every hit is stored, so the bots' counts are known too
    cfg.sites = [SiteConfig(name=SITE, ingest_token=TOKEN)]
    return cfg


@pytest.fixture
async def client(aiohttp_client: Callable[..., Any], cfg: Config) -> Any:
    return await aiohttp_client(create_app(cfg))


async def track(client: Any, ip: str, ua: str, event: dict[str, Any], **extra: str) -> None:
    """One tracker event from a browser at `ip`."""
    body = orjson.dumps({"site": SITE, "type": "pageview", **event})
    resp = await client.post(
        "/api/event",
        data=body,
        headers={
            "User-Agent": ua,
            "Accept": "*/*",
            "Accept-Language": "en-GB,en;q=0.9",
            "Content-Type": "text/plain",
            "X-Forwarded-For": ip,
            **extra,
        },
    )
    assert resp.status == 202, await resp.text()


async def ingest(client: Any, events: list[dict[str, Any]]) -> None:
    resp = await client.post("/api/ingest", data=orjson.dumps(events), headers={"Authorization": f"Bearer {TOKEN}"})
    assert resp.status == 202, await resp.text()
    assert (await resp.json())["accepted"] == len(events)


async def stats(client: Any, range_: str) -> dict[str, Any]:
    resp = await client.get(f"/api/stats?site={SITE}&range={range_}", headers=ADMIN)
    assert resp.status == 200
    return dict(await resp.json())


def rollup_rows(conn: sqlite3.Connection) -> dict[str, list[tuple[Any, ...]]]:
    return {t: sorted(tuple(r) for r in conn.execute(f"SELECT * FROM {t}")) for t in ROLLUP_TABLES}


def assert_rollups_equal_a_rebuild(path: Path) -> None:
    conn = connect(path)
    try:
        kept = rollup_rows(conn)
        rebuild(conn)
        assert rollup_rows(conn) == kept
    finally:
        conn.close()


# ------------------------------------------------------------------------------------------ the generator


@dataclass
class Truth:
    """What the generator sent, seen as people (only the humans count)."""

    visitors: int = 0
    pageviews: int = 0
    bounces: int = 0
    custom_events: int = 0
    bot_pageviews: int = 0
    pages: Counter[str] = field(default_factory=Counter)
    page_visitors: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    sources: Counter[str] = field(default_factory=Counter)
    entry: Counter[str] = field(default_factory=Counter)
    exit: Counter[str] = field(default_factory=Counter)
    browsers: Counter[str] = field(default_factory=Counter)


Step = tuple[str, Any]
"""("track", (ip, ua, event, headers)) | ("ingest", [events]) | ("flush", None)."""


def generate(seed: int) -> tuple[list[Step], Truth]:
    """A shuffled, interleaved script of traffic and the human truth it adds up to."""
    rng = random.Random(seed)
    truth = Truth()
    streams: list[list[Step]] = []
    human_ips = []
    for i in range(40):
        ip = f"198.51.100.{i + 1}"
        human_ips.append(ip)
        ua, browser = rng.choice([(CHROME_UA, "Chrome"), (FIREFOX_UA, "Firefox")])
        pages = rng.sample(HUMAN_PATHS, rng.randint(1, 4))  # few hits: no behavioural signal can fire
        referrer = rng.choice(list(REFERRERS))
        steps: list[Step] = []
        for n, path in enumerate(pages):
            event: dict[str, Any] = {"url": f"https://{SITE}{path}"}
            if n == 0 and referrer:
                event["referrer"] = referrer
            steps.append(("track", (ip, ua, event, {})))
            truth.pages[path] += 1
            truth.page_visitors[path].add(ip)
        custom = rng.random() < 0.3
        if custom:
            steps.append(("track", (ip, ua, {"type": "event", "name": "signup", "url": f"https://{SITE}/signup"}, {})))
            truth.custom_events += 1
        if rng.random() < 0.5:
            engagement = {"type": "engagement", "url": f"https://{SITE}{pages[-1]}", "engaged_ms": 4000, "scroll": 50}
            steps.append(("track", (ip, ua, engagement, {})))
        truth.visitors += 1
        truth.pageviews += len(pages)
        truth.bounces += len(pages) == 1 and not custom
        truth.sources[REFERRERS[referrer]] += 1
        truth.entry[pages[0]] += 1
        truth.exit[pages[-1]] += 1
        truth.browsers[browser] += 1
        streams.append(steps)
    # A fast scraper with a browser's UA: its first hits look human and are stored as such (a flush right after
    # them), then its behaviour crosses 50 and all of it must leave the human figures.
    fast = [("track", ("203.0.113.10", CHROME_UA, {"url": f"https://{SITE}/item/{n}"}, {})) for n in range(1, 71)]
    fast.insert(3, ("flush", None))
    truth.bot_pageviews += 70
    streams.append(fast)
    # Slow scrapers: a library UA (judged on its first request) and a headless browser (webdriver hint).
    slow = [
        ("track", ("203.0.113.20", "python-requests/2.31.0", {"url": f"https://{SITE}{p}"}, {}))
        for p in HUMAN_PATHS[:6]
    ]
    headless = [
        ("track", ("203.0.113.30", HEADLESS_UA, {"url": f"https://{SITE}{p}", "webdriver": True}, {}))
        for p in HUMAN_PATHS[3:8]
    ]
    truth.bot_pageviews += len(slow) + len(headless)
    streams += [slow, headless]
    # Server-side traffic, some of it from the very addresses and browsers the people use.
    api_ips = human_ips[:10] + [f"192.0.2.{i}" for i in range(1, 31)]
    for ip in api_ips:
        ua = rng.choice([CHROME_UA, "okhttp/4.12.0", ""])
        calls: list[dict[str, Any]] = [
            {"type": "api_request", "method": "GET", "endpoint": "/v1/items/{id}",
             "status": rng.choice([200, 404, 500]), "latency_ms": rng.uniform(2, 80), "ip": ip, "ua": ua}
            for _ in range(rng.randint(1, 12))
        ]
        calls.append({"type": "auth", "action": rng.choice(["login", "login_failed"]), "ip": ip, "ua": ua})
        calls.append({"type": "external_call", "service": "stripe", "latency_ms": 120.0, "cost_usd": 0.01, "ip": ip})
        streams.append([("ingest", calls[i : i + 5]) for i in range(0, len(calls), 5)])
    script: list[Step] = []
    while streams:  # interleave the streams, each in its own order
        stream = rng.choice(streams)
        script.append(stream.pop(0))
        if not stream:
            streams.remove(stream)
    return script, truth


async def play(client: Any, script: list[Step]) -> None:
    for kind, arg in script:
        if kind == "track":
            ip, ua, event, headers = arg
            await track(client, ip, ua, event, **headers)
        elif kind == "ingest":
            await ingest(client, arg)
        else:
            await flushed(client)
    await flushed(client)


def rows_by_value(rows: list[dict[str, Any]]) -> dict[str, tuple[int, int]]:
    return {r["value"]: (r["visitors"], r["pageviews"]) for r in rows}


@pytest.mark.parametrize("seed", [7, 8])
async def test_every_human_figure_equals_the_generators_truth(client: Any, cfg: Config, seed: int) -> None:
    script, truth = generate(seed)
    await play(client, script)
    for range_ in ("24h", "7d"):  # distinct ids on raw rows, and first visits of the day (the rollups' way)
        doc = await stats(client, range_)
        assert (doc["visitors"], doc["sessions"], doc["pageviews"], doc["events"]) == (
            truth.visitors, truth.visitors, truth.pageviews, truth.custom_events
        ), range_
        assert doc["bounce_rate"] == round(100.0 * truth.bounces / truth.visitors, 2)
        assert doc["bots"] == truth.bot_pageviews
        assert doc["live_visitors"] == truth.visitors
        assert len(truth.pages) <= 10  # so the top 10 is every page people saw, and nothing else
        assert rows_by_value(doc["top_pages"]) == {p: (len(truth.page_visitors[p]), n) for p, n in truth.pages.items()}
        assert {r["value"]: r["visitors"] for r in doc["sources"]} == dict(truth.sources)
        assert {r["value"]: r["visitors"] for r in doc["entry_pages"]} == dict(truth.entry)
        assert {r["value"]: r["visitors"] for r in doc["exit_pages"]} == dict(truth.exit)
        assert {r["value"]: r["visitors"] for r in doc["browsers"]} == dict(truth.browsers)
    # The Overview's own queries, and the human pageviews an anomaly rule watches.
    now = time.time() + 1
    span, humans = Span(now - 86400, now), Filters(site=SITE)
    conn = connect(cfg.db_path, readonly=True)
    try:
        k = kpis(conn, span, humans)
        assert (k.visitors, k.sessions, k.pageviews, k.events, k.bots) == (
            truth.visitors, truth.visitors, truth.pageviews, truth.custom_events, truth.bot_pageviews
        )
        assert live_visitors(conn, now, humans) == truth.visitors
        series = timeseries(conn, Span(now - 3600, now), humans)
        assert sum(p.pageviews for p in series) == truth.pageviews
        assert sum(p.bots for p in series) == truth.bot_pageviews
        pages = {r.value: (r.visitors, r.pageviews) for r in top(conn, span, humans, "pages", 50)}
        assert pages == {p: (len(truth.page_visitors[p]), n) for p, n in truth.pages.items()}
        assert {r.value: r.pageviews for r in top(conn, span, humans, "events", 50)} == (
            {"signup": truth.custom_events} if truth.custom_events else {}
        )
        assert metric_value(conn, "pageviews", SITE, now - 3600, now) == (truth.pageviews, truth.pageviews)
        assert metric_value(conn, "sessions", SITE, now - 3600, now)[0] == truth.visitors
        # The server side is all there, in the Server view's tables, and made no web session.
        api_total = conn.execute("SELECT count(*) FROM events WHERE type = 'api_request'").fetchone()[0]
        assert api_total > 100
        assert conn.execute(
            "SELECT count(*) FROM events WHERE type IN ('api_request', 'auth', 'external_call') AND session_id != 0"
        ).fetchone()[0] == 0
    finally:
        conn.close()
    assert_rollups_equal_a_rebuild(cfg.db_path)


async def test_a_scrapers_early_hits_leave_the_human_figures_once_it_is_judged_a_bot(
    client: Any, cfg: Config
) -> None:
    await track(client, "198.51.100.1", CHROME_UA, {"url": f"https://{SITE}/"})
    for n in range(1, 4):  # stored while the scraper still looks like a person
        await track(client, "203.0.113.10", CHROME_UA, {"url": f"https://{SITE}/item/{n}"})
    await flushed(client)
    before = await stats(client, "24h")
    assert (before["visitors"], before["sessions"], before["pageviews"]) == (2, 2, 4)
    for n in range(4, 71):
        await track(client, "203.0.113.10", CHROME_UA, {"url": f"https://{SITE}/item/{n}"})
    await flushed(client)
    after = await stats(client, "24h")
    assert (after["visitors"], after["sessions"], after["pageviews"], after["bots"]) == (1, 1, 1, 70)
    assert [r["value"] for r in after["top_pages"]] == ["/"]
    conn = connect(cfg.db_path, readonly=True)
    try:
        session_flags = conn.execute(
            "SELECT s.is_bot, count(*), sum(e.is_bot) FROM events e JOIN sessions s ON s.id = e.session_id "
            "GROUP BY s.id ORDER BY s.is_bot"
        ).fetchall()
        assert [tuple(r) for r in session_flags] == [(0, 1, 0), (1, 70, 70)]
        now = time.time() + 1
        assert metric_value(conn, "pageviews", SITE, now - 600, now) == (1.0, 1)
    finally:
        conn.close()
    assert_rollups_equal_a_rebuild(cfg.db_path)


async def test_api_callers_are_not_visitors_sessions_pageviews_or_sources(client: Any, cfg: Config) -> None:
    await track(client, "198.51.100.1", CHROME_UA, {"url": f"https://{SITE}/"})
    await track(client, "198.51.100.1", CHROME_UA, {"url": f"https://{SITE}/pricing"})
    for i in range(20):
        calls = [
            {"type": "api_request", "method": "GET", "endpoint": "/v1/items", "status": 200, "ip": f"192.0.2.{i}",
             "ua": CHROME_UA},
            {"type": "auth", "action": "login_failed", "ip": f"192.0.2.{i}", "ua": CHROME_UA},
            {"type": "external_call", "service": "openai", "cost_usd": 0.002, "ip": f"192.0.2.{i}"},
        ]
        await ingest(client, calls)
    # The person's own address and browser calling the API still makes one visit, not two.
    await ingest(client, [{"type": "api_request", "endpoint": "/v1/me", "status": 200, "ip": "198.51.100.1",
                           "ua": CHROME_UA}])
    await flushed(client)
    doc = await stats(client, "24h")
    assert (doc["visitors"], doc["sessions"], doc["pageviews"], doc["bounce_rate"]) == (1, 1, 2, 0.0)
    assert doc["live_visitors"] == 1
    assert {r["value"]: r["visitors"] for r in doc["sources"]} == {"": 1}
    assert {r["value"] for r in doc["top_pages"]} == {"/", "/pricing"}
    assert_rollups_equal_a_rebuild(cfg.db_path)
