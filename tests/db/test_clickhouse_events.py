"""The Events queries on ClickHouse give SQLite's answers on one generated dataset: custom events with visitors
counted per span length, and property values and keys (SQLite reads whole days of long spans from its props
rollup; ClickHouse reads the raw events)."""

from __future__ import annotations

import pytest

from db.clickhouse.queries import events as ch_events
from db.clickhouse.queries import props as ch_props
from db.queries.common import Filters, Span, span_for
from db.rules import HOUR
from db.sqlite.queries import events as sq_events
from db.sqlite.queries import props as sq_props
from tests.db.generated_traffic import NOW, both_engines

SPANS = {
    "1h": span_for("1h", NOW),
    "24h": span_for("24h", NOW),
    "60h": Span(NOW - 60 * HOUR, NOW - 7 * 60.5),
    "7d": span_for("7d", NOW),
    "30d": span_for("30d", NOW),
    "90d": span_for("90d", NOW),
}
FILTERS = {
    "site": Filters("a.example"),
    "all-sites": Filters(None),
    "everyone": Filters(None, bots="all"),
    "bots": Filters("b.example", bots="bots"),
    "country": Filters("a.example", (("country", "DE"),)),
    "exit-page": Filters(None, (("exit_path", "/pricing"),)),
}
CASES = [pytest.param(s, f, id=f"{s}-{f}") for s in SPANS for f in FILTERS]


@pytest.fixture(scope="module")
def engines(tmp_path_factory):
    yield from both_engines(tmp_path_factory)


@pytest.mark.parametrize(("span", "filters"), CASES)
def test_custom_events_and_their_properties_match(engines, span, filters):
    conn, ch, _ = engines
    s, f = SPANS[span], FILTERS[filters]
    assert ch_events.custom_events(ch, s, f) == sq_events.custom_events(conn, s, f)
    for event, prop, where in (
        ("signup", "plan", None),
        ("chat_question", "question", None),
        ("chat_question", "question", {"answered": "false"}),
        ("chat_question", "answered", {"question": 'say "hi" – ü'}),
        ("signup", "missing", None),
    ):
        assert ch_events.property_breakdown(ch, s, f, event, prop, where) == sq_events.property_breakdown(
            conn, s, f, event, prop, where
        ), (event, prop, where)
    for event in ("signup", "chat_question", "nothing"):
        assert ch_events.event_property_keys(ch, s, f, event) == sq_events.event_property_keys(conn, s, f, event)
        assert ch_props.property_keys(ch, s, f, event, 1) == sq_props.property_keys(conn, s, f, event, 1)
        # The Events view's breakdown of every key, read at once on ClickHouse, key by key on SQLite.
        assert ch_events.property_breakdowns(ch, s, f, event, limit=2) == [
            (key, sq_events.property_breakdown(conn, s, f, event, key, limit=2))
            for key in sq_events.event_property_keys(conn, s, f, event)
        ], event


def test_property_values_worked_out_in_python(engines):
    _, ch, traffic = engines
    import orjson

    span, site = SPANS["30d"], "a.example"
    events = [
        e
        for e in traffic.events
        if span.start <= e.ts < span.end and e.site == site and not e.is_bot and e.name == "chat_question"
    ]
    counts: dict[str, int] = {}
    for e in events:
        props = orjson.loads(e.props)
        if props["answered"] == "false":
            counts[props["question"]] = counts.get(props["question"], 0) + 1
    got = ch_events.property_breakdown(ch, span, Filters(site), "chat_question", "question", {"answered": "false"})
    assert {p.value: p.count for p in got} == counts
    assert 'say "hi" – ü' in counts
    assert ch_events.event_property_keys(ch, span, Filters(site), "chat_question") == ["answered", "question"]
    named = {c.name: c.count for c in ch_events.custom_events(ch, span, Filters(site))}
    assert named["chat_question"] == len(events)


def test_short_spans_count_event_visitors_as_distinct_ids(engines):
    _, ch, traffic = engines
    span, site = SPANS["24h"], "a.example"
    signups = [
        e
        for e in traffic.events
        if span.start <= e.ts < span.end and e.site == site and not e.is_bot and e.name == "signup"
    ]
    (row,) = [c for c in ch_events.custom_events(ch, span, Filters(site)) if c.name == "signup"]
    assert (row.count, row.visitors) == (len(signups), len({e.visitor_id for e in signups}))


def test_property_keys_are_the_most_used_first(engines):
    _, ch, _ = engines
    # Both keys come with every chat question: equally used, they are taken in name order.
    assert ch_props.property_keys(ch, SPANS["30d"], Filters("a.example"), "chat_question", 1) == ["answered"]
