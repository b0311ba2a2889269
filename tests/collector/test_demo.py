"""The demo traffic generator against a real collector: what a first-time user would see in the database."""

from __future__ import annotations

import json
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from aiohttp import web

from collector.app import create_app
from collector.config import Config, SiteConfig
from collector.demo import DemoError, run_demo
from collector.demo.runner import VisitFactory
from sitelens_tui.cli import main
from tests.conftest import query

INGEST_TOKEN = "demo-ingest-token"


@pytest.fixture
def demo_cfg(tmp_path: Path) -> Config:
    """A collector config that believes X-Forwarded-For from 127.0.0.1, as `sitelens run --demo` sets up."""
    cfg = Config.for_tests(tmp_path / "sitelens.db")
    cfg.server.trusted_proxies = ["127.0.0.1"]
    cfg.sites = [SiteConfig("example.com"), SiteConfig("shop.example.com", ingest_token=INGEST_TOKEN)]
    return cfg


@asynccontextmanager
async def serve(cfg: Config) -> AsyncIterator[str]:
    """A real collector on 127.0.0.1 (port 0); on exit it stops and its writer commits everything."""
    runner = web.AppRunner(create_app(cfg), access_log=None)
    await runner.setup()
    try:
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        yield f"http://127.0.0.1:{runner.addresses[0][1]}"
    finally:
        await runner.cleanup()


async def test_demo_fills_the_database_with_realistic_traffic(demo_cfg: Config) -> None:
    async with serve(demo_cfg) as url:
        stats = await run_demo(
            url, rate=40, duration=6.5, seed=7, pace=0.1, spike_every_s=6, spike_length_s=1.5, ingest_token=INGEST_TOKEN
        )
    assert stats.sent > 150 and stats.accepted >= stats.sent * 0.95, stats
    assert stats.errors == 0, stats.last_error
    assert {"human", "crawler", "scraper", "spike", "server"} <= set(stats.by_kind), stats.by_kind
    assert stats.ingest == "on"
    assert stats.spikes == 1
    sessions = query(demo_cfg, "SELECT * FROM sessions")
    humans = [s for s in sessions if not s["is_bot"]]
    bots = [s for s in sessions if s["is_bot"]]
    assert len(humans) > 30 and len(bots) >= 2
    assert {s["bot_name"] for s in bots if s["bot_name"]} & {
        "Googlebot",
        "bingbot",
        "Ahrefs",
        "GPTBot",
        "Semrush",
        "Applebot",
        "Yandex",
        "DuckDuckBot",
    }
    assert len({(s["browser"], s["os"]) for s in humans}) >= 5
    assert {s["device"] for s in humans} >= {"desktop", "mobile"}
    assert len({s["fingerprint"] for s in humans}) > len(humans) * 0.9  # forwarded addresses: distinct visitors

    pageviews = query(demo_cfg, "SELECT site, count(*) AS n FROM events WHERE type = 'pageview' GROUP BY site")
    assert {r["site"] for r in pageviews} == {"example.com", "shop.example.com"}

    [engagement] = query(
        demo_cfg,
        "SELECT count(*) AS n, min(scroll) AS lo, max(scroll) AS hi, "
        "min(engaged_ms) AS ms FROM events WHERE type = 'engagement'",
    )
    assert engagement["n"] > 20 and 25 <= engagement["lo"] and engagement["hi"] == 100 and engagement["ms"] > 0

    custom = query(demo_cfg, "SELECT name, props FROM events WHERE type = 'event'")
    assert len({r["name"] for r in custom}) >= 2
    assert all(isinstance(json.loads(r["props"]), dict) for r in custom if r["props"])

    mediums = {s["ref_medium"] for s in humans}
    assert {"search", "social", "email", "direct"} <= mediums
    assert any(s["utm_campaign"] for s in humans)
    assert any(s["entry_path"] == "/pricing" or s["exit_path"] in ("/signup", "/welcome") for s in humans)

    server = query(
        demo_cfg,
        "SELECT type, site, status, latency_ms FROM events WHERE type IN ('api_request', 'auth', 'external_call')",
    )
    api = [r for r in server if r["type"] == "api_request"]
    assert len(api) > 20 and all(r["site"] == "shop.example.com" for r in server)
    assert len({r["status"] for r in api}) >= 2 and all(r["latency_ms"] > 0 for r in api)

    [scraper] = [s for s in sessions if s["entry_path"] == "/page/1"]
    assert scraper["pageviews"] >= 10
    assert scraper["bot_score"] >= 50 and scraper["is_bot"] == 1
    assert {sig["name"] for sig in json.loads(scraper["bot_signals"])} >= {"sequential", "regular_timing"}


def test_same_seed_same_traffic() -> None:
    first, second, other = (
        VisitFactory(11, server=True),
        VisitFactory(11, server=True),
        VisitFactory(12, server=True),
    )
    plans = [(v.kind, v.headers, v.steps) for v in (first.next_normal() for _ in range(50))]
    assert plans == [(v.kind, v.headers, v.steps) for v in (second.next_normal() for _ in range(50))]
    assert plans != [(v.kind, v.headers, v.steps) for v in (other.next_normal() for _ in range(50))]


async def test_unreachable_collector_is_one_clear_error() -> None:
    url = f"http://127.0.0.1:{_closed_port()}"
    with pytest.raises(DemoError, match="cannot reach the collector at http://127.0.0.1:"):
        await run_demo(url, rate=5, duration=1)


def test_cli_unreachable_collector_exits_2(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{_closed_port()}"
    code = main(["demo", "--db", str(tmp_path / "x.db"), "--url", url, "--rate", "5", "--duration", "1"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2
    assert len(err) == 1 and err[0].startswith(f"sitelens: error: cannot reach the collector at {url}: ")


def _closed_port() -> int:
    """A local port nothing listens on."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
