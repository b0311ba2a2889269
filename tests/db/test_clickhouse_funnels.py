"""Funnels on ClickHouse: stored definitions behave as on SQLite, reports equal SQLite's on one dataset."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

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
