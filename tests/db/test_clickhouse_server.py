"""The Server/API view on ClickHouse gives SQLite's answers on the same generated data: exactly where SQLite
reads raw rows, and within SQLite's own 2.2 % latency-histogram bound where it reads rollups (ClickHouse is exact
for every span, so it equals SQLite's raw-row answers there)."""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path

import pytest

from db.clickhouse.queries import server as ch_server
from db.queries.common import Filters, Span, span_for
from db.rules import DAY, ERROR_STATUS
from db.sqlite.queries import server
from tests.db.engine_pair import NOW, Pair, engine_pair
from tests.engines import ch_write
from tests.factories import T0, new_db, server_event, write


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pair]:
    yield from engine_pair(tmp_path_factory)


RANGES = ("live", "1h", "24h", "7d", "30d", "90d")
FILTERS = [
    Filters(),
    Filters(site="example.com"),
    Filters(site="shop.example", bots="bots"),  # server events are not bot-scored: the switch changes nothing
    Filters(dims=(("country", "DE"),)),
    Filters(site="example.com", dims=(("country", "FR"),)),
]
HISTOGRAM_ERROR = 0.022
"""How far SQLite's long-span percentiles may be from the exact ones (tests/db/test_queries_server.py)."""


def _close(got: float, want: float) -> bool:
    return abs(got - want) <= HISTOGRAM_ERROR * want + 1e-9


@pytest.mark.parametrize("range_name", RANGES)
@pytest.mark.parametrize("filters", FILTERS)
def test_server_view_matches(pair: Pair, range_name: str, filters: Filters) -> None:
    span = span_for(range_name, NOW)
    exact = server.endpoints(pair.sqlite, span, filters, rollups=False)
    got = ch_server.endpoints(pair.ch, span, filters)
    assert got == exact
    assert ch_server.endpoints(pair.ch, span, filters, 2) == exact[:2]
    sqlite_default = server.endpoints(pair.sqlite, span, filters)
    assert [(r.method, r.endpoint, r.requests, r.error_rate) for r in got] == [
        (r.method, r.endpoint, r.requests, r.error_rate) for r in sqlite_default
    ]
    for g, s in zip(got, sqlite_default, strict=True):
        assert _close(g.p50, s.p50) and _close(g.p95, s.p95) and _close(g.p99, s.p99)

    assert ch_server.failed_logins(pair.ch, span, filters) == server.failed_logins(pair.sqlite, span, filters)
    assert ch_server.failed_logins(pair.ch, span, filters, 1) == server.failed_logins(pair.sqlite, span, filters, 1)

    got_costs = ch_server.external_costs(pair.ch, span, filters)
    for want_costs in (
        server.external_costs(pair.sqlite, span, filters, rollups=False),
        server.external_costs(pair.sqlite, span, filters),
    ):
        assert [(c.service, c.calls) for c in got_costs] == [(c.service, c.calls) for c in want_costs]
        for g, w in zip(got_costs, want_costs, strict=True):
            assert g.cost_usd == pytest.approx(w.cost_usd, abs=1e-6)
    for g, w in zip(got_costs, server.external_costs(pair.sqlite, span, filters, rollups=False), strict=True):
        assert g.p95 == w.p95
    if range_name not in ("live", "1h") and not filters.dims:
        assert got and got_costs


@pytest.mark.parametrize("range_name", RANGES)
@pytest.mark.parametrize("filters", [*FILTERS, Filters(dims=(("user_id", "bob"),)), Filters(dims=(("status", "500"),))])
def test_users_match(pair: Pair, range_name: str, filters: Filters) -> None:
    span = span_for(range_name, NOW)
    for limit in (20, 2):
        assert ch_server.users(pair.ch, span, filters, limit) == server.users(pair.sqlite, span, filters, limit)
    daily = ch_server.daily_active_users(pair.ch, span, filters)
    assert daily == server.daily_active_users(pair.sqlite, span, filters)
    active = ch_server.active_users(pair.ch, span, filters)
    assert active == server.active_users(pair.sqlite, span, filters)
    if range_name not in ("live", "1h") and not filters.dims:
        assert active > 0 and daily


def test_users_by_hand(pair: Pair) -> None:
    span = span_for("30d", NOW)
    events = [
        e for e in pair.data.events
        if span.start <= e.ts < span.end and e.site == "example.com" and e.user_id
        and e.type in ("api_request", "auth", "external_call") and not (e.type == "auth" and not e.success)
    ]
    got = {u.user_id: u for u in ch_server.users(pair.ch, span, Filters(site="example.com"), limit=100)}
    assert set(got) == {e.user_id for e in events} == {"alice", "bob", "carol", "dave", "émile"}  # no "mallory"
    mine = [e for e in events if e.user_id == "émile"]
    calls = [e for e in mine if e.type == "external_call"]
    assert (got["émile"].requests, got["émile"].errors, got["émile"].calls, got["émile"].days_active) == (
        sum(e.type == "api_request" for e in mine),
        sum(e.type == "api_request" and e.status >= ERROR_STATUS for e in mine),
        len(calls),
        len({int(e.ts) // DAY for e in mine}),
    )
    assert got["émile"].cost_usd == pytest.approx(sum(e.cost_usd for e in calls), abs=1e-6)
    daily = ch_server.daily_active_users(pair.ch, span, Filters(site="example.com"))
    per_day: dict[int, set[str]] = {}
    for e in events:
        per_day.setdefault(int(e.ts) // DAY * DAY, set()).add(e.user_id)
    assert daily == sorted((day, len(users)) for day, users in per_day.items())
    assert ch_server.active_users(pair.ch, span, Filters(site="example.com")) == 5


def test_user_costs_round_halves_as_sqlite_does(clickhouse: object, tmp_path: Path) -> None:
    """SQLite's users query ranks by cost in billionths of a dollar rounded in SQL (halves away from zero, not to
    even): 2.5 of them outrank 2, and 0.5 outranks 0."""
    events = [
        server_event(T0 + i, "external_call", user_id=user, name="openai", cost_usd=cost)
        for i, (user, cost) in enumerate((("a", 2e-9), ("b", 2.5e-9), ("c", 5e-10), ("d", 0.0)))
    ]
    conn = new_db(tmp_path / "s.db")
    write(conn, events)
    ch_write(clickhouse, events)
    span = Span(T0, T0 + 60)
    got = ch_server.users(clickhouse, span, Filters())
    assert got == server.users(conn, span, Filters())
    assert [u.user_id for u in got] == ["b", "a", "c", "d"]


def test_server_view_by_hand(pair: Pair) -> None:
    span = span_for("30d", NOW)
    events = [e for e in pair.data.events if span.start <= e.ts < span.end and e.site == "example.com"]
    calls = [e for e in events if e.type == "api_request" and (e.method, e.path) == ("GET", "/v1/items")]
    latencies = sorted(e.latency_ms for e in calls)
    rank = max(1, math.ceil(0.95 * len(latencies)))
    row = next(r for r in ch_server.endpoints(pair.ch, span, Filters(site="example.com")) if r.method == "GET"
               and r.endpoint == "/v1/items")
    assert (row.requests, row.p95) == (len(calls), latencies[rank - 1])
    assert row.error_rate == round(100.0 * sum(e.status >= ERROR_STATUS for e in calls) / len(calls), 2)
    failures = [e for e in events if e.type == "auth" and not e.success]
    by_source: dict[str, int] = {}
    for e in failures:
        source = e.ip or e.fingerprint or e.country or "unknown"
        by_source[source] = by_source.get(source, 0) + 1
    got = ch_server.failed_logins(pair.ch, span, Filters(site="example.com"))
    assert {r.source: r.failures for r in got} == by_source
    openai = [e for e in events if e.type == "external_call" and e.name == "openai"]
    costs = ch_server.external_costs(pair.ch, span, Filters(site="example.com"))
    cost = next(c for c in costs if c.service == "openai")
    assert (cost.calls, cost.cost_usd) == (len(openai), pytest.approx(sum(e.cost_usd for e in openai), abs=1e-6))
