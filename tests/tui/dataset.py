"""A small fixed dataset for TUI tests and snapshots: two sites, humans and bots, server events, at a frozen now."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from db.funnels import Funnel, Step
from db.records import EventRecord, SessionRecord
from db.sqlite.batch import INSERT_EVENT, UPSERT_FINGERPRINT, UPSERT_SESSION
from db.sqlite.connection import connect
from db.sqlite.queries.funnels import save_funnel
from db.sqlite.rollups import rebuild

FROZEN_NOW = 1_768_478_400.0  # 2026-01-15 12:00:00 UTC
"""The clock every dataset test runs at, so ranges and ages never depend on when the tests run."""

BOT_SIGNALS = json.dumps([
    {"name": "high_request_count", "weight": 30, "value": "84"},
    {"name": "regular_timing", "weight": 15, "value": "0.04"},
    {"name": "sequential_navigation", "weight": 20, "value": "true"},
    {"name": "outdated_browser", "weight": 10, "value": "Chrome 79"},
    {"name": "high_pages_per_minute", "weight": 15, "value": "9.5"},
])


@dataclass(slots=True)
class Dataset:
    """What was written, for assertions."""

    path: Path
    now: float
    sessions: list[SessionRecord] = field(default_factory=list)
    events: list[EventRecord] = field(default_factory=list)

    def live_sessions(self, window: float = 1800) -> list[SessionRecord]:
        return [s for s in self.sessions if s.last_seen > self.now - window]


HUMANS = [
    # (site, country, browser, os, device, source, pages, minutes ago, days ago)
    ("example.com", "DE", "Firefox", "Linux", "desktop", "Google", ["/", "/pricing", "/signup"], 2, 0),
    ("example.com", "US", "Chrome", "Windows", "desktop", "", ["/", "/blog/hello"], 5, 0),
    ("example.com", "US", "Safari", "iOS", "mobile", "Twitter", ["/blog/hello"], 12, 0),
    ("example.com", "FR", "Chrome", "Android", "mobile", "Google", ["/", "/pricing"], 25, 0),
    ("shop.example", "DE", "Firefox", "Windows", "desktop", "", ["/", "/cart", "/checkout"], 8, 0),
    ("shop.example", "GB", "Edge", "Windows", "desktop", "Newsletter", ["/product/42"], 90, 0),
    ("example.com", "DE", "Firefox", "Linux", "desktop", "Google", ["/", "/docs"], 600, 0),
    ("example.com", "US", "Chrome", "macOS", "desktop", "", ["/", "/pricing", "/signup"], 0, 3),
    ("example.com", "JP", "Chrome", "Windows", "desktop", "Google", ["/docs"], 0, 10),
    ("shop.example", "US", "Safari", "macOS", "desktop", "", ["/", "/product/42", "/cart"], 0, 45),
]


def make_dataset(path: Path, now: float = FROZEN_NOW) -> Dataset:
    """Write the dataset to a new database at `path` and close it (the WAL is checkpointed away)."""
    data = Dataset(path, now)
    conn = connect(path)
    sid = 1000
    for i, (site, country, browser, os_, device, source, pages, minutes, days) in enumerate(HUMANS):
        sid += 1
        start = now - days * 86400 - minutes * 60 - 60 * len(pages)
        fp = f"fp-human-{i}"
        evs = []
        for j, page in enumerate(pages):
            evs.append(EventRecord(
                ts=start + 60 * j, site=site, type="pageview", session_id=sid, visitor_id=f"v{i}", fingerprint=fp,
                path=page, ref_source=source if j == 0 else "", ref_medium="search" if source == "Google" else "",
                browser=browser, os=os_, device=device, country=country,
            ))
        if "/signup" in pages:
            evs.append(EventRecord(ts=evs[-1].ts + 5, site=site, type="event", session_id=sid, fingerprint=fp,
                                   name="signup", props=json.dumps({"plan": "pro" if i == 0 else "free"}),
                                   country=country, browser=browser, os=os_, device=device))
        data.events.extend(evs)
        data.sessions.append(SessionRecord(
            id=sid, site=site, visitor_id=f"v{i}", fingerprint=fp, started=start, last_seen=evs[-1].ts,
            pageviews=len(pages), events=len(evs), entry_path=pages[0], exit_path=pages[-1], browser=browser,
            os=os_, device=device, country=country, ref_source=source, ua=f"Mozilla/5.0 ({os_}) {browser}",
            bot_score=5 * i % 30, throttle_level="normal",
        ))
    # A scraper: many pages, regular timing, high score, blocked level.
    sid += 1
    start = now - 20 * 60
    scraper_pages = [f"/product/{n}" for n in range(1, 41)]
    for j, page in enumerate(scraper_pages):
        data.events.append(EventRecord(
            ts=start + 15 * j, site="shop.example", type="pageview", session_id=sid, fingerprint="fp-scraper",
            path=page, browser="Chrome", browser_version="79", os="Linux", device="desktop", country="CN",
            is_bot=1, bot_name="behavioural",
        ))
    data.sessions.append(SessionRecord(
        id=sid, site="shop.example", visitor_id="vbot", fingerprint="fp-scraper", started=start,
        last_seen=start + 15 * (len(scraper_pages) - 1), pageviews=len(scraper_pages), events=len(scraper_pages),
        entry_path="/product/1", exit_path=scraper_pages[-1], browser="Chrome", browser_version="79", os="Linux",
        device="desktop", country="CN", ua="Mozilla/5.0 (X11; Linux x86_64) Chrome/79.0", bot_score=90,
        bot_signals=BOT_SIGNALS, is_bot=1, bot_name="behavioural", bot_reasons="datacenter", throttle_level="blocked",
    ))
    # A known crawler.
    sid += 1
    for j, page in enumerate(["/", "/robots.txt", "/sitemap.xml"]):
        data.events.append(EventRecord(
            ts=now - 40 * 60 + j, site="example.com", type="pageview", session_id=sid, fingerprint="fp-googlebot",
            path=page, browser="Googlebot", device="bot", country="US", is_bot=1, bot_name="Googlebot",
        ))
    data.sessions.append(SessionRecord(
        id=sid, site="example.com", visitor_id="vg", fingerprint="fp-googlebot", started=now - 40 * 60,
        last_seen=now - 40 * 60 + 2, pageviews=3, events=3, entry_path="/", exit_path="/sitemap.xml",
        browser="Googlebot", device="bot", country="US", ua="Googlebot/2.1", bot_score=100, is_bot=1,
        bot_name="Googlebot", bot_reasons="known_crawler",
    ))
    # Server-side events: API requests, failed logins, external calls.
    for j in range(20):
        data.events.append(EventRecord(
            ts=now - 3600 + j * 60, site="example.com", type="api_request", method="GET" if j % 4 else "POST",
            path="/api/items" if j % 2 else "/api/login", status=500 if j % 10 == 0 else 200,
            latency_ms=20.0 + j * 3,
        ))
    for j in range(6):
        data.events.append(EventRecord(
            ts=now - 1800 + j * 30, site="example.com", type="auth", name="login", success=0,
            country="RU" if j < 4 else "BR", user_id=f"user{j}", ip="203.0.113.7" if j < 4 else "198.51.100.9",
        ))
    for j, (svc, cost) in enumerate([("openai", 0.12), ("openai", 0.08), ("stripe", 0.30), ("maps", 0.005)]):
        data.events.append(EventRecord(
            ts=now - 7200 + j * 60, site="example.com", type="external_call", name=svc, cost_usd=cost,
            latency_ms=120.0 + j,
        ))
    data.events.sort(key=lambda e: e.ts)
    conn.execute("BEGIN")
    conn.executemany(INSERT_EVENT, [e.as_row() for e in data.events])
    conn.executemany(UPSERT_SESSION, [s.as_row() for s in data.sessions])
    fps: dict[str, SessionRecord] = {s.fingerprint: s for s in data.sessions}
    conn.executemany(UPSERT_FINGERPRINT, [
        (fp, s.started, s.last_seen, 1, s.pageviews, s.bot_score, "[]", s.throttle_level, s.ua, s.bot_name)
        for fp, s in fps.items()
    ])
    bucket = int((now - 600) // 60 * 60)
    conn.executemany("INSERT INTO throttle_drops (bucket, level, reason, count) VALUES (?, ?, ?, ?)",
                     [(bucket, "blocked", "blocked", 37), (bucket, "warning", "rate", 5)])
    conn.execute(
        "INSERT INTO anomalies (kind, rule, metric, site, level, observed, expected, started, ended, details) "
        "VALUES ('threshold', 'error spike', 'error_rate', 'example.com', 'critical', 10.0, 5.0, ?, NULL, ''), "
        "('trend', '', 'pageviews', 'shop.example', 'warning', 120, 30, ?, ?, '')",
        (now - 900, now - 86400 * 2, now - 86400 * 2 + 3600),
    )
    # A stored funnel, so the Funnels view has a row and step bars to show.
    save_funnel(conn, Funnel("pricing", (Step("path", "/"), Step("path", "/pricing"), Step("path", "/signup"))),
                now=now)
    conn.execute("COMMIT")
    rebuild(conn)  # the rollup tables the views read for long spans
    conn.close()
    return data
