"""The admin read API: /api/stats numbers, token checks, clear 400s, and storage figures in /healthz."""

from __future__ import annotations

import time

import pytest

from collector.app import create_app
from collector.config import Config
from tests.factories import SITE, new_db, visit, write_visits

AUTH = {"Authorization": "Bearer test-admin-token"}


@pytest.fixture
async def api(tmp_path, aiohttp_client):
    cfg = Config.for_tests(tmp_path / "a.db")
    cfg.anomalies.enabled = False
    now = time.time()
    conn = new_db(cfg.db_path)
    write_visits(
        conn,
        [
            visit(
                now - 3600,
                [(0, "/"), (60, "/pricing")],
                visitor="a",
                country="DE",
                browser="Firefox",
                ref_source="Google",
                ref_medium="search",
            ),
            visit(now - 1800, [(0, "/")], visitor="b", country="US", browser="Chrome", ref_medium="direct"),
            visit(
                now - 120, [(0, "/blog")], visitor="c", country="US", browser="Chrome", ref_medium="direct"
            ),
            visit(
                now - 600,
                [(0, "/"), (1, "/x")],
                visitor="bot",
                is_bot=1,
                bot_name="Googlebot",
                type="request",
            ),
            visit(now - 3 * 86400, [(0, "/old")], visitor="d", country="FR"),
            visit(now - 3600, [(0, "/")], visitor="e", site="other.org"),
        ],
    )
    conn.close()
    return await aiohttp_client(create_app(cfg))


async def test_stats_return_the_overview_numbers(api):
    resp = await api.get(f"/api/stats?site={SITE}&range=24h", headers=AUTH)
    assert resp.status == 200
    body = await resp.json()
    assert (body["visitors"], body["sessions"], body["pageviews"], body["bots"]) == (3, 3, 4, 2)
    assert body["bounce_rate"] == pytest.approx(66.67)
    assert body["avg_duration_s"] == 20.0
    assert body["live_visitors"] == 1
    assert body["top_pages"][0] == {"value": "/", "visitors": 2, "pageviews": 2}
    assert body["countries"] == [
        {"value": "US", "visitors": 2, "pageviews": 2},
        {"value": "DE", "visitors": 1, "pageviews": 2},
    ]
    assert body["sources"][0]["value"] == ""
    assert [b["value"] for b in body["browsers"]] == ["Chrome", "Firefox"]
    assert body["previous"]["pageviews"] == 0


async def test_stats_filters_and_ranges(api):
    body = await (await api.get(f"/api/stats?site={SITE}&range=7d&country=DE", headers=AUTH)).json()
    assert body["pageviews"] == 2
    body = await (await api.get("/api/stats?range=7d", headers=AUTH)).json()
    assert body["pageviews"] == 6  # both sites, the old visit included
    body = await (await api.get(f"/api/stats?site={SITE}&range=all&bots=bots", headers=AUTH)).json()
    assert body["pageviews"] == 2


@pytest.mark.parametrize(
    "headers", [{}, {"Authorization": "Bearer nope"}, {"Authorization": "test-admin-token"}]
)
async def test_stats_need_the_admin_token(api, headers):
    resp = await api.get("/api/stats?range=24h", headers=headers)
    assert resp.status == 401
    assert "bearer" in (await resp.json())["error"]


@pytest.mark.parametrize(
    "query, message",
    [
        ("range=fortnight", "accepted: live, 1h"),
        ("range=custom:2024-13-01..2024-01-02", "not an ISO date"),
        ("range=24h&bots=robots", "bots must be one of"),
    ],
)
async def test_bad_parameters_get_a_clear_400(api, query, message):
    resp = await api.get(f"/api/stats?{query}", headers=AUTH)
    assert resp.status == 400
    assert message in (await resp.json())["error"]


async def test_healthz_shows_database_size_and_row_counts(api):
    body = await (await api.get("/healthz")).json()
    storage = body["storage"]
    assert storage["size_bytes"] > 0
    assert storage["rows"]["events"] == 8 and storage["rows"]["sessions"] == 6
