"""Funnel reports read only the events a step can match, through narrow indexes, and still give exactly what
matching every event of every visitor gives."""

from __future__ import annotations

import json
import random

import pytest

from db.funnels import make_funnel, match_journey, summarise
from db.queries.common import Filters, Span, event_where
from db.queries.funnels import _after_prefix, _literal_prefix
from db.rules import DAY
from db.sqlite.queries import funnels as sqf
from db.sqlite.queries.funnels import funnel_report
from tests.factories import SITE, T0, new_db, visit, write_visits

PATHS = ["/", "/pricing", "/pricing/team", "/prices", "/signup", "/blog/a", "/blog/b", "/docs/x", "/é/ü"]
FUNNELS = [
    make_funnel("exact", [{"path": "/pricing"}, {"path": "/signup"}, {"event": "signup"}], 600),
    make_funnel("globs", [{"path": "/pric*"}, {"path": "/blog/*"}, {"event": "signup", "props": {"plan": "pro"}}]),
    make_funnel("classes", [{"path": "/pric[e]s"}, {"path": "*"}, {"path": "/[!p]*"}], 300),
    make_funnel("suffix", [{"path": "*/team"}, {"path": "/?ignup"}], 900),
    make_funnel("unicode", [{"path": "/é/*"}, {"event": "chat"}], 900),
]


@pytest.fixture
def conn(tmp_path):
    conn = new_db(tmp_path / "f.db")
    rng = random.Random(5)
    visits = []
    for _ in range(300):
        start = T0 + rng.uniform(0, 3 * DAY)
        pages = [(rng.uniform(0, 900), rng.choice(PATHS)) for _ in range(rng.randint(1, 6))]
        custom = [
            (rng.uniform(0, 900), rng.choice(["signup", "chat"]), rng.choice([{}, {"plan": "pro"}, {"plan": "x"}]))
            for _ in range(rng.randint(0, 2))
        ]
        visits.append(
            visit(
                start,
                pages,
                custom=custom,
                visitor=f"v{rng.randint(0, 150)}" if rng.random() < 0.9 else "",
                site=rng.choice([SITE, SITE, "other.example"]),
                is_bot=int(rng.random() < 0.2),
                country=rng.choice(["DE", "US"]),
            )
        )
    write_visits(conn, visits)
    yield conn
    conn.close()


def reference(conn, funnel, span, filters):
    """Every event of the span, every visitor: the slow, obviously right answer."""
    bots = {"humans": (0,), "bots": (1,), "all": (0, 1)}[filters.bots]
    site = funnel.site or filters.site
    journeys: dict[str, list] = {}
    for ts, type_, path, name, props, visitor, session, country, ev_site, is_bot in conn.execute(
        "SELECT ts, type, path, name, props, visitor_id, session_id, country, site, is_bot FROM events "
        "WHERE ts >= ? AND ts < ? ORDER BY ts, id",
        (span.start, span.end),
    ):
        if is_bot not in bots or (site and ev_site != site):
            continue
        if any(dim == "country" and country != value for dim, value in filters.dims):
            continue
        parsed = json.loads(props) if props else {}
        journeys.setdefault(visitor or f"session:{session}", []).append((ts, type_, path, name, parsed))
    return summarise(funnel, (match_journey(funnel, hits) for hits in journeys.values()))


@pytest.mark.parametrize("max_rows", [sqf.MAX_ROWS, 0], ids=["events-in-python", "first-only-counted"])
@pytest.mark.parametrize("funnel", FUNNELS, ids=lambda f: f.name)
def test_reports_equal_matching_every_event(conn, funnel, max_rows, monkeypatch):
    """Whether a report's events all come to Python or SQL first counts the visitors who can only reach the first
    step (above MAX_ROWS events), it equals matching every event."""
    monkeypatch.setattr(sqf, "MAX_ROWS", max_rows)
    span = Span(T0 + 0.5 * DAY, T0 + 2.7 * DAY)
    checked = 0
    for filters in (
        Filters(site=SITE),
        Filters(),
        Filters(site=SITE, bots="bots"),
        Filters(bots="all"),
        Filters(site=SITE, dims=(("country", "DE"),)),
    ):
        got = funnel_report(conn, funnel, span, filters)
        assert got == reference(conn, funnel, span, filters), filters
        checked += got[0].entered
    assert checked > 20  # real journeys were compared, not empty reports


def test_too_many_candidates_are_matched_row_by_row(conn, monkeypatch):
    """Above MAX_CANDIDATES distinct candidates of an inexact step, every candidate row is matched in Python
    instead of binding the decided candidates into the queries: the reports stay the same."""
    monkeypatch.setattr(sqf, "MAX_CANDIDATES", 1)
    span = Span(T0 + 0.5 * DAY, T0 + 2.7 * DAY)
    for funnel in FUNNELS[1:4]:  # globs, classes, suffix: several distinct candidates each
        for filters in (Filters(site=SITE), Filters(bots="all"), Filters(site=SITE, dims=(("country", "DE"),))):
            assert sqf._arms(conn, funnel, filters.bots == "humans", event_where(span, filters)) is None
            assert funnel_report(conn, funnel, span, filters) == reference(conn, funnel, span, filters)


def test_glob_prefixes_bound_the_index_range():
    assert _literal_prefix("/blog/*") == "/blog/"
    assert _literal_prefix("/pric[e]s") == "/pric"
    assert _literal_prefix("*x") == ""
    assert _literal_prefix("/exact") == "/exact"
    assert _after_prefix("/blog/") == "/blog0"
    assert _after_prefix("a\U0010ffff") == "b"
    assert _after_prefix("\U0010ffff") is None
    assert _after_prefix("\ud7ff") == "\ue000"
