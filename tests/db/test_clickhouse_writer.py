"""The ClickHouse writer keeps SQLite's write rules: a session that turns out to be a bot takes its earlier events
with it, on both engines, so human counts agree."""

from __future__ import annotations

from dataclasses import replace

from db.clickhouse.queries import overview as ch_overview
from db.queries.common import Filters, Span
from db.sqlite.queries import overview
from tests.engines import ch_write
from tests.factories import SITE, T0, new_db, visit, write


def test_a_session_judged_a_bot_later_takes_its_early_events_along(tmp_path, clickhouse):
    conn = new_db(tmp_path / "s.db")
    human = visit(T0 + 60, [(0, "/"), (5, "/a"), (10, "/b")], visitor="v1", session_id=7)
    other = visit(T0 + 90, [(0, "/")], visitor="v2", session_id=8)
    first, later = human.events[:2], human.events[2:]
    for store_write in (lambda e, s: write(conn, e, s), lambda e, s: ch_write(clickhouse, e, s)):
        store_write(first + other.events, [human.session, other.session])  # flushed as human
        store_write(later, [replace(human.session, is_bot=1, bot_score=80)])  # then judged a bot
    span = Span(T0, T0 + 3600)
    for bots, pageviews in (("humans", 1), ("bots", 3)):
        sqlite_kpis = overview.kpis(conn, span, Filters(SITE, (), bots))
        ch_kpis = ch_overview.kpis(clickhouse, span, Filters(SITE, (), bots))
        assert sqlite_kpis == ch_kpis
        assert ch_kpis.pageviews == pageviews
    assert clickhouse.value("SELECT count() FROM events WHERE session_id = 7 AND is_bot = 1") == 3


def test_the_collector_sink_remembers_what_it_stored_and_still_re_marks(tmp_path, clickhouse):
    from db.batch import Batch
    from db.clickhouse.writer import ClickHouseSink

    sink = ClickHouseSink(clickhouse, tmp_path / "spool", 1 << 20)
    human = visit(T0 + 60, [(0, "/"), (5, "/a"), (10, "/b")], visitor="v1", session_id=7)
    crawler = visit(T0 + 70, [(0, "/"), (1, "/robots.txt")], visitor="c1", session_id=9, is_bot=1)
    first = Batch(events=[e.as_row() for e in human.events[:2] + crawler.events[:1]],
                  sessions={7: human.session.as_row(), 9: crawler.session.as_row()})
    sink.write(first)
    later = Batch(events=[e.as_row() for e in human.events[2:] + crawler.events[1:]],
                  sessions={7: replace(human.session, is_bot=1).as_row(), 9: crawler.session.as_row()})
    sink.write(later)
    assert clickhouse.rows("SELECT session_id, countIf(is_bot = 1), count() FROM events GROUP BY session_id "
                           "ORDER BY session_id") == [(7, 3, 3), (9, 2, 2)]
