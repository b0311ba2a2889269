"""The OS version is parsed, stored on events and sessions, rolled up, filterable and in /api/stats."""

from __future__ import annotations

import sqlite3

import orjson

from collector.enrich.ua import os_version_label, parse_ua
from db.queries.common import Filters, Span
from db.rules import DAY, SESSION_DIMS, bucket
from db.sqlite.migrate import migrations
from db.sqlite.queries.overview import top
from db.sqlite.rollups import catch_up
from tests.conftest import BROWSER_HEADERS, flushed, query
from tests.factories import SITE, T0

IPHONE = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1_2 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/17.1 Mobile/15E148 Safari/604.1"
)


def test_labels_name_the_os_with_major_and_minor_version() -> None:
    assert os_version_label("Windows", parse_ua(BROWSER_HEADERS["User-Agent"]).os_version) == "Windows 10"
    info = parse_ua(IPHONE)
    assert os_version_label(info.os, info.os_version) == "iOS 17.1"
    assert os_version_label("Linux", "") == "" and os_version_label("Unknown", "3") == ""


async def test_collected_events_and_sessions_carry_the_os_version(client, cfg) -> None:
    for ua in (BROWSER_HEADERS["User-Agent"], IPHONE):
        resp = await client.post(
            "/api/event",
            data=orjson.dumps({"site": "example.com", "type": "pageview", "url": "https://example.com/"}),
            headers={**BROWSER_HEADERS, "User-Agent": ua, "Content-Type": "text/plain"},
        )
        assert resp.status == 202
    await flushed(client)
    assert sorted(r["os_version"] for r in query(cfg, "SELECT os_version FROM events")) == ["Windows 10", "iOS 17.1"]
    assert sorted(r["os_version"] for r in query(cfg, "SELECT os_version FROM sessions")) == [
        "Windows 10", "iOS 17.1"]
    resp = await client.get("/api/stats?site=example.com&range=24h",
                            headers={"Authorization": f"Bearer {cfg.auth.admin_token}"})
    body = await resp.json()
    assert {r["value"]: r["visitors"] for r in body["os_versions"]} == {"Windows 10": 1, "iOS 17.1": 1}
    resp = await client.get("/api/stats?site=example.com&range=24h&os_version=iOS%2017.1",
                            headers={"Authorization": f"Bearer {cfg.auth.admin_token}"})
    assert (await resp.json())["visitors"] == 1


def test_migration_keeps_older_sessions_under_no_version(tmp_path) -> None:
    """A database from before 0006: its rolled-up sessions count under '' in the OS-version list, and sessions
    pending roll-up at migration time move to their new version without leaving negative counts."""
    conn = sqlite3.connect(tmp_path / "old.db", isolation_level=None)
    for version, sql in migrations():
        if version >= 6:
            break
        conn.executescript(sql)
        conn.execute(f"PRAGMA user_version = {version}")
    # What the rollups of that version held for three sessions, each seen once.
    old_dims = SESSION_DIMS[:-1]
    for sid, os_, started in ((1, "Windows", T0 + 10), (2, "iOS", T0 + 20), (3, "iOS", T0 + DAY + 5)):
        conn.execute(
            "INSERT INTO sessions (id, site, visitor_id, started, last_seen, pageviews, os) "
            "VALUES (?, ?, ?, ?, ?, 1, ?)",
            (sid, SITE, f"v{sid}", started, started, os_),
        )
        for dim in old_dims:
            conn.execute(
                "INSERT INTO rollup_dims (grain, site, dim, bucket, is_bot, value, sessions, visitors, hits, events) "
                "VALUES (?, ?, ?, ?, 0, ?, 1, 1, 1, 0) ON CONFLICT DO UPDATE SET sessions = sessions + 1, "
                "visitors = visitors + 1, hits = hits + 1",
                (DAY, SITE, dim, bucket(started, DAY), os_ if dim == "os" else ""),
            )
    conn.execute("DELETE FROM rollup_pending_sessions")
    conn.execute("UPDATE sessions SET pageviews = 2 WHERE id = 2")  # pending when the migration runs
    conn.close()

    from db.sqlite.connection import connect

    conn = connect(tmp_path / "old.db")
    assert conn.execute("PRAGMA user_version").fetchone()[0] >= 6
    conn.execute("UPDATE sessions SET os_version = 'iOS 17.1', last_seen = last_seen + 1 WHERE id = 2")
    catch_up(conn)
    span = Span(T0 - 3 * DAY, T0 + 5 * DAY)  # long: read from the rollups
    for rollups in (True, False):
        rows = {r.value: r.visitors for r in top(conn, span, Filters(site=SITE), "os_version", rollups=rollups)}
        assert rows == {"": 2, "iOS 17.1": 1}, rollups
    assert conn.execute("SELECT count(*) FROM rollup_dims WHERE sessions < 0").fetchone()[0] == 0
