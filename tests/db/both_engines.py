"""One generated dataset written to both engines (a SQLite file and a chDB database), shared by a test module."""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from db.batch import Batch
from db.records import EventRecord, FingerprintRecord
from db.rules import DAY
from db.sqlite.batch import write_batch
from db.sqlite.rollups import rollup_hooks
from tests.engines import chdb_url
from tests.factories import SITE, T0, Visit, new_db, server_event, visit

OTHER = "other.example"
PATHS = ["/", "/pricing", "/pricing/team", "/prices", "/signup", "/blog/a", "/blog/b", "/docs/x", "/é/ü"]
DAYS = 40
"""The data covers T0 .. T0 + DAYS days: long spans (30d, 90d) have uneven edges inside it."""
NOW = T0 + 35.6 * DAY
"""A `now` inside the data, not on a day or hour boundary."""


@dataclass
class Dataset:
    visits: list[Visit]
    server: list[EventRecord]
    batch: Batch


def generate(seed: int = 14, n_visits: int = 700) -> Dataset:
    """Visits on two sites over DAYS days (humans and bots, dimensions, custom events with props, engagement,
    IPs and User-Agents), API requests with latencies and errors, fingerprints and throttle drops."""
    rng = random.Random(seed)
    visits = []
    for i in range(n_visits):
        # Half the visits crowd into the last week, so short spans near NOW have data too.
        start = T0 + (rng.uniform(0, DAYS * DAY) if i % 2 else rng.uniform(NOW - 7 * DAY, NOW + 600))
        is_bot = int(rng.random() < 0.2)
        visitor = f"v{rng.randint(0, 250)}"
        pages = [(rng.uniform(0, 900), rng.choice(PATHS)) for _ in range(rng.randint(1, 5))]
        custom = [
            (rng.uniform(0, 900), rng.choice(["signup", "chat"]), rng.choice([{}, {"plan": "pro"}, {"plan": "x"}]))
            for _ in range(rng.randint(0, 2))
        ]
        engagement = [(rng.uniform(0, 900), pages[0][1], rng.randint(0, 100), rng.randint(0, 60_000))]
        visits.append(
            visit(
                start,
                pages,
                custom=custom,
                engagement=engagement,
                visitor=visitor if rng.random() < 0.95 else "",
                site=rng.choice([SITE, SITE, OTHER]),
                is_bot=is_bot,
                bot_name="crawler" if is_bot else "",
                country=rng.choice(["DE", "US", "FR"]),
                browser=rng.choice(["Firefox", "Chrome"]),
                ref_source=rng.choice(["", "Google", "news"]),
                ua=f"UA/{rng.randint(1, 6)}",
                ip=f"10.0.0.{rng.randint(1, 60)}",
                new_visitor=int(rng.random() < 0.6),
            )
        )
    server = [
        server_event(
            T0 + rng.uniform(0, DAYS * DAY) if i % 2 else rng.uniform(NOW - 2 * DAY, NOW),
            "api_request",
            site=rng.choice([SITE, OTHER]),
            method=rng.choice(["GET", "POST"]),
            path=rng.choice(["/api/a", "/api/b"]),
            status=rng.choice([200, 200, 200, 404, 500, 503]),
            latency_ms=round(rng.lognormvariate(3, 1), 3),
        )
        for i in range(600)
    ]
    fingerprints = {
        fp: FingerprintRecord(fp, last, 1, 3, 10, "normal", "UA", "")
        for fp, last in ((v.session.fingerprint, v.session.last_seen) for v in visits)
    }
    drops: Counter[tuple[int, str, str]] = Counter()
    for _ in range(300):
        ts = rng.uniform(NOW - 3 * DAY, NOW) if rng.random() < 0.7 else T0 + rng.uniform(0, DAYS * DAY)
        drops[(int(ts // 60 * 60), rng.choice(["warning", "blocked"]), "rate")] += rng.randint(1, 5)
    batch = Batch(
        events=[e.as_row() for v in visits for e in v.events] + [e.as_row() for e in server],
        sessions={v.session.id: v.session.as_row() for v in visits},
        fingerprints=fingerprints,
        drops=drops,
    )
    return Dataset(visits, server, batch)


def open_both(tmp_path_factory: pytest.TempPathFactory) -> tuple[object, object]:
    """A fresh SQLite file and a fresh migrated chDB database."""
    pytest.importorskip("chdb")
    from db.clickhouse.client import connect_client
    from db.clickhouse.migrate import migrate
    from db.url import parse_store_url

    conn = new_db(tmp_path_factory.mktemp("both") / "s.db")
    ch = connect_client(parse_store_url(chdb_url(tmp_path_factory)))
    migrate(ch)
    return conn, ch


def write_both(conn: object, ch: object, batch: Batch) -> None:
    """Write one batch to both engines exactly as a writer flush would."""
    from db.clickhouse.writer import insert, prepare

    write_batch(conn, batch, rollup_hooks())  # type: ignore[arg-type]
    insert(ch, prepare(batch))  # type: ignore[arg-type]


def loaded(tmp_path_factory: pytest.TempPathFactory, data: Dataset) -> Iterator[tuple[object, object]]:
    """Both engines holding `data`, dropped afterwards (for module-scoped fixtures)."""
    conn, ch = open_both(tmp_path_factory)
    write_both(conn, ch, data.batch)
    yield conn, ch
    conn.close()  # type: ignore[attr-defined]
    ch.command(f"DROP DATABASE IF EXISTS {ch.url.database}")  # type: ignore[attr-defined]
