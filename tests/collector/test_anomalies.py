"""Anomalies: threshold and trend tests, a replayed spike opening and closing one, the webhook and API."""

from __future__ import annotations

import asyncio

import pytest
from aiohttp import web

from collector import keys
from collector.anomalies import (
    check_anomalies,
    evaluate,
    reconcile,
    robust_baseline,
    rules_from_config,
    threshold_level,
    trend_level,
)
from collector.app import create_app
from collector.config import AnomalyConfig, AnomalyRuleConfig, Config, SiteConfig
from db.queries.anomalies import RuleError
from db.queries.common import Span
from db.sqlite.queries.anomalies import add_rule, delete_rule, list_rules, metric_series, metric_value, recent_anomalies
from tests.engines import sqlite_store
from tests.factories import SITE, T0, new_db, server_event, visit, write, write_visits

MIN = 60.0
SPIKE_AT = 120 * MIN


def test_threshold_levels_upper_and_lower_limits():
    assert threshold_level(5, 10, 20) is None
    assert threshold_level(10, 10, 20) == "warning"
    assert threshold_level(25, 10, 20) == "critical"
    assert threshold_level(25, None, 20) == "critical"
    # critical below warning: a lower limit (traffic dropping away)
    assert threshold_level(8, 10, 2) == "warning"
    assert threshold_level(1, 10, 2) == "critical"
    assert threshold_level(50, 10, 2) is None


def test_trend_needs_a_deviation_and_some_volume():
    history = [20, 21, 19, 20, 22, 18, 20, 20, 21, 19, 20, 20]
    assert robust_baseline(history)[0] == 20
    assert trend_level(22, 22, history, 20, 3.0, 20) == (None, 20)
    assert trend_level(45, 45, history, 20, 3.0, 20)[0] == "warning"  # z = 25 / 4.47 > 3
    assert trend_level(80, 80, history, 20, 3.0, 20)[0] == "critical"  # z > 6
    assert trend_level(0, 0, history, 20, 3.0, 20)[0] == "warning"  # the site went quiet (z = 4.5)
    quiet = [1, 0, 2, 1, 0, 1, 1, 0, 0, 1, 2, 1]
    assert trend_level(9, 9, quiet, 1, 3.0, 20)[0] is None  # too little traffic to judge


def test_against_an_expected_zero_only_the_explicit_floor_counts():
    zeros = [0.0] * 12
    assert trend_level(30, 30, zeros, 0, 3.0, 20, zero_floor=50) == (None, 0.0)  # z would be 30: critical
    assert trend_level(50, 50, zeros, 0, 3.0, 20, zero_floor=50) == ("warning", 0.0)
    assert trend_level(100, 100, zeros, 0, 3.0, 20, zero_floor=50) == ("critical", 0.0)


def steady_traffic(conn, minutes: int, spike_at: float | None = None) -> None:
    """A fresh site's traffic from T0: 4 people, 1 crawler and 2 API calls a minute; 300 extra visits in the
    five minutes from `spike_at` (seconds after T0)."""
    visits, api = [], []
    for m in range(minutes):
        for k in range(4):
            visits.append(visit(T0 + m * MIN + k * 15, [(0, "/")], visitor=f"h{m}-{k}"))
        visits.append(visit(T0 + m * MIN + 7, [(0, "/robots.txt")], visitor=f"b{m}", is_bot=1, bot_name="Bot"))
        api += [server_event(T0 + m * MIN + k * 30, "api_request", latency_ms=40.0 + k, status=200)
                for k in range(2)]
    if spike_at is not None:
        visits += [visit(T0 + spike_at + i, [(0, "/landing")], visitor=f"s{i}") for i in range(300)]
    write_visits(conn, visits)
    write(conn, api)


def test_a_fresh_database_opens_no_trend_anomaly_before_it_has_an_hour_of_history(tmp_path):
    conn = new_db(tmp_path / "fresh.db")
    store = sqlite_store(conn)
    steady_traffic(conn, 100, spike_at=80 * MIN)
    cfg = AnomalyConfig(min_volume=20, trend_factor=3.0)
    opened = []
    for minute in range(1, 100):
        now = T0 + minute * MIN
        for change in reconcile(store, evaluate(store, cfg, [], [SITE], now), now):
            if change.action == "open":
                opened.append((minute, change.anomaly.metric, change.anomaly.level))
    assert opened, "the spike after the first hour was not seen"
    assert all(81 <= minute <= 85 for minute, _, _ in opened), opened  # only the spike, nothing before it
    # the spike's own effects: more pageviews and sessions, and the crawler's share diluted
    assert {metric for _, metric, _ in opened} <= {"pageviews", "sessions", "bot_ratio"}


def test_the_first_hour_is_not_judged_even_with_a_spike(tmp_path):
    conn = new_db(tmp_path / "early.db")
    store = sqlite_store(conn)
    steady_traffic(conn, 40, spike_at=20 * MIN)
    cfg = AnomalyConfig(min_volume=20, trend_factor=3.0)
    for minute in range(1, 40):
        now = T0 + minute * MIN
        assert [f for f in evaluate(store, cfg, [], [SITE], now) if f.level is not None] == [], minute


def replay(conn) -> None:
    """Two hours and forty minutes of steady traffic (4 pageviews a minute) with a 5-minute spike at 2 h."""
    visits = []
    for i in range(int(160 * MIN // 15)):
        visits.append(visit(T0 + i * 15, [(0, "/")], visitor=f"v{i}"))
    for i in range(300):
        visits.append(visit(T0 + SPIKE_AT + i, [(0, "/landing")], visitor=f"s{i}"))
    write_visits(conn, visits)


def test_a_replayed_spike_opens_and_later_closes_an_anomaly(tmp_path):
    conn = new_db(tmp_path / "a.db")
    replay(conn)
    cfg = AnomalyConfig(min_volume=20, trend_factor=3.0)
    rules = rules_from_config(
        [AnomalyRuleConfig(metric="pageviews", window_s=300, warning=100, critical=250, name="busy")]
    )
    history = []
    for minute in range(65, 160):
        now = T0 + minute * MIN
        for change in reconcile(sqlite_store(conn), evaluate(sqlite_store(conn), cfg, rules, [SITE], now), now):
            history.append(
                (minute, change.action, change.anomaly.kind, change.anomaly.metric, change.anomaly.level)
            )
    trend = [h for h in history if h[2] == "trend" and h[3] == "pageviews"]
    assert trend[0][:2] == (121, "open") and trend[0][4] == "critical"
    assert trend[-1][:2] == (130, "close")  # the first window without spike traffic
    rule = [h for h in history if h[2] == "threshold"]
    # 76 pageviews at 121, 136 at 122 (warning), 256 at 124 (critical)
    assert [h[:2] + (h[4],) for h in rule] == [
        (122, "open", "warning"),
        (124, "update", "critical"),
        (127, "update", "warning"),
        (129, "close", "warning"),
    ]
    assert not sqlite_store(conn).open_anomalies()
    past = recent_anomalies(conn, Span(T0, T0 + 200 * MIN), 10)
    spike = next(a for a in past if a.kind == "trend" and a.metric == "pageviews")
    assert spike.observed >= 250 and spike.expected == 20 and spike.ended is not None
    assert {h[3] for h in history} <= {"pageviews", "sessions"}  # nothing else flapped


def test_metrics_of_server_side_events(tmp_path):
    conn = new_db(tmp_path / "m.db")
    write(
        conn,
        [
            server_event(T0 + i, "api_request", latency_ms=float(i + 1), status=503 if i % 4 == 0 else 200)
            for i in range(40)
        ]
        + [server_event(T0 + 1, "event", name="signup")],
    )
    assert metric_value(conn, "error_rate", SITE, T0, T0 + 60) == (25.0, 40)
    assert metric_value(conn, "p95_latency", "", T0, T0 + 60) == (38.0, 40)
    assert metric_value(conn, "event:signup", SITE, T0, T0 + 60) == (1.0, 1)
    assert metric_series(conn, "error_rate", SITE, Span(T0, T0 + 120))[0] == (T0, 25.0)


def test_rules_in_the_database(tmp_path):
    conn = new_db(tmp_path / "r.db")
    rule = add_rule(conn, "bot_ratio", 600, 50, 80, site=SITE, name="bots")
    assert list_rules(conn) == [rule]
    with pytest.raises(RuleError, match="accepted: pageviews"):
        add_rule(conn, "cpu", 60, 1, 2)
    with pytest.raises(RuleError, match="warning level"):
        add_rule(conn, "pageviews", 60, None, None)
    assert delete_rule(conn, rule.id) and list_rules(conn) == []


async def test_the_service_stores_anomalies_calls_the_webhook_and_serves_them(
    tmp_path, aiohttp_client, aiohttp_server
):
    received: list[dict] = []

    async def hook(request: web.Request) -> web.Response:
        received.append(await request.json())
        return web.Response(status=204)

    receiver = web.Application()
    receiver.router.add_post("/hook", hook)
    server = await aiohttp_server(receiver)
    cfg = Config.for_tests(tmp_path / "s.db")
    cfg.sites = [SiteConfig(SITE)]
    cfg.anomalies = AnomalyConfig(interval_s=3600, webhook_url=str(server.make_url("/hook")), min_volume=20)
    conn = new_db(cfg.db_path)
    replay(conn)
    conn.close()
    client = await aiohttp_client(create_app(cfg))
    app = client.server.app

    opened = await check_anomalies(app, now=T0 + SPIKE_AT + 4 * MIN)
    assert any(c.action == "open" and c.anomaly.metric == "pageviews" for c in opened)
    resp = await client.get("/api/anomalies?range=all", headers={"Authorization": "Bearer test-admin-token"})
    assert resp.status == 200
    body = await resp.json()
    assert any(a["metric"] == "pageviews" and a["kind"] == "trend" for a in body["open"])
    assert (await client.get("/api/anomalies")).status == 401

    closed = await check_anomalies(app, now=T0 + SPIKE_AT + 12 * MIN)
    assert {c.action for c in closed} == {"close"}
    for _ in range(50):
        if len(received) >= len(opened) + len(closed):
            break
        await asyncio.sleep(0.02)
    events = [r["event"] for r in received]
    assert events.count("anomaly.opened") == len(opened) and events.count("anomaly.closed") == len(closed)
    assert received[0]["anomaly"]["site"] == SITE and received[0]["anomaly"]["ended"] is None
    assert not app[keys.STORE].open_anomalies()


async def test_a_dead_webhook_is_logged_not_raised(tmp_path, aiohttp_client, caplog):
    cfg = Config.for_tests(tmp_path / "s.db")
    cfg.anomalies = AnomalyConfig(interval_s=3600, webhook_url="http://127.0.0.1:9/nothing", min_volume=20)
    conn = new_db(cfg.db_path)
    replay(conn)
    conn.close()
    client = await aiohttp_client(create_app(cfg))
    changes = await check_anomalies(client.server.app, now=T0 + SPIKE_AT + 4 * MIN)
    assert changes and "anomaly webhook failed" in caplog.text


def test_recent_anomalies_filter_by_site_before_the_limit_and_put_open_ones_first(tmp_path):
    from db.sqlite.queries.anomalies import close_anomaly, insert_anomaly

    conn = new_db(tmp_path / "recent.db")
    mine = insert_anomaly(conn, "threshold", "r", "pageviews", "mine.example", "warning", 50, 10, T0)
    close_anomaly(conn, mine.id, T0 + MIN)
    for i in range(5):  # newer anomalies of another site would push it past a limit applied before filtering
        insert_anomaly(conn, "trend", "", "sessions", "other.example", "critical", 9, 1, T0 + (i + 2) * MIN)
    everywhere = insert_anomaly(conn, "threshold", "r", "bot_ratio", "", "warning", 80, 50, T0 - MIN)
    span = Span(T0 - 10 * MIN, T0 + 10 * MIN)
    found = recent_anomalies(conn, span, 2, site="mine.example", open_first=True)
    assert [a.id for a in found] == [everywhere.id, mine.id]  # the open one first, though it started earlier
