"""GoAccess-style panels over imported access-log hits: status codes, 404 list, bandwidth per path."""

from __future__ import annotations

from db.queries.common import Filters, Span
from db.queries.requests import StatusRow, status_classes
from db.rules import DAY, HOUR
from db.sqlite.queries.erase import erase_visitors
from db.sqlite.queries.requests import bandwidth, not_found, status_codes
from db.sqlite.retention import purge
from tests.factories import SITE, T0, new_db, server_event, visit, write

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


def test_whole_days_come_from_the_rollup_after_retention_and_erasure(tmp_path):
    """Like every other rollup, the daily request counts outlive the raw hits retention or erasure deletes, and
    go when the rollups' own retention says so."""
    conn = new_db(tmp_path / "r.db")
    rows = [("/", 200, 100, 0), ("/gone", 404, 10, 0), ("/gone", 404, 10, 1), ("/big", 200, 9_000, 0)]
    events = [e for day in range(3) for e in hits(rows, T0 + day * DAY + 60)]
    for i, e in enumerate(events):
        e.visitor_id = "erased" if i % 4 == 1 else "kept"
    write(conn, events, [])
    week = Span(T0, T0 + 7 * DAY)
    before = (status_codes(conn, week, ALL), not_found(conn, week, ALL), bandwidth(conn, week, ALL))
    assert before[0] == [StatusRow(200, 6), StatusRow(404, 6)]
    assert [(r.path, r.hits, r.bytes) for r in before[1]] == [("/gone", 6, 60)]
    erase_visitors(conn, ["erased"])
    purge(conn, T0 + 4 * DAY, raw_days=2, rollup_days=0)  # the first two days' raw hits go
    assert conn.execute("SELECT count(*) FROM events").fetchone()[0] == 3
    assert (status_codes(conn, week, ALL), not_found(conn, week, ALL), bandwidth(conn, week, ALL)) == before
    assert status_codes(conn, week, ALL, rollups=False) == [StatusRow(200, 2), StatusRow(404, 1)]
    # A span ending mid-day reads that day raw: its erased hit is gone from it.
    assert status_codes(conn, Span(T0, T0 + 2 * DAY + HOUR), ALL) == [StatusRow(200, 6), StatusRow(404, 5)]
    purge(conn, T0 + 4 * DAY, raw_days=0, rollup_days=2)  # now the first two days' rollups go too
    # The third day's rollup still counts its erased hit (counts, no visitor), as every rollup does.
    assert status_codes(conn, week, ALL) == [StatusRow(200, 2), StatusRow(404, 2)]


def test_a_session_turning_bot_moves_its_rolled_up_hits_to_the_bots(tmp_path):
    conn = new_db(tmp_path / "r.db")
    early = visit(T0 + 60, [(0, "/a"), (5, "/b")], type="request", status=404, bytes=7, session_id=77)
    write(conn, early.events, [early.session])
    week, humans, bots = Span(T0, T0 + 7 * DAY), Filters(SITE), Filters(SITE, bots="bots")
    assert [(r.path, r.hits) for r in not_found(conn, week, humans)] == [("/a", 1), ("/b", 1)]
    later = visit(T0 + 60, [(0, "/a"), (5, "/b"), (9, "/c")], type="request", status=404, bytes=7, session_id=77,
                  is_bot=1)  # fmt: skip
    write(conn, later.events[2:], [later.session])
    assert not_found(conn, week, humans) == [] == not_found(conn, week, humans, rollups=False)
    assert [(r.path, r.hits) for r in not_found(conn, week, bots)] == [("/a", 1), ("/b", 1), ("/c", 1)]
    assert conn.execute("SELECT count(*) FROM rollup_requests WHERE is_bot = 0").fetchone()[0] == 0
