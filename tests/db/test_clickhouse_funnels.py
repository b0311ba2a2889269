"""Funnels on ClickHouse: stored definitions behave as on SQLite, reports equal SQLite's on one dataset."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from db.batch import Batch
from db.clickhouse.queries import funnels as chf
from db.funnels import Funnel, FunnelError, Step, make_funnel
from db.queries.common import Filters, Span, span_for
from db.rules import DAY
from db.sqlite.queries import funnels as sqf
from tests.db.both_engines import NOW, OTHER, generate, loaded
from tests.factories import SITE, T0, new_db, visit, write_visits

FUNNELS = [
    make_funnel("exact", [{"path": "/pricing"}, {"path": "/signup"}, {"event": "signup"}], 600),
    make_funnel("globs", [{"path": "/pric*"}, {"path": "/blog/*"}, {"event": "signup", "props": {"plan": "pro"}}]),
    make_funnel("classes", [{"path": "/pric[e]s"}, {"path": "*"}, {"path": "/[!p]*"}], 300),
    make_funnel("suffix", [{"path": "*/team"}, {"path": "/?ignup"}], 900),
    make_funnel("unicode", [{"path": "/é/*"}, {"event": "chat"}], 900),
    make_funnel("site", [{"path": "/"}, {"path": "/pricing"}], 1800, OTHER),
]
SPANS = ["1h", "24h", "7d", "30d", "90d"]
FILTERS = [
    Filters(site=SITE),
    Filters(),
    Filters(site=SITE, bots="all"),
    Filters(bots="bots"),
    Filters(dims=(("country", "DE"),)),
    Filters(site=SITE, dims=(("ref_source", "Google"),)),  # a session dimension
    Filters(dims=(("browser", "Firefox"), ("ref_source", "news"))),
    Filters(site=SITE, dims=(("user_id", ""),)),  # an event column funnel_steps does not hold: read from events
]


@pytest.fixture(scope="module")
def both(tmp_path_factory):
    yield from loaded(tmp_path_factory, generate())


@pytest.mark.parametrize("funnel", FUNNELS, ids=lambda f: f.name)
def test_reports_equal_sqlite(both, funnel):
    conn, ch = both
    entered = 0
    for range_name in SPANS:
        span = span_for(range_name, NOW)
        for filters in FILTERS:
            expected = sqf.funnel_report(conn, funnel, span, filters)
            assert chf.funnel_report(ch, funnel, span, filters) == expected, (range_name, filters)
            entered += expected[0].entered
    assert entered > 0  # the dataset reaches every funnel


def test_many_distinct_candidates_are_matched_row_by_row(both, monkeypatch):
    """Above MAX_CANDIDATES distinct (type, path, name, props) candidates, each candidate row is matched in
    Python instead of binding their masks into the query: the reports stay SQLite's."""
    conn, ch = both
    monkeypatch.setattr(chf, "MAX_CANDIDATES", 1)
    span = span_for("90d", NOW)
    for funnel in FUNNELS[1:4]:  # globs, classes, suffix: many distinct candidates each
        for filters in FILTERS[:2] + FILTERS[-1:]:
            source = chf._source(filters)
            where, params = chf.event_where(span, filters)
            assert chf._candidate_masks(ch, funnel, source, where, params) is None  # too many: row by row
            assert chf.funnel_report(ch, funnel, span, filters) == sqf.funnel_report(conn, funnel, span, filters)


def test_report_known_values(tmp_path, clickhouse):
    """Two visitors: one completes both steps 60 s apart, one stops after the first; a bot is not counted."""
    from tests.engines import ch_write

    visits = [
        visit(T0, [(0, "/pricing"), (60, "/signup")], visitor="a"),
        visit(T0 + 100, [(0, "/pricing")], visitor="b"),
        visit(T0 + 200, [(0, "/pricing"), (5, "/signup")], visitor="bot", is_bot=1),
    ]
    conn = new_db(tmp_path / "k.db")
    write_visits(conn, visits)
    ch_write(clickhouse, [e for v in visits for e in v.events], [v.session for v in visits])
    funnel = make_funnel("k", [{"path": "/pricing"}, {"path": "/sign*"}])
    span = Span(T0, T0 + DAY)
    results = [chf.funnel_report(clickhouse, funnel, span, Filters()), sqf.funnel_report(conn, funnel, span, Filters())]
    for result in results:
        assert [(r.entered, r.converted, r.median_s_to_next) for r in result] == [(2, 1, 60.0), (1, 1, None)]


@pytest.fixture(params=["sqlite", "clickhouse"])
def store(request, tmp_path):
    if request.param == "sqlite":
        conn = new_db(tmp_path / "f.db")
        yield conn, sqf
        conn.close()
    else:
        yield request.getfixturevalue("clickhouse"), chf


def test_definitions(store):
    db, q = store
    config = [SimpleNamespace(name="cfg", steps=[{"path": "/"}, {"path": "/x"}], window_s=1800, site="")]
    assert q.list_funnels(db) == []
    q.save_funnel(db, make_funnel("b", [{"path": "/"}, {"event": "go"}], 600, "example.com"), now=100.0)
    q.save_funnel(db, make_funnel("a", [{"path": "/a"}, {"path": "/b"}]), now=200.0)
    q.save_funnel(db, make_funnel("cfg", [{"path": "/stored"}, {"path": "/y"}]), now=300.0)
    names = [(f.name, f.site, f.window_s, [s.match for s in f.steps]) for f in q.list_funnels(db, config)]
    assert names == [
        ("cfg", "", 1800, ["/", "/x"]),  # the config wins on a name clash
        ("a", "", 1800, ["/a", "/b"]),
        ("b", "example.com", 600, ["/", "go"]),
    ]
    q.save_funnel(db, make_funnel("a", [{"path": "/c"}, {"path": "/d"}], 60), now=400.0)  # replaced
    assert [s.match for s in q.list_funnels(db)[0].steps] == ["/c", "/d"]
    assert q.delete_funnel(db, "a") is True
    assert q.delete_funnel(db, "a") is False
    assert q.delete_funnel(db, "nothing") is False
    assert [f.name for f in q.list_funnels(db)] == ["b", "cfg"]
    q.save_funnel(db, make_funnel("a", [{"path": "/e"}, {"path": "/f"}]), now=500.0)  # created again
    assert [f.name for f in q.list_funnels(db)] == ["a", "b", "cfg"]
    with pytest.raises(FunnelError):
        q.save_funnel(db, Funnel("bad", (Step("path", "/only"),), 60))  # one step: refused, nothing stored
    assert [f.name for f in q.list_funnels(db)] == ["a", "b", "cfg"]


def test_reports_follow_bot_verdicts_and_erasure(tmp_path, clickhouse):
    """Funnels read their own table on ClickHouse: a session judged a bot after its first page took that page out of
    the humans' funnel, and an erased visitor's journey is gone from it, as on SQLite."""
    from dataclasses import replace

    from db.clickhouse.queries import erase as che
    from db.sqlite.queries import erase as sqe
    from tests.engines import ch_write
    from tests.factories import write

    conn = new_db(tmp_path / "v.db")
    later = visit(T0, [(0, "/pricing"), (30, "/signup")], visitor="later-bot", session_id=7)
    keen = visit(T0 + 100, [(0, "/pricing"), (60, "/signup")], visitor="keen")
    idle = visit(T0 + 200, [(0, "/pricing")], visitor="idle")
    flushes = [
        (later.events[:1] + keen.events + idle.events, [later.session, keen.session, idle.session]),
        (later.events[1:], [replace(later.session, is_bot=1, bot_score=80)]),  # judged a bot on its second page
    ]
    funnel = make_funnel("f", [{"path": "/pricing"}, {"path": "/signup"}])
    span = Span(T0, T0 + DAY)

    def reports(bots: str) -> list[tuple[int, int]]:
        results = [q.funnel_report(db, funnel, span, Filters(bots=bots)) for db, q in ((conn, sqf), (clickhouse, chf))]
        assert results[0] == results[1], bots
        return [(r.entered, r.converted) for r in results[1]]

    for events, sessions in flushes[:1]:
        write(conn, events, sessions)
        ch_write(clickhouse, events, sessions)
    assert reports("humans") == [(3, 1), (1, 1)]
    for events, sessions in flushes[1:]:
        write(conn, events, sessions)
        ch_write(clickhouse, events, sessions)
    assert reports("humans") == [(2, 1), (1, 1)]
    assert reports("bots") == [(1, 1), (1, 1)]
    sqe.erase_visitors(conn, ["keen"])
    che.erase_visitors(clickhouse, ["keen"])
    assert reports("humans") == [(1, 0), (0, 0)]
    assert clickhouse.value("SELECT count() FROM funnel_steps WHERE visitor_id = 'keen'") == 0


def test_a_store_from_before_the_funnel_steps_gets_them_by_migration(tmp_path, clickhouse):
    """Events stored at schema 5 are copied into the funnels' table by the migration; copied twice (two collectors
    migrating at once), each event still counts once."""
    from db.clickhouse import funnel_steps, migrate
    from db.clickhouse.writer import prepare
    from db.records import EVENT_COLUMNS
    from tests.factories import write

    visits = [visit(T0, [(0, "/pricing")], visitor="once"), visit(T0 + 50, [(0, "/pricing"), (10, "/pricing")])]
    conn = new_db(tmp_path / "m.db")
    write(conn, [e for v in visits for e in v.events], [v.session for v in visits])
    clickhouse.command("DROP TABLE funnel_steps")
    clickhouse.command("ALTER TABLE schema_migrations DELETE WHERE version = 6 SETTINGS mutations_sync = 1")
    prepared = prepare(Batch(events=[e.as_row() for v in visits for e in v.events]))
    clickhouse.insert("events", prepared.events, ("id", *EVENT_COLUMNS))  # as a writer of schema 5: events only
    migrate.migrate(clickhouse)
    assert migrate.schema_version(clickhouse) == migrate.latest_version()
    clickhouse.command("SYSTEM STOP MERGES funnel_steps")
    funnel_steps.backfill(clickhouse)
    assert clickhouse.value("SELECT count() FROM funnel_steps") == 6
    span = Span(T0, T0 + DAY)
    for steps in ([{"path": "/pricing"}, {"path": "/pricing"}], [{"path": "/pric*"}, {"path": "/pricing"}]):
        funnel = make_funnel("again", steps)
        result = chf.funnel_report(clickhouse, funnel, span, Filters())
        assert result == sqf.funnel_report(conn, funnel, span, Filters())
        assert [(r.entered, r.converted) for r in result] == [(2, 1), (1, 1)]
