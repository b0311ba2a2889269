"""POST /api/ingest: bearer tokens, the four server-side kinds, per-event errors, event times."""

from __future__ import annotations

import asyncio
import sqlite3
import time

import orjson
import pytest

from collector.app import create_app
from collector.config import SiteConfig
from db.sqlite.connection import connect
from db.sqlite.queries.ingest import create_token, revoke_token
from tests.conftest import CHROME_UA, flushed, query

TOKEN = "config-token-for-example"


@pytest.fixture
async def api(aiohttp_client, cfg):
    cfg.sites = [SiteConfig(name="example.com", ingest_token=TOKEN), SiteConfig(name="other.org")]
    return await aiohttp_client(create_app(cfg))


def auth(token: str = TOKEN) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def post(api, body: object, token: str = TOKEN):
    resp = await api.post("/api/ingest", data=orjson.dumps(body), headers=auth(token))
    return resp.status, await resp.json()


async def test_requests_without_a_valid_token_get_401_and_store_nothing(api, cfg):
    event = {"type": "custom", "name": "x"}
    resp = await api.post("/api/ingest", json=event)
    assert resp.status == 401
    assert "Bearer" in (await resp.json())["error"]
    assert resp.headers["WWW-Authenticate"].startswith("Bearer")
    for header in ("Bearer wrong", "Basic " + TOKEN, "Bearer ", TOKEN):
        resp = await api.post("/api/ingest", json=event, headers={"Authorization": header})
        assert resp.status == 401, header
    await flushed(api)
    assert query(cfg, "SELECT count(*) FROM events")[0][0] == 0


async def test_database_tokens_work_until_revoked(api, cfg, monkeypatch):
    monkeypatch.setattr("collector.ingest.TOKEN_CACHE_S", 0.2)  # a stored answer is reused this long
    conn = connect(cfg.db_path)
    token_id, token = create_token(conn, "other.org", "api")
    stored = conn.execute("SELECT token_hash FROM ingest_tokens").fetchone()[0]
    assert token not in stored  # only a hash is kept
    status, body = await post(api, {"type": "custom", "name": "invoice_paid"}, token)
    assert (status, body) == (202, {"accepted": 1})
    revoke_token(conn, token_id)
    conn.close()
    await asyncio.sleep(0.3)
    status, _ = await post(api, {"type": "custom", "name": "invoice_paid"}, token)
    assert status == 401
    await flushed(api)
    assert [tuple(r) for r in query(cfg, "SELECT site, type, name FROM events")] == [
        ("other.org", "event", "invoice_paid")
    ]


async def test_each_kind_is_stored_with_its_fields(api, cfg):
    batch = [
        {"type": "api_request", "method": "post", "endpoint": "/api/orders/{id}", "status": 503,
         "latency_ms": 812.5, "request_bytes": 120, "response_bytes": 42, "user_id": "u1",
         "ip": "203.0.113.9", "ua": CHROME_UA, "error": "upstream timeout"},
        {"type": "auth", "action": "login_failed", "user_id": "u2", "ip": "198.51.100.7", "ua": CHROME_UA},
        {"type": "external_call", "service": "openai", "endpoint": "/v1/chat/completions", "status": 200,
         "latency_ms": 950, "cost_usd": 0.0125, "tokens": 1834, "user_id": "u1"},
        {"type": "custom", "name": "plan_upgraded", "props": {"plan": "pro", "seats": 5}, "user_id": "u3"},
    ]  # fmt: skip
    status, body = await post(api, batch)
    assert (status, body) == (202, {"accepted": 4})
    await flushed(api)
    rows = {r["type"]: r for r in query(cfg, "SELECT * FROM events")}
    api_row = rows["api_request"]
    assert (api_row["method"], api_row["path"], api_row["status"], api_row["latency_ms"]) == (
        "POST",
        "/api/orders/{id}",
        503,
        812.5,
    )
    assert (api_row["bytes"], api_row["user_id"], api_row["success"]) == (42, "u1", 0)
    assert orjson.loads(api_row["props"]) == {"request_bytes": "120", "error": "upstream timeout"}
    assert api_row["browser"] == "Chrome"  # the end user's UA, not the sending server's
    assert (rows["auth"]["name"], rows["auth"]["success"], rows["auth"]["user_id"]) == (
        "login_failed",
        0,
        "u2",
    )
    ext = rows["external_call"]
    assert (ext["name"], ext["cost_usd"], ext["success"]) == ("openai", 0.0125, 1)
    assert orjson.loads(ext["props"]) == {"tokens": "1834"}
    custom = rows["event"]
    assert (custom["name"], orjson.loads(custom["props"])) == ("plan_upgraded", {"plan": "pro", "seats": "5"})
    assert {r["site"] for r in rows.values()} == {"example.com"}


async def test_bad_events_get_their_own_reason_and_good_ones_are_kept(api, cfg):
    batch = [
        {"type": "custom", "name": "ok"},
        {"type": "api_request", "status": 200},
        {"type": "auth", "action": "hack"},
        {"type": "external_call"},
        {"type": "nope"},
        "not an object",
        {"type": "api_request", "endpoint": "/x", "status": 999},
        {"type": "api_request", "endpoint": "/x", "latency_ms": "fast"},
        {"type": "api_request", "endpoint": "/x", "ip": "not-an-ip"},
        {"type": "custom", "name": "x", "site": "other.org"},
        {"type": "custom", "name": "x", "ts": {"when": "now"}},
    ]
    status, body = await post(api, batch)
    assert status == 202
    assert body["accepted"] == 1
    reasons = {r["index"]: r["error"] for r in body["rejected"]}
    assert reasons[1] == "endpoint: required"
    assert reasons[2].startswith("action: must be one of")
    assert reasons[3].startswith("service: required")
    assert reasons[4].startswith("type: must be one of api_request, auth, external_call, custom")
    assert reasons[5] == "event: expected an object, got string"
    assert reasons[6].startswith("status:")
    assert reasons[7] == "latency_ms: expected a number, got string"
    assert reasons[8].startswith("ip: not an IP address")
    assert "not 'other.org'" in reasons[9]
    assert reasons[10].startswith("ts:")
    assert len(reasons) == 10
    await flushed(api)
    assert query(cfg, "SELECT count(*) FROM events")[0][0] == 1


@pytest.mark.parametrize(
    ("body", "status", "fragment"),
    [
        (b"", 400, "empty body"),
        (b"{not json", 400, "malformed JSON"),
        (b"[]", 400, "empty batch"),
        (b"42", 400, "expected a JSON object or array"),
        (orjson.dumps([{"type": "custom", "name": "x"}] * 1001), 400, "at most 1000"),
        (b"\xff\xfe", 400, "UTF-8"),
    ],
)
async def test_bad_bodies_are_a_clear_400_never_a_500(api, body, status, fragment):
    resp = await api.post("/api/ingest", data=body, headers=auth())
    assert resp.status == status
    assert fragment in (await resp.json())["error"]


async def test_a_batch_of_1000_is_accepted_and_a_huge_body_is_413(api, cfg):
    status, body = await post(api, [{"type": "custom", "name": f"e{i}"} for i in range(1000)])
    assert (status, body) == (202, {"accepted": 1000})
    huge = b"[" + b",".join([b'{"type":"custom","name":"' + b"x" * 90 + b'"}'] * 12000) + b"]"
    resp = await api.post("/api/ingest", data=huge, headers=auth())
    assert resp.status == 413


async def test_event_time_is_used_when_recent_and_server_time_otherwise(api, cfg):
    now = time.time()
    batch = [
        {"type": "custom", "name": "hour_ago", "ts": now - 3600},
        {"type": "custom", "name": "iso", "ts": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now - 7200))},
        {"type": "custom", "name": "millis", "ts": (now - 60) * 1000},
        {"type": "custom", "name": "month_ago", "ts": now - 30 * 86400},
        {"type": "custom", "name": "future", "ts": now + 86400},
    ]
    status, _ = await post(api, batch)
    assert status == 202
    await flushed(api)
    ts = {r["name"]: r["ts"] for r in query(cfg, "SELECT name, ts FROM events")}
    assert ts["hour_ago"] == pytest.approx(now - 3600, abs=1)
    assert ts["iso"] == pytest.approx(now - 7200, abs=1.5)
    assert ts["millis"] == pytest.approx(now - 60, abs=1)
    assert ts["month_ago"] == pytest.approx(now, abs=5)
    assert ts["future"] == pytest.approx(now, abs=5)


async def test_end_users_are_told_apart_by_ip_and_ua_but_are_not_web_sessions(api, cfg):
    users = [("203.0.113.1", CHROME_UA), ("203.0.113.2", CHROME_UA)]
    batch = [
        {"type": "api_request", "endpoint": f"/api/items/{i}", "status": 200, "ip": ip, "ua": ua}
        for i in range(3)
        for ip, ua in users
    ]
    status, _ = await post(api, batch)
    assert status == 202
    await flushed(api)
    rows = query(cfg, "SELECT visitor_id, session_id, browser FROM events")
    assert len({r["visitor_id"] for r in rows}) == 2 and {r["browser"] for r in rows} == {"Chrome"}
    # API callers are not site visitors: no web session is stored for them (the Server view owns them).
    assert {r["session_id"] for r in rows} == {0}
    assert query(cfg, "SELECT count(*) AS n FROM sessions")[0]["n"] == 0


async def test_scanner_probes_sent_server_side_are_flagged_as_bots(api, cfg):
    scanner_ua = "Mozilla/5.0 zgrab/0.x"
    batch = [
        {"type": "api_request", "endpoint": path, "status": 404, "ip": "198.51.100.66", "ua": scanner_ua}
        for path in ("/.env", "/wp-login.php", "/.git/config")
    ]
    status, _ = await post(api, batch)
    assert status == 202
    await flushed(api)
    assert {r["is_bot"] for r in query(cfg, "SELECT is_bot FROM events")} == {1}


def test_token_hash_is_not_the_token(tmp_path):
    conn = connect(tmp_path / "t.db")
    _id, token = create_token(conn, "example.com")
    assert token.startswith("sl_") and len(token) > 40
    with pytest.raises(sqlite3.IntegrityError):  # hashes are unique
        conn.execute(
            "INSERT INTO ingest_tokens (site, token_hash, created) SELECT site, token_hash, 0 FROM ingest_tokens"
        )
    conn.close()
