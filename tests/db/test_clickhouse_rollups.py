"""The ClickHouse rollups stay exact: long spans read from them answer as the raw rows do and as SQLite does,
whoever wrote the events (a collector's sink, single flushes, a retried batch, `sitelens migrate`, the backfill),
and after a session's earlier events are re-marked as a bot's."""

from __future__ import annotations

from dataclasses import replace

import pytest

from db.batch import Batch
from db.clickhouse import rollups
from db.clickhouse.queries import events as ch_events
from db.clickhouse.queries import overview as ch_overview
from db.clickhouse.writer import ClickHouseSink, insert, prepare
from db.queries.common import Filters, Span
from db.rules import DAY, HOUR
from db.sqlite.batch import write_batch
from db.sqlite.queries import events as sq_events
from db.sqlite.queries import overview as sq_overview
from db.sqlite.rollups import rollup_hooks
from tests.factories import SITE, T0, Visit, new_db, visit

LONG = Span(T0 - DAY + 1234.5, T0 + 2 * DAY + 321.0)
"""Three days with uneven ends: raw edges, hourly parts and a whole day in the middle."""


def _visits() -> list[Visit]:
    """Sessions crossing hours, repeating pages and events, with props and engagement reports."""
    reader = visit(
        T0 + HOUR - 60,
        [(0, "/"), (30, "/docs"), (90, "/docs"), (200, "/"), (4000, "/docs")],
        visitor="r1",
        session_id=11,
        custom=[(40, "signup", {"plan": "pro"}), (100, "signup", {"plan": "free"}), (3900, "chat", {"q": "a"})],
        engagement=[(80, "/docs", 60, 12000), (150, "/docs", 90, 3000)],
    )
    scraper = visit(
        T0 + DAY + 10,
        [(0, "/"), (5, "/pricing"), (7, "/"), (9, "/pricing"), (HOUR + 5, "/pricing")],
        visitor="s1",
        session_id=12,
        custom=[(6, "signup", {"plan": "pro"})],
    )
    other = visit(T0 + DAY + 20, [(0, "/pricing"), (50, "/docs")], visitor="o1", session_id=13, is_bot=1)
    return [reader, scraper, other]


def _flushes(visits: list[Visit]) -> list[Batch]:
    """Each session's events over three flushes; the scraper is judged a bot in the last one."""
    batches = [Batch(), Batch(), Batch()]
    for v in visits:
        thirds = (v.events[:2], v.events[2:4], v.events[4:])
        for i, (batch, part) in enumerate(zip(batches, thirds, strict=True)):
            batch.events += [e.as_row() for e in part]
            session = replace(v.session, is_bot=1, bot_score=90) if i == 2 and v.session.id == 12 else v.session
            batch.sessions[v.session.id] = session.as_row()
    return batches


def _answers(ch: object, conn: object, span: Span, filters: Filters) -> None:
    """Every rolled-up answer equals the raw one on ClickHouse and SQLite's."""
    for rollups_ in (None, True):
        got = (
            ch_overview.kpis(ch, span, filters, rollups=rollups_),  # type: ignore[arg-type]
            ch_overview.top(ch, span, filters, "pages", rollups=rollups_),  # type: ignore[arg-type]
            ch_events.custom_events(ch, span, filters, rollups=rollups_),  # type: ignore[arg-type]
            ch_overview.engagement(ch, span, filters, rollups=rollups_),  # type: ignore[arg-type]
        )
        raw = (
            ch_overview.kpis(ch, span, filters, rollups=False),  # type: ignore[arg-type]
            ch_overview.top(ch, span, filters, "pages", rollups=False),  # type: ignore[arg-type]
            ch_events.custom_events(ch, span, filters, rollups=False),  # type: ignore[arg-type]
            ch_overview.engagement(ch, span, filters, rollups=False),  # type: ignore[arg-type]
        )
        sqlite = (
            sq_overview.kpis(conn, span, filters, rollups=rollups_),  # type: ignore[arg-type]
            sq_overview.top(conn, span, filters, "pages", rollups=rollups_),  # type: ignore[arg-type]
            sq_events.custom_events(conn, span, filters, rollups=rollups_),  # type: ignore[arg-type]
            sq_overview.engagement(conn, span, filters, rollups=rollups_),  # type: ignore[arg-type]
        )
        assert got == raw == sqlite
    assert ch_overview.hourly(ch, span, filters) == ch_overview.hourly(ch, span, filters, rollups=False)  # type: ignore[arg-type]
    assert ch_overview.timeseries(ch, span, filters) == sq_overview.timeseries(conn, span, filters)  # type: ignore[arg-type]
    for key in ("plan", "q"):
        assert ch_events.property_breakdown(ch, span, filters, "signup", key) == sq_events.property_breakdown(  # type: ignore[arg-type]
            conn,
            span,
            filters,
            "signup",
            key,  # type: ignore[arg-type]
        )


@pytest.fixture
def sqlite_conn(tmp_path):
    """The same flushes written into SQLite by its writer's rules."""
    conn = new_db(tmp_path / "s.db")
    for batch in _flushes(_visits()):
        write_batch(conn, batch, rollup_hooks())
    return conn


@pytest.mark.parametrize("bots", ["humans", "bots", "all"])
def test_a_sink_s_flushes_and_a_late_bot_verdict_keep_the_rollups_exact(clickhouse, sqlite_conn, tmp_path, bots):
    sink = ClickHouseSink(clickhouse, tmp_path / "spool", 1 << 20)  # type: ignore[arg-type]
    for batch in _flushes(_visits()):
        sink.write(batch)
    assert clickhouse.value("SELECT countIf(is_bot = 0) FROM events WHERE session_id = 12") == 0  # type: ignore[attr-defined]
    _answers(clickhouse, sqlite_conn, LONG, Filters(SITE, (), bots))
    _answers(clickhouse, sqlite_conn, Span(T0, T0 + 3 * DAY), Filters(SITE, (), bots))  # whole days only


@pytest.mark.parametrize("limit", [1, 100])
def test_a_memory_of_new_sessions_and_one_that_forgets_keep_the_rollups_exact(clickhouse, sqlite_conn, limit):
    """Sessions started after the memory's `since` are not looked up; a forgotten one pushes `since` on, so
    the sessions that go on after it are looked up again."""
    memo = rollups.Memo(limit, since=T0 - 1)
    for batch in _flushes(_visits()):
        insert(clickhouse, prepare(batch), memo=memo)  # type: ignore[arg-type]
    assert (memo.since > T0) == (limit == 1)
    _answers(clickhouse, sqlite_conn, LONG, Filters(SITE))
    _answers(clickhouse, sqlite_conn, LONG, Filters(SITE, (), "bots"))


def test_flushes_without_a_memory_and_a_retried_batch_count_once(clickhouse, sqlite_conn):
    for batch in _flushes(_visits()):
        prepared = prepare(batch)
        insert(clickhouse, prepared)  # type: ignore[arg-type]
        insert(clickhouse, prepared)  # type: ignore[arg-type]  # sent again after a timeout: nothing changes
    _answers(clickhouse, sqlite_conn, LONG, Filters(SITE))
    _answers(clickhouse, sqlite_conn, LONG, Filters(SITE, (), "bots"))


def test_the_backfill_rebuilds_what_the_writers_kept(clickhouse, sqlite_conn):
    for batch in _flushes(_visits()):
        insert(clickhouse, prepare(batch))  # type: ignore[arg-type]
    kept = clickhouse.rows(  # type: ignore[attr-defined]
        "SELECT * FROM (SELECT site, grain, bucket, is_bot, kind, key, props, sum(hits) h, sum(visits) v, "
        "sum(scroll) s, sum(engaged_ms) m FROM rollup_events GROUP BY ALL) WHERE h OR v OR s OR m ORDER BY ALL"
    )
    clickhouse.command("TRUNCATE TABLE rollup_events")  # type: ignore[attr-defined]
    assert rollups.rebuild(clickhouse) == clickhouse.value("SELECT count() FROM events")  # type: ignore[arg-type, attr-defined]
    rebuilt = clickhouse.rows(  # type: ignore[attr-defined]
        "SELECT site, grain, bucket, is_bot, kind, key, props, sum(hits), sum(visits), sum(scroll), sum(engaged_ms) "
        "FROM rollup_events GROUP BY ALL ORDER BY ALL"
    )
    assert rebuilt == kept
    _answers(clickhouse, sqlite_conn, LONG, Filters(SITE))


def test_erased_visitors_still_count_in_long_spans_as_on_sqlite(clickhouse, sqlite_conn):
    """Rollups are anonymous sums and outlive erasure on both engines (short spans read raw rows and lose them)."""
    from db.clickhouse.queries.erase import erase_visitors as ch_erase
    from db.sqlite.queries.erase import erase_visitors as sq_erase

    for batch in _flushes(_visits()):
        insert(clickhouse, prepare(batch))  # type: ignore[arg-type]
    ch_erase(clickhouse, ["r1"])  # type: ignore[arg-type]
    sq_erase(sqlite_conn, ["r1"])
    span, f = Span(T0, T0 + 3 * DAY), Filters(SITE)
    ch_kpis = ch_overview.kpis(clickhouse, span, f)  # type: ignore[arg-type]
    assert ch_kpis == sq_overview.kpis(sqlite_conn, span, f)
    assert (ch_kpis.pageviews, ch_kpis.sessions) == (5, 1)  # the reader's, erased from the raw rows
    assert ch_overview.kpis(clickhouse, span, f, rollups=False).sessions == 0  # type: ignore[arg-type]
    assert ch_overview.top(clickhouse, span, f, "pages") == sq_overview.top(sqlite_conn, span, f, "pages")  # type: ignore[arg-type]


def test_a_store_from_before_the_rollups_gets_them_by_migration(clickhouse, sqlite_conn, monkeypatch):
    """Rows stored at schema 3 (no rollups) are rolled up by the migration's backfill, once."""
    from db.clickhouse import migrate
    from db.records import EVENT_COLUMNS, SESSION_COLUMNS

    clickhouse.command("DROP TABLE rollup_events")  # type: ignore[attr-defined]
    clickhouse.command("ALTER TABLE schema_migrations DELETE WHERE version >= 4 SETTINGS mutations_sync = 1")  # type: ignore[attr-defined]
    for batch in _flushes(_visits()):  # as a writer of schema 3 stored them: rows only
        p = prepare(batch)
        remark = [s for s in p.sessions if s[SESSION_COLUMNS.index("is_bot")]]
        clickhouse.insert("events", p.events, ("id", *EVENT_COLUMNS))  # type: ignore[attr-defined]
        clickhouse.insert("sessions", p.sessions, (*SESSION_COLUMNS, "version"))  # type: ignore[attr-defined]
        if remark:
            clickhouse.command("ALTER TABLE events UPDATE is_bot = 1 WHERE session_id = 12 SETTINGS mutations_sync = 1")  # type: ignore[attr-defined]
    assert migrate.schema_version(clickhouse) < 4  # type: ignore[arg-type]
    migrate.migrate(clickhouse)  # type: ignore[arg-type]
    migrate.migrate(clickhouse)  # type: ignore[arg-type]  # a second collector starting: nothing more
    _answers(clickhouse, sqlite_conn, LONG, Filters(SITE))
    _answers(clickhouse, sqlite_conn, LONG, Filters(SITE, (), "bots"))


def test_rollups_past_rollup_days_go_from_long_spans_as_on_sqlite(clickhouse, tmp_path):
    """`retention.rollup_days` on ClickHouse: a TTL on the rollup tables drops the days SQLite's retention deletes,
    so a long span stops counting them on both engines (the TTL counts from the real clock)."""
    import time

    from db.clickhouse.queries.retention import set_retention
    from db.sqlite.retention import purge
    from tests.engines import ch_write
    from tests.factories import write_visits

    now = time.time()
    visits = [
        visit(now - days * DAY, [(0, "/"), (30, path)], visitor=path, engagement=[(40, path, 50, 9000)])
        for days, path in ((100, "/old"), (50, "/kept"), (2, "/new"))
    ]
    conn = new_db(tmp_path / "r.db")
    write_visits(conn, visits)
    ch_write(clickhouse, [e for v in visits for e in v.events], [v.session for v in visits])
    span, f = Span(now - 120 * DAY, now), Filters(SITE)
    assert ch_overview.kpis(clickhouse, span, f).pageviews == sq_overview.kpis(conn, span, f).pageviews == 6  # type: ignore[arg-type]

    purge(conn, now, raw_days=30, rollup_days=60)
    assert set_retention(clickhouse, 30, 60)[-2:] == ["rollup_events", "rollup_engaged"]  # type: ignore[arg-type]
    for table in ("events", "sessions", "rollup_events", "rollup_engaged"):
        clickhouse.command(f"OPTIMIZE TABLE {table} FINAL")  # type: ignore[attr-defined]  # TTLs apply at merges
    ch_kpis = ch_overview.kpis(clickhouse, span, f)  # type: ignore[arg-type]
    assert ch_kpis == sq_overview.kpis(conn, span, f)
    assert (ch_kpis.pageviews, ch_kpis.sessions) == (4, 2)  # the raw rows of the 50-day-old visit are gone too
    pages = ch_overview.top(clickhouse, span, f, "pages")  # type: ignore[arg-type]
    assert pages == sq_overview.top(conn, span, f, "pages")
    assert {r.value for r in pages} == {"/", "/kept", "/new"}
    engaged = ch_overview.engagement(clickhouse, span, f)  # type: ignore[arg-type]
    assert engaged == sq_overview.engagement(conn, span, f)
    assert "/old" not in {r.path for r in engaged}
