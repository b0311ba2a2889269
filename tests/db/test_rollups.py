"""Rollups maintained flush by flush give exactly the numbers computed from raw events."""

from __future__ import annotations

import math
import random

import pytest

from db.queries.common import Filters, Span, split_days
from db.rules import DAY, HOUR, SESSION_DIMS, latency_bucket, latency_of_bucket
from db.sqlite import engaged
from db.sqlite.migrate import latest_version, migrate
from db.sqlite.queries.bots import top_bots
from db.sqlite.queries.events import custom_events, event_property_keys, property_breakdown
from db.sqlite.queries.overview import engagement, hourly, kpis, top
from db.sqlite.queries.requests import bandwidth, not_found, status_codes
from db.sqlite.queries.server import endpoints, external_costs, external_histograms, failed_logins, latency_histograms
from db.sqlite.rollups import ROLLUP_TABLES, catch_up, rebuild, roll_up_engaged
from db.writer import Writer
from tests.engines import sqlite_store
from tests.factories import SITE, T0, new_db, server_event, visit, write

PATHS = ["/", "/pricing", "/blog", "/blog/a", "/signup", "/docs"]
COUNTRIES = ["DE", "US", "FR", ""]
SOURCES = [("Google", "search"), ("", "direct"), ("news.ycombinator.com", "referral")]
PROPS = [{}, {"plan": "pro"}, {"plan": "free", "q": "price?"}, {"q": "hours?", "answered": "false"}]
ENDPOINTS = [("GET", "/v1/items"), ("POST", "/v1/orders"), ("GET", "/v1/search")]
SPANS = [
    Span(T0 + 1.3 * DAY + 123, T0 + 8.7 * DAY),
    Span(T0, T0 + 10 * DAY),
    Span(T0 + 2 * DAY + 7 * HOUR, T0 + 5 * DAY + 2 * HOUR + 59),
    Span(0, T0 + 20 * DAY),
]


def dataset(seed: int, n: int = 250) -> list[tuple[list, list]]:
    """Flushes of (events, sessions): each session arrives in two parts, growing (sometimes turning bot)."""
    rng = random.Random(seed)
    first, second = [], []
    for i in range(n):
        start = T0 + rng.uniform(0, 10 * DAY)
        count = rng.randint(1, 6)
        pages = sorted((rng.uniform(0, 1500), rng.choice(PATHS)) for _ in range(count))
        pages[0] = (0.0, pages[0][1])
        custom = [
            (rng.uniform(0, 1500), rng.choice(["signup", "chat"]), rng.choice(PROPS)) for _ in range(rng.randint(0, 2))
        ]
        eng = [
            (rng.uniform(0, 1500), rng.choice(PATHS), rng.choice([25, 50, 100]), rng.randint(0, 60_000))
            for _ in range(rng.randint(0, 2))
        ]
        source, medium = rng.choice(SOURCES)
        attrs = dict(
            country=rng.choice(COUNTRIES),
            browser=rng.choice(["Chrome", "Firefox"]),
            ref_source=source,
            ref_medium=medium,
            utm_campaign=rng.choice(["", "launch"]),
            device=rng.choice(["desktop", "mobile"]),
        )
        if rng.random() < 0.25:  # an access log's hits (status and size on each)
            attrs.update(type="request", status=rng.choice([200, 200, 301, 404, 0]), bytes=rng.randint(0, 90_000))
        visitor = f"v{rng.randint(0, 120)}"
        sid = 10_000 + i
        turns_bot = rng.random() < 0.15
        cut = rng.uniform(0, 1600)
        full = visit(
            start,
            pages,
            custom=custom,
            engagement=eng,
            visitor=visitor,
            session_id=sid,
            new_visitor=rng.choice([0, 1]),
            is_bot=1 if turns_bot else 0,
            bot_name=rng.choice(["", "Googlebot", "Bingbot"]) if turns_bot else "",
            **attrs,
        )
        early_pages = [p for p in pages if p[0] <= cut] or pages[:1]
        part = visit(
            start,
            early_pages,
            custom=[c for c in custom if c[0] <= cut],
            engagement=[e for e in eng if e[0] <= cut],
            visitor=visitor,
            session_id=sid,
            new_visitor=full.session.new_visitor,
            **attrs,
        )
        first.append(part)
        part_ts = {(e.ts, e.type, e.path, e.name) for e in part.events}
        second.append((full.session, [e for e in full.events if (e.ts, e.type, e.path, e.name) not in part_ts]))
    api = [
        server_event(
            T0 + rng.uniform(0, 10 * DAY),
            "api_request",
            site=rng.choice([SITE, "other.example"]),
            method=method,
            path=path,
            latency_ms=rng.choice([0.0, rng.lognormvariate(3, 1)]),
            status=rng.choice([200, 200, 201, 404, 500, 503]),
        )
        for method, path in (rng.choice(ENDPOINTS) for _ in range(n))
    ]
    api += [
        server_event(
            T0 + rng.uniform(0, 10 * DAY),
            "auth",
            site=rng.choice([SITE, "other.example"]),
            name="login",
            success=rng.choice([0, 0, 1]),
            ip=rng.choice(["", "203.0.113.9", "198.51.100.7"]),
            fingerprint=rng.choice(["", "fp1"]),
            country=rng.choice(["", "DE"]),
        )
        for _ in range(n // 2)
    ]
    api += [
        server_event(
            T0 + rng.uniform(0, 10 * DAY),
            "external_call",
            name=rng.choice(["openai", "stripe"]),
            cost_usd=rng.choice([0.0, 0.1, 0.003, 1e-7]),
            latency_ms=rng.lognormvariate(6, 0.5),
        )
        for _ in range(n // 2)
    ]
    rng.shuffle(api)
    flushes = [
        (
            [e for v in first[i : i + 40] for e in v.events] + api[2 * i : 2 * i + 80],
            [v.session for v in first[i : i + 40]],
        )
        for i in range(0, n, 40)
    ]
    flushes += [
        ([e for _s, evs in second[i : i + 60] for e in evs], [s for s, _e in second[i : i + 60]])
        for i in range(0, n, 60)
    ]
    return flushes


def assert_rollups_equal_raw(conn) -> None:
    for span in SPANS:
        for filters in (Filters(site=SITE), Filters(), Filters(site=SITE, bots="bots"), Filters(bots="all")):
            assert kpis(conn, span, filters, rollups=True) == kpis(conn, span, filters, rollups=False)
            assert hourly(conn, span, filters, rollups=True) == hourly(conn, span, filters, rollups=False)
            for dim in ("path", *SESSION_DIMS):
                assert top(conn, span, filters, dim, 50, rollups=True) == top(
                    conn, span, filters, dim, 50, rollups=False
                ), dim
            assert custom_events(conn, span, filters, 50, rollups=True) == custom_events(
                conn, span, filters, 50, rollups=False
            )
            assert engagement(conn, span, filters, 50, rollups=True) == engagement(
                conn, span, filters, 50, rollups=False
            )
            assert top_bots(conn, span, filters, 50, rollups=True) == top_bots(conn, span, filters, 50, rollups=False)
            assert latency_histograms(conn, span, filters, rollups=True) == latency_histograms(
                conn, span, filters, rollups=False
            )
            assert external_histograms(conn, span, filters, rollups=True) == external_histograms(
                conn, span, filters, rollups=False
            )
            assert failed_logins(conn, span, filters, 50, rollups=True) == failed_logins(
                conn, span, filters, 50, rollups=False
            )
            for requests_filters in (filters, Filters(filters.site, (("status", "404"),), filters.bots)):
                assert_requests_equal_raw(conn, span, requests_filters)
            for event in ("signup", "chat"):
                assert event_property_keys(conn, span, filters, event, 50, rollups=True) == (
                    event_property_keys(conn, span, filters, event, 50, rollups=False)
                )
                for prop, where in (("plan", None), ("q", None), ("q", {"answered": "false"}), ("x", None)):
                    assert property_breakdown(conn, span, filters, event, prop, where, 50, rollups=True) == (
                        property_breakdown(conn, span, filters, event, prop, where, 50, rollups=False)
                    )


def assert_requests_equal_raw(conn, span: Span, filters: Filters) -> None:
    assert status_codes(conn, span, filters, rollups=True) == status_codes(conn, span, filters, rollups=False)
    for limit in (50, 2):
        assert not_found(conn, span, filters, limit, rollups=True) == not_found(
            conn, span, filters, limit, rollups=False
        )
        assert bandwidth(conn, span, filters, limit, rollups=True) == bandwidth(
            conn, span, filters, limit, rollups=False
        )


@pytest.mark.parametrize("seed", [1, 2])
def test_rollups_equal_raw_results_after_many_flushes(tmp_path, seed):
    conn = new_db(tmp_path / "r.db")
    for events, sessions in dataset(seed):
        write(conn, events, sessions)
    assert conn.execute("SELECT count(*) FROM rollup_pending_sessions").fetchone()[0] == 0
    k = kpis(conn, SPANS[1], Filters(site=SITE), rollups=True)
    assert k.sessions > 150 and k.pageviews > 400  # the comparison is about real numbers, not zeros
    assert len(top_bots(conn, SPANS[1], Filters(site=SITE))) >= 2
    assert property_breakdown(conn, SPANS[1], Filters(site=SITE), "signup", "plan")[0].count > 5
    assert sum(r.requests for r in endpoints(conn, SPANS[1], Filters())) == 250
    assert sum(r.failures for r in failed_logins(conn, SPANS[1], Filters())) > 50
    assert sum(r.calls for r in external_costs(conn, SPANS[1], Filters(site=SITE))) == 125
    assert len(status_codes(conn, SPANS[1], Filters(bots="all"))) == 4 and not_found(conn, SPANS[1], Filters())
    assert sum(r.median_engaged_s is not None for r in engagement(conn, SPANS[1], Filters(site=SITE))) >= 5
    assert_rollups_equal_raw(conn)


def test_rows_written_without_hooks_are_rolled_up_later(tmp_path):
    conn = new_db(tmp_path / "r.db")
    flushes = dataset(3, 120)
    for events, sessions in flushes[:3]:
        write(conn, events, sessions, rollups=False)  # e.g. another tool wrote them
    for events, sessions in flushes[3:]:
        write(conn, events, sessions)
    catch_up(conn)
    assert_rollups_equal_raw(conn)
    before = {t: rows_of(conn, t) for t in ROLLUP_TABLES}
    assert all(before.values())
    rebuild(conn)
    assert {t: rows_of(conn, t) for t in ROLLUP_TABLES} == before


def rows_of(conn, table: str) -> list[tuple]:
    return sorted(tuple(r) for r in conn.execute(f"SELECT * FROM {table}"))


async def test_the_writer_runs_the_rollup_hooks(tmp_path):

    writer = Writer(sqlite_store(tmp_path / "w.db"), flush_interval_s=60)
    await writer.start()
    v = visit(T0 + 5 * HOUR, [(0, "/"), (30, "/pricing")], visitor="a")
    for e in v.events:
        writer.add_event(e.as_row())
    writer.add_session(v.session.id, v.session.as_row())
    await writer.flush()
    await writer.stop()
    conn = new_db(tmp_path / "w.db")
    row = conn.execute("SELECT sum(pageviews), sum(sessions), sum(visitors) FROM rollup_traffic").fetchone()
    assert tuple(row) == (2, 1, 1)
    assert_rollups_equal_raw(conn)


def test_latency_buckets_take_any_value_and_stay_within_two_percent():
    for bad in (-5.0, 0.0, math.nan, math.inf, 1e300):
        assert 0 <= latency_bucket(bad) <= 32 * 16  # never raises inside a flush
    for ms in (0.5, 1.0, 7.3, 42.0, 999.0, 12_345.6):
        assert abs(latency_of_bucket(latency_bucket(ms)) - ms) <= 0.022 * (1 + ms)


def test_split_days_reads_only_uneven_ends_raw():
    pieces = split_days(Span(T0 + 5 * HOUR, T0 + 3 * DAY + 2 * HOUR))
    assert pieces.raw == (Span(T0 + 5 * HOUR, T0 + DAY), Span(T0 + 3 * DAY, T0 + 3 * DAY + 2 * HOUR))
    assert pieces.daily == (Span(T0 + DAY, T0 + 3 * DAY),)
    assert split_days(Span(T0 + HOUR, T0 + 5 * HOUR)).raw == (Span(T0 + HOUR, T0 + 5 * HOUR),)


def page_totals(conn, path: str) -> tuple[int, int]:
    """(pageviews, visits) of a path in the hourly page rollup."""
    row = conn.execute(
        "SELECT sum(pageviews), sum(visits) FROM rollup_pages WHERE grain = ? AND path = ?", (HOUR, path)
    ).fetchone()
    return int(row[0] or 0), int(row[1] or 0)


def one_session_pages(session_id: int, *pages: tuple[float, str]):
    """One session's page hits (for flushes that each carry part of it)."""
    return visit(T0 + HOUR, list(pages), visitor="s", session_id=session_id)


def test_a_path_seen_in_a_flush_by_another_writer_is_not_a_new_visit(tmp_path):
    ours, theirs = new_db(tmp_path / "r.db"), new_db(tmp_path / "r.db")  # e.g. the collector and an importer
    for conn, page in ((ours, (0, "/")), (theirs, (10, "/pricing")), (ours, (20, "/pricing"))):
        v = one_session_pages(77, page)
        write(conn, v.events, [])
    assert page_totals(ours, "/pricing") == (2, 1)
    assert page_totals(ours, "/") == (1, 1)


def test_a_rolled_back_flush_leaves_no_visit_behind(tmp_path):
    from db.batch import Batch
    from db.sqlite.batch import write_batch
    from db.sqlite.rollups import rollup_hooks

    conn = new_db(tmp_path / "r.db")
    write(conn, one_session_pages(78, (0, "/")).events, [])

    def disk_full(conn, batch):
        raise OSError("disk full")

    batch = Batch(events=[e.as_row() for e in one_session_pages(78, (10, "/pricing")).events])
    with pytest.raises(OSError):
        write_batch(conn, batch, [*rollup_hooks(), disk_full])
    write_batch(conn, batch, rollup_hooks())  # the writer retries the same batch
    assert page_totals(conn, "/pricing") == (1, 1)
    assert conn.execute("SELECT count(*) FROM events").fetchone()[0] == 2


def test_visits_stay_exact_when_the_kept_visit_keys_overflow(tmp_path, monkeypatch):
    import db.sqlite.rollups

    monkeypatch.setattr(db.sqlite.rollups, "MAX_VISIT_KEYS", 10)  # dropped and read back again at nearly every flush
    conn = new_db(tmp_path / "r.db")
    for events, sessions in dataset(4, 120):
        write(conn, events, sessions)
    assert_rollups_equal_raw(conn)


@pytest.mark.parametrize("how", ["erasure", "retention"])
def test_events_reusing_the_ids_of_deleted_newest_events_are_rolled_up(tmp_path, how):
    from db.sqlite.queries.erase import erase_visitors
    from db.sqlite.retention import purge

    conn = new_db(tmp_path / "r.db")
    write(conn, one_session_pages(1, (0, "/old")).events, [])
    newest = visit(T0 + 5 * DAY, [(0, "/gone")], visitor="leaver", session_id=2)
    write(conn, newest.events, [])
    if how == "erasure":
        erase_visitors(conn, ["leaver"])
    else:  # everything older than the cut-off: the newest rows too
        purge(conn, now=T0 + 40 * DAY, raw_days=30, rollup_days=0)
    assert conn.execute("SELECT count(*) FROM events WHERE path = '/gone'").fetchone()[0] == 0
    write(conn, visit(T0 + 6 * DAY, [(0, "/after")], visitor="next", session_id=3).events, [])
    assert page_totals(conn, "/after") == (1, 1)


def test_the_migration_backfills_request_and_engaged_rollups_from_stored_rows(tmp_path):
    """A database from before the request and engaged rollups: the migration counts the requests rolled up so
    far at once, and the engaged histogram catches up from the stored rows over the next flushes."""
    conn = new_db(tmp_path / "r.db")
    flushes = dataset(5, 120)
    for events, sessions in flushes[:-1]:
        write(conn, events, sessions)
    expected = {t: rows_of(conn, t) for t in ("rollup_requests", "rollup_engaged")}
    assert all(expected.values())
    conn.execute("DROP TABLE rollup_requests")
    conn.execute("DROP TABLE rollup_engaged")
    conn.execute("DELETE FROM rollup_state WHERE name = 'engaged'")
    conn.execute("PRAGMA user_version = 6")
    assert migrate(conn) == latest_version()
    assert rows_of(conn, "rollup_requests") == expected["rollup_requests"]
    assert rows_of(conn, "rollup_engaged") == []
    assert roll_up_engaged(conn, limit=100) == 100  # a backlog goes in bounded steps
    assert 0 < len(rows_of(conn, "rollup_engaged")) < len(expected["rollup_engaged"])
    events, sessions = flushes[-1]
    write(conn, events, sessions)  # the next flush takes the rest of the backlog and its own rows
    marks = dict(conn.execute("SELECT name, value FROM rollup_state").fetchall())
    assert marks["engaged"] == marks["events"] == conn.execute("SELECT max(id) FROM events").fetchone()[0]
    assert_rollups_equal_raw(conn)
    after = {t: rows_of(conn, t) for t in ROLLUP_TABLES}
    rebuild(conn)
    assert {t: rows_of(conn, t) for t in ROLLUP_TABLES} == after


def views_of_stored_rows(conn) -> dict:
    return engaged.views(conn.execute(f"SELECT {engaged.VIEW_COLUMNS} FROM events ORDER BY ts, id"))


def stored_histograms(conn) -> dict:
    return {tuple(r[:5]): r[5] for r in conn.execute("SELECT * FROM rollup_engaged")}


@pytest.mark.parametrize(("seed", "kept"), [(3, 50_000), (4, 50_000), (5, 50_000), (3, 5)])
def test_engaged_histogram_follows_reports_spread_over_flushes_and_arriving_late(tmp_path, monkeypatch, seed, kept):
    """Views get reports over many flushes, some reports arriving a few flushes late (after later page hits of
    their path were stored) and some more than a day after their page hit: after every flush the histogram
    holds exactly the views that all stored rows make (also when few open views are kept between flushes)."""
    monkeypatch.setattr(engaged, "MAX_OPEN_VIEWS", kept)
    rng = random.Random(seed)
    conn = new_db(tmp_path / "e.db")
    stream = []
    for sid in range(1, 41):
        t = T0 + rng.uniform(0, 2 * DAY)
        for _ in range(rng.randint(3, 30)):
            t += rng.choice([1, 20, 600, 3 * HOUR, 1.2 * DAY])
            path = rng.choice(PATHS[:3])
            stream.append((t, visit(t, [(0, path)], visitor=f"v{sid}", session_id=sid).events[0]))
            for k in range(rng.choice([0, 0, 1, 2, 3])):
                at = t + rng.choice([5, 90, 2 * HOUR, 1.1 * DAY]) * (k + 1)
                report = visit(
                    at, [], visitor=f"v{sid}", session_id=sid, engagement=[(0, path, 50, rng.randint(0, 9000))]
                )
                stream.append((at + rng.choice([0, 0, 0, 2 * HOUR, DAY]), report.events[0]))  # when it arrives
    stream.sort(key=lambda item: item[0])
    views_of_rows = 0
    for i in range(0, len(stream), 37):
        write(conn, [e for _at, e in stream[i : i + 37]], [])
        expected = views_of_stored_rows(conn)
        assert stored_histograms(conn) == expected
        views_of_rows = sum(expected.values())
    late = sum(1 for at, e in stream if e.ts < at)
    assert views_of_rows > 100 and late > 20  # real views, and reports that came late


def test_a_rolled_back_flush_leaves_no_engaged_time_behind(tmp_path):
    from db.batch import Batch
    from db.sqlite.batch import write_batch
    from db.sqlite.rollups import rollup_hooks

    conn = new_db(tmp_path / "r.db")
    write(conn, visit(T0, [(0, "/")], session_id=79, engagement=[(5, "/", 10, 4000)]).events, [])

    def disk_full(conn, batch):
        raise OSError("disk full")

    report = visit(T0 + 60, [], session_id=79, engagement=[(0, "/", 20, 90_000)]).events
    batch = Batch(events=[e.as_row() for e in report])
    with pytest.raises(OSError):
        write_batch(conn, batch, [*rollup_hooks(), disk_full])
    write_batch(conn, batch, rollup_hooks())  # the writer retries the same batch
    assert stored_histograms(conn) == views_of_stored_rows(conn)
    assert sum(stored_histograms(conn).values()) == 1
