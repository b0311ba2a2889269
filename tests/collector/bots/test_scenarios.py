"""Bot scoring and throttling end to end, through the real HTTP collector and a second process's CLI."""

from __future__ import annotations

import asyncio
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson

from collector import keys
from collector.app import create_app
from collector.config import Config, ThrottleConfig
from collector.tasks import sync_throttle
from tests.conftest import BROWSER_HEADERS, flushed, query

SITE = "example.com"
REPO = Path(__file__).resolve().parents[3]


def make_cfg(tmp_path: Path, **throttle: Any) -> Config:
    cfg = Config.for_tests(tmp_path / "sitelens.db")
    cfg.server.trusted_proxies = ["127.0.0.1"]  # lets each test client pose as its own IP via X-Forwarded-For
    cfg.throttle = ThrottleConfig(**throttle)
    return cfg


async def pageview(client: Any, ip: str, path: str) -> Any:
    body = orjson.dumps({"site": SITE, "type": "pageview", "url": f"https://{SITE}{path}"})
    return await client.post(
        "/api/event",
        data=body,
        headers={**BROWSER_HEADERS, "Content-Type": "text/plain", "X-Forwarded-For": ip},
    )


def session_of(client: Any) -> Any:
    """The live session record of the only client the test drives."""
    [session] = client.server.app[keys.PIPELINE].sessions.active()
    return session.record


async def test_steady_scraper_crosses_50_and_is_escalated_to_severe_then_blocked(
    aiohttp_client: Callable[..., Any], tmp_path: Path
) -> None:
    # A generous rate so the escalation seen here comes from behaviour, not from speed.
    cfg = make_cfg(tmp_path, base_rate=1000.0, burst=1000.0, quiet_period_s=300.0)
    client = await aiohttp_client(create_app(cfg))
    statuses: list[int] = []
    levels: list[str] = []
    scores: list[int] = []
    for page in range(1, 201):
        resp = await pageview(client, "203.0.113.50", f"/page/{page}")
        statuses.append(resp.status)
        rec = session_of(client)
        levels.append(rec.throttle_level)
        scores.append(rec.bot_score)
        await asyncio.sleep(0.005)  # a steady rhythm

    first_drop = statuses.index(204)
    assert all(s == 202 for s in statuses[:first_drop])
    assert all(s == 204 for s in statuses[first_drop:])  # once blocked, silently dropped
    assert max(scores) >= 50
    seen = list(dict.fromkeys(levels[:first_drop]))
    assert "severe" in seen and seen.index("severe") > 0  # escalated, not blocked from the start
    assert levels[0] == "normal"

    await sync_throttle(client.server.app)  # what the throttle-sync service does every second
    await flushed(client)
    [session] = query(cfg, "SELECT * FROM sessions")
    assert session["is_bot"] == 1 and session["bot_score"] >= 50
    signals = {s["name"]: s["value"] for s in json.loads(session["bot_signals"])}
    assert {"request_count", "sequential", "page_coverage", "pages_per_minute"} <= set(signals)
    assert signals["request_count"] == first_drop
    assert signals["sequential"] == 1.0
    drops = query(cfg, "SELECT level, reason, sum(count) AS n FROM throttle_drops GROUP BY level, reason")
    assert [(r["level"], r["reason"], r["n"]) for r in drops] == [("blocked", "blocked", 200 - first_drop)]
    # The block is on record although blocked requests never reach the pipeline again.
    assert query(cfg, "SELECT level FROM fingerprints")[0]["level"] == "blocked"
    assert query(cfg, "SELECT throttle_level FROM sessions")[0]["throttle_level"] == "blocked"


async def test_human_reading_five_pages_stays_normal_with_no_reasons(
    aiohttp_client: Callable[..., Any], tmp_path: Path
) -> None:
    cfg = make_cfg(tmp_path)
    client = await aiohttp_client(create_app(cfg))
    pages = ["/", "/pricing", "/docs", "/docs/install", "/blog/why-sitelens"]
    pauses = [0.21, 0.03, 0.4, 0.09, 0.0]
    for path, pause in zip(pages, pauses, strict=True):
        resp = await pageview(client, "198.51.100.23", path)
        assert resp.status == 202
        await asyncio.sleep(pause)
    await flushed(client)
    [session] = query(cfg, "SELECT * FROM sessions")
    assert session["pageviews"] == 5
    assert session["bot_score"] < 20
    assert session["is_bot"] == 0
    assert session["bot_reasons"] == "" and json.loads(session["bot_signals"]) == []
    assert session["throttle_level"] == "normal"


async def test_a_crawler_is_named_and_its_hints_kept_on_the_session_and_fingerprint(
    aiohttp_client: Callable[..., Any], tmp_path: Path
) -> None:
    cfg = make_cfg(tmp_path)
    client = await aiohttp_client(create_app(cfg))
    googlebot = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"
    for path in ("/", "/pricing", "/.env"):
        body = orjson.dumps({"site": SITE, "type": "pageview", "url": f"https://{SITE}{path}"})
        resp = await client.post("/api/event", data=body, headers={
            **BROWSER_HEADERS, "User-Agent": googlebot, "Content-Type": "text/plain", "X-Forwarded-For": "66.249.66.1"})
        assert resp.status == 202
    await flushed(client)
    [session] = query(cfg, "SELECT * FROM sessions")
    assert (session["is_bot"], session["bot_name"]) == (1, "Googlebot")
    assert session["bot_reasons"] == "crawler:Googlebot,probe-path"
    [fingerprint] = query(cfg, "SELECT * FROM fingerprints")
    assert json.loads(fingerprint["flags"]) == ["crawler:Googlebot", "probe-path"]
    assert (fingerprint["requests"], fingerprint["bot_name"]) == (3, "Googlebot")


async def test_fast_client_gets_429_with_retry_after(
    aiohttp_client: Callable[..., Any], tmp_path: Path
) -> None:
    cfg = make_cfg(tmp_path, base_rate=1.0, burst=3.0)
    client = await aiohttp_client(create_app(cfg))
    statuses = []
    for i in range(5):
        resp = await pageview(client, "192.0.2.44", f"/a{i}")
        statuses.append(resp.status)
        if resp.status == 429:
            assert int(resp.headers["Retry-After"]) >= 1
            assert "too many requests" in (await resp.json())["error"]
    assert statuses == [202, 202, 202, 429, 429]
    assert (await pageview(client, "192.0.2.45", "/a")).status == 202  # another client is unaffected


async def run_cli(db: Path, *args: str) -> str:
    """Run `sitelens` as a separate process, as an admin on the same machine would."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "sitelens_tui.cli",
        *args,
        "--db",
        str(db),
        cwd=REPO,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), timeout=30)
    assert proc.returncode == 0, err.decode()
    return out.decode()


async def test_override_from_another_process_is_honoured_within_2s_and_expires_on_time(
    aiohttp_client: Callable[..., Any], tmp_path: Path
) -> None:
    cfg = make_cfg(tmp_path)
    client = await aiohttp_client(create_app(cfg))
    ip = "198.51.100.7"
    assert (await pageview(client, ip, "/")).status == 202

    out = await run_cli(
        cfg.db_path,
        "throttle",
        "set",
        "--ip",
        ip,
        "--level",
        "blocked",
        "--for",
        "3s",
        "--reason",
        "scenario",
    )
    written = time.time()
    assert "blocked" in out
    honoured_after = None
    while time.time() - written < 3.0:
        if (await pageview(client, ip, "/x")).status == 204:
            honoured_after = time.time() - written
            break
        await asyncio.sleep(0.05)
    assert honoured_after is not None and honoured_after <= 2.0
    assert (await pageview(client, "198.51.100.8", "/")).status == 202  # only that IP

    listed = await run_cli(cfg.db_path, "throttle", "list")
    assert ip in listed and "scenario" in listed

    [row] = query(cfg, "SELECT expires FROM throttle_overrides WHERE target = ?", (ip,))
    expires = row["expires"]
    await asyncio.sleep(max(0.0, expires - time.time() - 0.3))
    assert (await pageview(client, ip, "/y")).status == 204  # still in force just before expiry
    await asyncio.sleep(max(0.0, expires - time.time() + 0.2))
    assert (await pageview(client, ip, "/z")).status == 202  # lifted on time, without waiting for a reload

    await sync_throttle(client.server.app)
    await flushed(client)
    drops = query(cfg, "SELECT level, reason, sum(count) AS n FROM throttle_drops GROUP BY level, reason")
    assert [(r["level"], r["reason"]) for r in drops] == [("blocked", "override")]
    assert drops[0]["n"] >= 2
