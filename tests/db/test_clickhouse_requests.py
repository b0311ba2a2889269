"""The Requests view and the status and user filters on ClickHouse give SQLite's answers on the same generated
data (imported access-log hits with status codes and sizes, server events with user ids)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator

import pytest

from db.clickhouse.queries import overview as ch_overview
from db.clickhouse.queries import requests as ch_requests
from db.clickhouse.queries import server as ch_server
from db.queries.common import Filters, span_for
from db.records import WEB_EVENT_TYPES
from db.sqlite.queries import overview, requests
from tests.db.engine_pair import NOW, Pair, engine_pair


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pair]:
    yield from engine_pair(tmp_path_factory)


RANGES = ("live", "1h", "24h", "7d", "30d", "90d")
FILTERS = [
    Filters(bots="all"),
    Filters(site="example.com", bots="all"),
    Filters(site="shop.example"),
    Filters(bots="bots"),
    Filters(dims=(("country", "DE"),), bots="all"),
    Filters(site="example.com", dims=(("status", "404"),), bots="all"),
    Filters(dims=(("path", "/missing"),), bots="all"),
]


@pytest.mark.parametrize("range_name", RANGES)
@pytest.mark.parametrize("filters", FILTERS)
def test_requests_view_matches(pair: Pair, range_name: str, filters: Filters) -> None:
    span = span_for(range_name, NOW)
    codes = ch_requests.status_codes(pair.ch, span, filters)
    assert codes == requests.status_codes(pair.sqlite, span, filters)
    for limit in (20, 2):
        assert ch_requests.not_found(pair.ch, span, filters, limit) == requests.not_found(
            pair.sqlite, span, filters, limit
        )
        assert ch_requests.bandwidth(pair.ch, span, filters, limit) == requests.bandwidth(
            pair.sqlite, span, filters, limit
        )
    if range_name not in ("live", "1h") and filters.site != "shop.example":
        assert codes


def test_requests_view_by_hand(pair: Pair) -> None:
    span, site = span_for("30d", NOW), "example.com"
    hits = [e for e in pair.data.events if span.start <= e.ts < span.end and e.site == site and e.type == "request"]
    filters = Filters(site=site, bots="all")
    by_status = Counter(e.status for e in hits)
    assert {r.status: r.hits for r in ch_requests.status_codes(pair.ch, span, filters)} == by_status
    assert by_status[404] and by_status[0]  # "not logged" counts as a code of its own ("other")
    assert ch_requests.status_classes(ch_requests.status_codes(pair.ch, span, filters))["other"] == by_status[0]
    missing = Counter(e.path for e in hits if e.status == 404)
    top = ch_requests.not_found(pair.ch, span, filters, 1)[0]
    assert (top.hits, top.bytes) == (
        max(missing.values()), sum(e.bytes for e in hits if e.status == 404 and e.path == top.path)
    )
    sizes: Counter[str] = Counter()
    for e in hits:
        sizes[e.path] += e.bytes
    assert [(r.path, r.bytes) for r in ch_requests.bandwidth(pair.ch, span, filters, 3)] == sorted(
        sizes.items(), key=lambda kv: (-kv[1], kv[0])
    )[:3]


# SQLite compares the text of a status filter with the INTEGER column as a number when it reads as one.
STATUS_VALUES = (
    "404", " 404 ", "404.0", "+404", "0", ".0", "4.04e2", "404.5", "abc", "", "0x194", "99999999999999999999",
)  # fmt: skip


@pytest.mark.parametrize("value", STATUS_VALUES)
def test_status_filter_compares_like_sqlite(pair: Pair, value: str) -> None:
    span = span_for("7d", NOW)
    for filters in (Filters(dims=(("status", value),), bots="all"), Filters("example.com", (("status", value),))):
        assert ch_overview.kpis(pair.ch, span, filters) == overview.kpis(pair.sqlite, span, filters)
        for dimension in ("pages", "status", "countries"):
            assert ch_overview.top(pair.ch, span, filters, dimension) == overview.top(
                pair.sqlite, span, filters, dimension
            )
        assert ch_requests.status_codes(pair.ch, span, filters) == requests.status_codes(pair.sqlite, span, filters)
    got = ch_requests.status_codes(pair.ch, span, Filters(dims=(("status", value),), bots="all"))
    assert [r.status for r in got] == ([404] if value.strip() in ("404", "404.0", "+404", "4.04e2") else
                                       [0] if value in ("0", ".0") else [])


@pytest.mark.parametrize("range_name", ("24h", "30d"))
@pytest.mark.parametrize("user", ("alice", "émile", "mallory", "nobody"))
def test_user_filter_matches(pair: Pair, range_name: str, user: str) -> None:
    span = span_for(range_name, NOW)
    filters = Filters(dims=(("user_id", user),), bots="all")
    assert ch_overview.kpis(pair.ch, span, filters) == overview.kpis(pair.sqlite, span, filters)
    for dimension in ("type", "user_id", "countries"):
        assert ch_overview.top(pair.ch, span, filters, dimension) == overview.top(pair.sqlite, span, filters, dimension)
    rows = ch_overview.top(pair.ch, span, Filters(bots="all"), "user_id", limit=100)
    # Top lists count browser traffic only: a user id sent with server-side events is the Server view's.
    web = [e for e in pair.data.events if span.start <= e.ts < span.end and e.user_id == user
           and e.type in WEB_EVENT_TYPES]
    assert {r.value: r.pageviews for r in rows}.get(user, 0) == len(web)
    api = [e for e in pair.data.events if span.start <= e.ts < span.end and e.user_id == user
           and e.type == "api_request"]
    by_user = {r.user_id: r.requests for r in ch_server.users(pair.ch, span, Filters(), limit=100)}
    assert by_user.get(user, 0) == len(api)
