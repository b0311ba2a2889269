"""GoAccess-style panels over imported access-log hits: status codes, 404 list, bandwidth per path."""

from __future__ import annotations

from db.queries.common import Filters, Span
from db.queries.requests import StatusRow, status_classes
from db.rules import DAY
from db.sqlite.queries.requests import bandwidth, not_found, status_codes
from tests.factories import SITE, T0, new_db, server_event, write

SPAN = Span(T0, T0 + DAY)
ALL = Filters(site=SITE, bots="all")


def hits(rows: list[tuple[str, int, int, int]], start: float = T0 + 10) -> list:
    return [
        server_event(start + i, "request", path=path, status=status, bytes=size, is_bot=bot, method="GET")
        for i, (path, status, size, bot) in enumerate(rows)
    ]


def seeded(tmp_path):
    conn = new_db(tmp_path / "r.db")
    write(
        conn,
        hits(
            [
                ("/", 200, 1000, 0),
                ("/", 200, 1000, 0),
                ("/big.iso", 200, 5_000_000, 0),
                ("/big.iso", 206, 2_000_000, 0),
                ("/old", 301, 0, 0),
                ("/wp-login.php", 404, 150, 1),
                ("/wp-login.php", 404, 150, 1),
                ("/favicon.ico", 404, 150, 0),
                ("/api/x", 500, 20, 0),
            ]
        )
        # Outside the span, another site, and a server-side api_request: none of them counted.
        + hits([("/", 404, 9, 0)], start=T0 - 100)
        + [server_event(T0 + 50, "request", site="other.org", path="/", status=404, bytes=1)]
        + [server_event(T0 + 60, "api_request", path="/v1", status=404, bytes=1)],
    )
    return conn


def test_status_codes_and_classes(tmp_path):
    conn = seeded(tmp_path)
    codes = status_codes(conn, SPAN, ALL)
    assert codes == [StatusRow(200, 3), StatusRow(404, 3), StatusRow(206, 1), StatusRow(301, 1), StatusRow(500, 1)]
    assert status_classes(codes) == {"1xx": 0, "2xx": 4, "3xx": 1, "4xx": 3, "5xx": 1}
    humans = status_codes(conn, SPAN, Filters(site=SITE))
    assert StatusRow(404, 1) in humans


def test_not_found_list_and_bandwidth(tmp_path):
    conn = seeded(tmp_path)
    assert [(r.path, r.hits) for r in not_found(conn, SPAN, ALL)] == [("/wp-login.php", 2), ("/favicon.ico", 1)]
    rows = bandwidth(conn, SPAN, ALL, 3)
    assert [(r.path, r.hits, r.bytes) for r in rows] == [
        ("/big.iso", 2, 7_000_000),
        ("/", 2, 2000),
        ("/wp-login.php", 2, 300),
    ]


def test_status_is_a_filter(tmp_path):
    conn = seeded(tmp_path)
    only_404 = Filters(site=SITE, dims=(("status", "404"),), bots="all")
    assert status_codes(conn, SPAN, only_404) == [StatusRow(404, 3)]
    assert [r.path for r in bandwidth(conn, SPAN, only_404)] == ["/wp-login.php", "/favicon.ico"]
