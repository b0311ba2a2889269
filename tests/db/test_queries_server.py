"""Server/API and Bots statistics on small fixed datasets, against hand counts."""

from __future__ import annotations

import json

from db.queries.bots import BotRow, DropRow
from db.queries.common import Filters, Span
from db.queries.server import CostRow, EndpointRow, LoginRow
from db.rules import DAY, HOUR
from db.sqlite.queries.bots import bot_share, drops_by_level, top_bots, top_fingerprints
from db.sqlite.queries.server import endpoints, external_costs, failed_logins
from tests.factories import SITE, T0, new_db, server_event, visit, write, write_visits

SPAN = Span(T0, T0 + DAY)


def test_endpoints_have_percentiles_and_error_rates(tmp_path):
    conn = new_db(tmp_path / "s.db")
    events = [
        server_event(
            T0 + i,
            "api_request",
            method="GET",
            path="/v1/items",
            latency_ms=float(i + 1),
            status=500 if i < 5 else 200,
        )
        for i in range(100)
    ]
    events += [server_event(T0 + 5, "api_request", method="POST", path="/v1/items", latency_ms=7.0, status=201)]
    events += [server_event(T0 - 5, "api_request", method="GET", path="/v1/old", latency_ms=1.0, status=200)]
    write(conn, events)
    assert endpoints(conn, SPAN, Filters(site=SITE), 10) == [
        EndpointRow("GET", "/v1/items", 100, 50.0, 95.0, 99.0, 5.0),
        EndpointRow("POST", "/v1/items", 1, 7.0, 7.0, 7.0, 0.0),
    ]


def test_failed_logins_by_source_and_external_costs(tmp_path):
    conn = new_db(tmp_path / "s.db")
    write(
        conn,
        [
            server_event(T0 + 1, "auth", name="login", success=0, ip="203.0.113.9"),
            server_event(T0 + 2, "auth", name="login", success=0, ip="203.0.113.9"),
            server_event(T0 + 3, "auth", name="login", success=1, ip="203.0.113.9"),
            server_event(T0 + 4, "auth", name="login", success=0, fingerprint="fp1"),
            server_event(T0 + 5, "external_call", name="openai", cost_usd=0.25, latency_ms=800.0),
            server_event(T0 + 6, "external_call", name="openai", cost_usd=0.5, latency_ms=1200.0),
            server_event(T0 + 7, "external_call", name="stripe", cost_usd=0.0, latency_ms=90.0),
        ],
    )
    assert failed_logins(conn, SPAN, Filters(), 10) == [LoginRow("203.0.113.9", 2), LoginRow("fp1", 1)]
    assert external_costs(conn, SPAN, Filters(site=SITE)) == [
        CostRow("openai", 2, 0.75, 1200.0),
        CostRow("stripe", 1, 0.0, 90.0),
    ]


def test_bots_view(tmp_path):
    conn = new_db(tmp_path / "s.db")
    crawler = visit(
        T0 + HOUR,
        [(0, "/"), (1, "/a")],
        visitor="g",
        is_bot=1,
        bot_name="Googlebot",
        fingerprint="fp-g",
        type="request",
    )
    scraper = visit(
        T0 + 2 * HOUR,
        [(i, f"/p{i}") for i in range(6)],
        visitor="s",
        is_bot=1,
        fingerprint="fp-s",
        bot_signals=json.dumps([{"name": "high_request_count", "weight": 30, "value": 60}]),
    )
    human = visit(T0 + 3 * HOUR, [(0, "/")], visitor="h")
    write_visits(conn, [crawler, scraper, human])
    conn.execute(
        "INSERT INTO fingerprints (fingerprint, first_seen, last_seen, sessions, requests, max_score, flags, "
        "level, ua, bot_name) VALUES ('fp-s', ?, ?, 1, 6, 65, '[\"probe\"]', 'severe', 'curl/8', '')",
        (T0, T0 + 2 * HOUR),
    )
    conn.execute(
        "INSERT INTO throttle_drops VALUES (?, 'blocked', 'override', 4), (?, 'severe', 'rate', 2)",
        (int(T0 + 60), int(T0 + 120)),
    )
    assert top_bots(conn, SPAN, Filters(site=SITE), 10) == [
        BotRow("behavioural", 1, 6),
        BotRow("Googlebot", 1, 2),
    ]
    fps = top_fingerprints(conn, SPAN, 10)
    assert [(f.fingerprint, f.max_score, f.level) for f in fps] == [("fp-s", 65, "severe")]
    assert fps[0].signals == ("high_request_count +30", "probe")
    assert drops_by_level(conn, SPAN) == [DropRow("blocked", "override", 4), DropRow("severe", "rate", 2)]
    assert bot_share(conn, SPAN, Filters(site=SITE)) == round(100 * 8 / 9, 2)


def test_long_spans_read_latency_histograms_within_two_percent(tmp_path):
    conn = new_db(tmp_path / "s.db")
    latencies = [float(i % 400 + 1) for i in range(2000)]
    write(
        conn,
        [
            server_event(
                T0 + 3 * HOUR + i * 300,  # a week of requests, so most of them sit in whole days
                "api_request",
                method="GET",
                path="/v1/items",
                latency_ms=ms,
                status=503 if i % 50 == 0 else 200,
            )
            for i, ms in enumerate(latencies)
        ],
    )
    week = Span(T0 + HOUR, T0 + 8 * DAY)
    exact = endpoints(conn, week, Filters(site=SITE), rollups=False)
    approx = endpoints(conn, week, Filters(site=SITE))
    assert exact == [EndpointRow("GET", "/v1/items", 2000, 200.0, 380.0, 396.0, 2.0)]
    assert (approx[0].requests, approx[0].error_rate) == (2000, 2.0)  # counts stay exact
    for got, want in zip((approx[0].p50, approx[0].p95, approx[0].p99), (200.0, 380.0, 396.0), strict=True):
        assert abs(got - want) <= 0.022 * want


def test_users_requests_cost_and_daily_active_users(tmp_path):
    from db.queries.server import UserRow
    from db.sqlite.queries.server import active_users, daily_active_users, users

    conn = new_db(tmp_path / "u.db")
    write(
        conn,
        [
            server_event(T0 + 1, "api_request", method="GET", path="/v1/a", status=200, user_id="alice"),
            server_event(T0 + 2, "api_request", method="GET", path="/v1/a", status=503, user_id="alice"),
            server_event(T0 + 3, "external_call", name="openai", cost_usd=0.25, user_id="alice"),
            server_event(T0 + DAY + 4, "api_request", method="GET", path="/v1/a", status=200, user_id="alice"),
            server_event(T0 + 5, "api_request", method="GET", path="/v1/a", status=200, user_id="bob"),
            server_event(T0 + 6, "external_call", name="openai", cost_usd=1.5, user_id="bob"),
            server_event(T0 + 7, "external_call", name="maps", cost_usd=0.5, user_id="bob"),
            # A failed login names a user without making them active; anonymous requests have no user.
            server_event(T0 + DAY + 8, "auth", name="login", success=0, user_id="carol"),
            server_event(T0 + DAY + 9, "auth", name="login", success=1, user_id="bob"),
            server_event(T0 + 10, "api_request", method="GET", path="/v1/a", status=200),
        ],
    )
    two_days = Span(T0, T0 + 2 * DAY)
    assert users(conn, two_days, Filters(site=SITE)) == [
        UserRow("alice", 3, 1, 1, 0.25, 2),
        UserRow("bob", 1, 0, 2, 2.0, 2),
    ]
    assert daily_active_users(conn, two_days, Filters()) == [(int(T0), 2), (int(T0 + DAY), 2)]
    assert active_users(conn, two_days, Filters()) == 2
    only_bob = Filters(dims=(("user_id", "bob"),))
    assert [u.user_id for u in users(conn, two_days, only_bob)] == ["bob"]
