"""One generated dataset written to both engines (a SQLite file and a chDB database), for the Live, Bots,
Server, Requests and throttle comparisons: several sites and days, humans and bots, dimensions (OS versions too),
custom events with props, engagement, server-side events with user ids, imported access-log hits with status
codes and sizes, fingerprint news, level changes and throttle refusals, sessions updated after they were first
written. `Data` keeps what was generated, so tests can count some answers by hand."""

from __future__ import annotations

import json
import random
import sqlite3
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pytest

from db.batch import Batch
from db.records import EventRecord, FingerprintRecord, SessionRecord
from db.rules import DAY, HOUR
from db.sqlite.batch import write_batch
from db.sqlite.rollups import rollup_hooks
from tests.engines import chdb_url
from tests.factories import T0, new_db, server_event, visit

SITES = ("example.com", "shop.example")
NOW = T0 + 40 * DAY + 13 * HOUR + 1234.5
"""Inside the data (which runs from 50 days before T0 to NOW and a little after), on no hour or day boundary."""
COUNTRIES = ("DE", "FR", "US", "GB")
BROWSERS = ("Firefox", "Chrome", "Safari")
CRAWLERS = ("Googlebot", "Bingbot", "")
"""Bot names; "" is a bot caught by its behaviour."""
ENDPOINTS = (("GET", "/v1/items"), ("POST", "/v1/items"), ("GET", "/v1/users"), ("DELETE", "/v1/items"))
SERVICES = ("openai", "stripe", "maps")
USERS = ("", "alice", "bob", "carol", "dave", "émile")
"""User ids of server-side events ("" for none); "mallory" only ever fails to log in."""
OS_VERSIONS = {"Linux": ("", "Linux"), "Windows": ("Windows 10", "Windows 11")}
LOG_PATHS = ("/", "/pricing", "/docs", "/missing", "/old-page", "/img/logo.png", "/feed.xml")
LOG_STATUSES = (200, 200, 200, 304, 404, 404, 500, 0)
"""Access-log status codes (0: not logged)."""
FLUSH_S = 4 * DAY
"""The data of this long goes into one batch (few batches: each costs chDB a few inserts)."""


@dataclass
class Data:
    """What was written to both engines."""

    sessions: dict[int, SessionRecord] = field(default_factory=dict)
    events: list[EventRecord] = field(default_factory=list)
    fingerprints: list[FingerprintRecord] = field(default_factory=list)
    levels: dict[str, str] = field(default_factory=dict)
    drops: Counter[tuple[int, str, str]] = field(default_factory=Counter)


def _visits(rng: random.Random, start: float, end: float, n: int, extra: random.Random) -> list[Any]:
    """`n` visits starting between `start` and `end`, sorted by start (attributes added to the dataset later are
    drawn from `extra`, so the rest stays as it was)."""
    out = []
    for _ in range(n):
        begin = rng.uniform(start, end)
        bot = rng.random() < 0.3
        pages = [(0.0, rng.choice(("/", "/pricing", "/docs")))]
        for _ in range(rng.randrange(0, 5)):
            pages.append((pages[-1][0] + rng.uniform(5, 400), rng.choice(("/", "/pricing", "/docs", "/blog/a"))))
        visitor = f"v{rng.randrange(60)}"
        crawler = rng.choice(CRAWLERS) if bot else ""
        custom = []
        engagement = []
        if not bot and rng.random() < 0.5:
            custom.append((pages[-1][0] + 1.5, rng.choice(("signup", "download")), {"plan": rng.choice("ab")}))
        if not bot and rng.random() < 0.6:
            engagement.append((pages[-1][0] + 2.5, pages[-1][1], rng.randrange(0, 101), rng.randrange(0, 90_000)))
        signals = [{"name": "fast_clicks", "weight": rng.randrange(5, 40), "value": "3"}] if bot else []
        out.append(
            visit(
                begin,
                pages,
                site=rng.choice(SITES),
                visitor=visitor,
                new_visitor=int(rng.random() < 0.7),
                is_bot=int(bot),
                bot_name=crawler,
                custom=custom,
                engagement=engagement,
                fingerprint=f"fp-{crawler or 'x'}{rng.randrange(25)}" if bot else f"fp-{visitor}",
                type="request" if crawler else "pageview",
                country=rng.choice(COUNTRIES),
                browser=rng.choice(BROWSERS),
                os=(os := rng.choice(("Linux", "Windows"))),  # drawn where it always was: the data stays the same
                os_version=extra.choice(OS_VERSIONS[os]),
                browser_version=str(extra.randrange(120, 123)),
                device=rng.choice(("desktop", "mobile")),
                ref_source=rng.choice(("", "Google", "Mastodon")),
                utm_source=rng.choice(("", "newsletter")),
                ua=f"UA/{rng.randrange(9)}",
                bot_score=rng.randrange(50, 100) if bot else rng.randrange(0, 20),
                bot_signals=json.dumps(signals),
                bot_reasons="fast clicks, no js" if bot else "",
                throttle_level=rng.choice(("normal", "warning")) if bot else "normal",
                ip=f"203.0.113.{rng.randrange(1, 250)}",
            )
        )
    out.sort(key=lambda v: v.session.started)
    return out


def _server(rng: random.Random, start: float, end: float, n: int, extra: random.Random) -> list[EventRecord]:
    out = []
    for _ in range(n):
        ts = rng.uniform(start, end)
        kind = rng.random()
        site = rng.choice(SITES)
        country = rng.choice(COUNTRIES)
        user = extra.choice(USERS)
        if kind < 0.7:
            method, path = rng.choice(ENDPOINTS)
            out.append(
                server_event(
                    ts, "api_request", site=site, method=method, path=path, country=country,
                    latency_ms=round(rng.lognormvariate(4, 1), 3), status=rng.choice((200, 200, 200, 404, 500, 503)),
                    user_id=user,
                )
            )
        elif kind < 0.85:
            success = int(rng.random() < 0.4)
            out.append(
                server_event(
                    ts, "auth", site=site, name="login", success=success, country=country,
                    ip=rng.choice(("", "198.51.100.7", "198.51.100.8")), fingerprint=rng.choice(("", "fp-a", "fp-b")),
                    user_id=user if success else extra.choice((user, "mallory")),
                )
            )
        else:
            out.append(
                server_event(
                    ts, "external_call", site=site, name=rng.choice(SERVICES), country=country,
                    latency_ms=round(rng.uniform(20, 2000), 3), cost_usd=round(rng.uniform(0, 0.02), 6),
                    user_id=user,
                )
            )
    return out


def _access_log(rng: random.Random, start: float, end: float, n: int) -> list[EventRecord]:
    """`n` imported access-log hits (requests without a session) with status codes and response sizes."""
    return [
        server_event(
            rng.uniform(start, end), "request", site=rng.choice(SITES), method="GET", path=rng.choice(LOG_PATHS),
            status=rng.choice(LOG_STATUSES), bytes=rng.randrange(0, 60_000), is_bot=int(rng.random() < 0.2),
            country=rng.choice(COUNTRIES), ip=f"192.0.2.{rng.randrange(1, 250)}",
        )
        for _ in range(n)
    ]


def _fingerprint_news(rng: random.Random, visits: list[Any], seen: float) -> dict[str, FingerprintRecord]:
    """One flush's news of the fingerprints of these visits, as the pipeline folds them."""
    out: dict[str, FingerprintRecord] = {}
    for v in visits:
        s = v.session
        old = out.get(s.fingerprint)
        out[s.fingerprint] = FingerprintRecord(
            s.fingerprint,
            seen,
            (old.new_sessions if old else 0) + 1,
            (old.requests if old else 0) + s.pageviews + s.requests + s.events,
            max(s.bot_score, old.score if old else 0),
            s.throttle_level,
            s.ua if rng.random() < 0.9 else "",
            s.bot_name,
            json.dumps(["burst"]) if s.is_bot and rng.random() < 0.5 else "[]",
        )
    return out


def generate(seed: int = 14) -> list[Batch]:
    """The dataset as the writer flushes it: one batch per FLUSH_S holding the events of that time in time order
    (so both engines hand out ids in the same order) and the sessions that started in it, then a batch of later
    session snapshots and level changes."""
    rng = random.Random(seed)
    extra = random.Random(seed + 1)
    visits: list[Any] = []
    server: list[EventRecord] = []
    t = T0 - 50 * DAY
    while t < NOW:
        stop = min(t + DAY / 2, NOW)
        dense = stop > NOW - 2 * DAY
        visits += _visits(rng, t, stop, 24 if dense else 4, extra)
        server += _server(rng, t, stop, 40 if dense else 10, extra)
        server += _access_log(extra, t, stop, 30 if dense else 6)
        t = stop
    visits += _visits(rng, NOW - 40 * 60, NOW - 10, 30, extra)  # the live window gets a crowd of its own
    events = sorted([e for v in visits for e in v.events] + server, key=lambda e: e.ts)
    batches: list[Batch] = []
    first = int(T0 - 50 * DAY)
    for chunk in range(first, int(events[-1].ts) + 1, FLUSH_S):
        part = [e for e in events if chunk <= e.ts < chunk + FLUSH_S]
        started = [v for v in visits if chunk <= v.session.started < chunk + FLUSH_S]
        batch = Batch(
            events=[e.as_row() for e in part],
            sessions={v.session.id: v.session.as_row() for v in started},
            fingerprints=_fingerprint_news(rng, started, chunk + FLUSH_S - 1),
        )
        for _ in range(rng.randrange(2, 9)):
            minute = int(rng.uniform(chunk, chunk + FLUSH_S)) // 60 * 60
            key = (minute, rng.choice(("severe", "blocked")), rng.choice(("rate", "override")))
            batch.drops[key] += rng.randrange(1, 9)
        batches.append(batch)
    # Later snapshots of some sessions: longer, with a new exit page (the newest version must win everywhere).
    later = Batch()
    for v in visits[-300::3]:
        s = v.session
        if s.last_seen + 60 < NOW - 3600:
            later.sessions[s.id] = replace(
                s, last_seen=s.last_seen + 60, pageviews=s.pageviews + 1, exit_path="/thanks", bot_score=s.bot_score + 1
            ).as_row()
    bots = sorted({v.session.fingerprint for v in visits if v.session.is_bot})
    later.levels = {bots[0]: "blocked"}  # each level change costs ClickHouse a mutation (~1 s in chDB)
    later.levels["fp-never-seen"] = "severe"  # a level change alone makes no reputation
    batches.append(later)
    return batches


def contents(batches: list[Batch]) -> Data:
    """What the batches hold, folded as the store folds it (newest session snapshot wins)."""
    data = Data()
    for b in batches:
        data.events += [EventRecord(*row) for row in b.events]
        data.sessions.update({sid: SessionRecord(*row) for sid, row in b.sessions.items()})
        data.fingerprints += b.fingerprints.values()
        data.levels.update(b.levels)
        data.drops.update(b.drops)
    return data


def write_sqlite(conn: sqlite3.Connection, batches: list[Batch]) -> None:
    for batch in batches:
        write_batch(conn, batch, rollup_hooks())


def write_clickhouse(ch: Any, batches: list[Batch]) -> None:
    from db.clickhouse.writer import insert, prepare

    for batch in batches:
        insert(ch, prepare(batch))


@dataclass
class Pair:
    """The same data in both engines."""

    sqlite: sqlite3.Connection
    ch: Any
    data: Data


def engine_pair(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pair]:
    """Generate the dataset once and write it to a fresh SQLite file and a fresh chDB database."""
    pytest.importorskip("chdb")
    from db.clickhouse.client import connect_client
    from db.clickhouse.migrate import migrate
    from db.url import parse_store_url

    batches = generate()
    conn = new_db(Path(tmp_path_factory.mktemp("pair")) / "s.db")
    write_sqlite(conn, batches)
    url = parse_store_url(chdb_url(tmp_path_factory))
    ch = connect_client(url)
    migrate(ch)
    write_clickhouse(ch, batches)
    try:
        yield Pair(conn, ch, contents(batches))
    finally:
        conn.close()
        ch.command(f"DROP DATABASE IF EXISTS {url.database}")
