"""One generated dataset written to both engines (a SQLite file with its rollups, a chDB database), for the tests
that compare SQLite and ClickHouse answers.

About a hundred days of two sites: humans and bots, day-scoped visitor ids with their first session of the day,
sessions crossing hour and day boundaries and revisiting pages, custom events with props, engagement reports,
access-log hits without a session, API requests, and sessions stored twice (an early snapshot, then the final
one), so a query reading an old session version would count wrongly."""

from __future__ import annotations

import random
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass, replace

import pytest

from db.records import EventRecord, SessionRecord
from db.rules import DAY, HOUR
from db.sqlite.rollups import catch_up
from tests.engines import ch_write
from tests.factories import T0, new_db, server_event, visit, write

NOW = T0 + 95 * DAY + 13 * HOUR + 17 * 60 + 23.5
"""Inside the data, off every hour and day boundary."""
SITES = ("a.example", "b.example")
PAGES = ("/", "/pricing", "/docs", "/blog/x", "/signup")
PAGE_TYPES = ("pageview", "request")
OS_VERSIONS = (("Windows", "Windows 10"), ("Windows", "Windows 11"), ("iOS", "iOS 17.1"), ("Linux", ""))
"""(os, os_version) pairs; drawn from a generator of their own, so the rest of the data stays as it was."""


@dataclass
class Traffic:
    """What was written: every event (in id order on SQLite) and the final session snapshots."""

    events: list[EventRecord]
    sessions: list[SessionRecord]


def generate(seed: int = 14, scale: int = 1) -> tuple[Traffic, list[SessionRecord]]:
    """The dataset and the early session snapshots written before it (`scale` times the visits per day)."""
    rng = random.Random(seed)
    systems = random.Random(seed + 1)
    starts: list[float] = []
    for day in range(-5, 96):
        base = T0 + day * DAY
        starts += [base + rng.uniform(0, DAY) for _ in range(rng.randint(2, 5) * scale)]
    starts += [NOW - rng.uniform(0, 2 * DAY) for _ in range(50)]
    starts += [NOW - rng.uniform(120, 1800) for _ in range(8)]
    # Sessions straddling the starts of the 60h, 7d, 30d and 90d spans: a page's first visit lies before the span.
    straddling = {NOW - back - 600 for back in (60 * HOUR, 7 * DAY, 30 * DAY, 90 * DAY)}
    starts += straddling
    starts = sorted(s for s in starts if s < NOW - 60)
    seen: set[str] = set()
    events: list[EventRecord] = []
    sessions: list[SessionRecord] = []
    early: list[SessionRecord] = []
    for i, start in enumerate(starts):
        site = SITES[0] if start in straddling else rng.choice(SITES)
        day = int(start) // DAY
        visitor = f"{site}-{day}-{rng.randint(0, 5)}"
        is_bot = int(rng.random() < 0.15 and start not in straddling)
        n = rng.randint(1, 4)
        offsets = sorted(rng.uniform(0, 2 * HOUR if i % 3 == 0 else 300) for _ in range(n))
        pages = [(o, rng.choice(PAGES)) for o in offsets]
        if start in straddling:  # back on its first page after the span started
            pages = [(0.0, "/pricing"), (1200.0, "/pricing"), (1300.0, "/docs")]
        custom: list[tuple[float, str, dict[str, str]]] = []
        if rng.random() < 0.4:
            custom.append((rng.uniform(0, 600), "signup", {"plan": rng.choice(["free", "pro"])}))
        if rng.random() < 0.3:
            question = rng.choice(["price?", "api?", 'say "hi" – ü'])
            custom.append((rng.uniform(0, 600), "chat_question", {"question": question,
                                                                   "answered": rng.choice(["true", "false"])}))
        engagement = [(o + 5, p, rng.randint(0, 100), rng.randint(0, 60_000)) for o, p in pages if rng.random() < 0.5]
        os, os_version = systems.choice(OS_VERSIONS)
        v = visit(
            start,
            pages,
            site=site,
            visitor=visitor,
            new_visitor=int(visitor not in seen),
            is_bot=is_bot,
            bot_name="Googlebot" if is_bot else "",
            custom=custom,
            engagement=engagement,
            type="request" if i % 10 == 7 else "pageview",
            country=rng.choice(["DE", "US", "FR", ""]),
            region=rng.choice(["BY", "CA", ""]),
            city=rng.choice(["Munich", "Austin", ""]),
            browser=rng.choice(["Firefox", "Chrome", "Safari"]),
            device=rng.choice(["desktop", "mobile"]),
            screen=rng.choice(["1920x1080", "390x844"]),
            ref_source=rng.choice(["Google", "HN", ""]),
            ref_medium=rng.choice(["search", "social", "direct"]),
            utm_source=rng.choice(["", "newsletter"]),
            os=os,
            os_version=os_version,
        )
        seen.add(visitor)
        events += v.events
        sessions.append(v.session)
        if i % 4 == 0:
            early.append(
                replace(v.session, last_seen=v.session.started, pageviews=min(v.session.pageviews, 1), events=0,
                        requests=min(v.session.requests, 1), exit_path=v.session.entry_path)
            )
        if i % 5 == 0:  # an access-log hit without a session, and an API request
            site_hit = rng.choice(SITES)
            events.append(server_event(start + 30, "request", site=site_hit, path=rng.choice(PAGES)))
            events.append(server_event(start + 40, "api_request", site=site_hit, path="/api/x", method="GET",
                                       status=200, latency_ms=rng.uniform(1, 50)))
    events.sort(key=lambda e: e.ts)
    return Traffic(events, sessions), early


def write_both(conn: sqlite3.Connection, ch: object, traffic: Traffic, early: list[SessionRecord]) -> None:
    """Two flushes on each engine: the early snapshots, then every event and the final snapshots."""
    write(conn, [], early)
    write(conn, traffic.events, traffic.sessions)
    catch_up(conn)  # a flush rolls up at most MAX_EVENTS_PER_FLUSH events: the rest of a big dataset waits for this
    ch_write(ch, [], early)
    ch_write(ch, traffic.events, traffic.sessions)


def both_engines(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[sqlite3.Connection, object, Traffic]]:
    """The dataset in a SQLite file and a chDB database (for a module-scoped fixture: writing it takes seconds)."""
    pytest.importorskip("chdb")
    from db.clickhouse.client import connect_client
    from db.clickhouse.migrate import migrate
    from db.url import parse_store_url
    from tests.engines import chdb_url

    url = parse_store_url(chdb_url(tmp_path_factory))
    ch = connect_client(url)
    migrate(ch)
    conn = new_db(tmp_path_factory.mktemp("sqlite") / "s.db")
    traffic, early = generate()
    write_both(conn, ch, traffic, early)
    yield conn, ch, traffic
    conn.close()
    ch.command(f"DROP DATABASE IF EXISTS {url.database}")
