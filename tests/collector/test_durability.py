"""kill -9 of `sitelens collect` loses at most one flush interval; a restarted collector resumes sessions."""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
import subprocess
import time
from pathlib import Path

import aiohttp
import orjson

from db.sqlite.connection import connect
from tests.collector.test_collect_process import free_port, start_collector, wait_ready
from tests.conftest import BROWSER_HEADERS

FLUSH_INTERVAL_S = 0.2
SLACK_S = 0.3  # one flush's own duration plus scheduling noise on a busy machine
FAST_FLUSH = {"SITELENS_DB__FLUSH_INTERVAL_S": str(FLUSH_INTERVAL_S), "SITELENS_DB__FLUSH_COUNT": "500"}


async def post_page(session: aiohttp.ClientSession, port: int, path: str) -> int:
    """POST one pageview for `path`; returns the HTTP status."""
    async with session.post(
        f"http://127.0.0.1:{port}/api/event",
        data=orjson.dumps({"site": "example.com", "url": f"https://example.com{path}"}),
        headers=BROWSER_HEADERS,
    ) as resp:
        await resp.read()
        return resp.status


async def post_steadily(port: int, acked: dict[str, float], sent: set[str], stop: asyncio.Event) -> None:
    """Post pageviews with unique paths one after another, noting when each was acknowledged (202)."""
    async with aiohttp.ClientSession() as session:
        i = 0
        while not stop.is_set():
            path = f"/d/{i}"
            i += 1
            sent.add(path)
            try:
                status = await post_page(session, port, path)
            except aiohttp.ClientError:
                return  # the collector is gone
            if status == 202:
                acked[path] = time.monotonic()
            await asyncio.sleep(0.001)


async def wait_committed(session: aiohttp.ClientSession, port: int, events: int) -> None:
    """Poll /healthz until the writer committed `events` events (session snapshots go in the same flush)."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        async with session.get(f"http://127.0.0.1:{port}/healthz") as resp:
            health = await resp.json()
        if health["writer"]["written_events"] >= events and health["queue_depth"] == 0:
            return
        await asyncio.sleep(FLUSH_INTERVAL_S / 2)
    raise AssertionError(f"the writer did not commit {events} events: {health}")


def stored_paths(db: Path) -> set[str]:
    conn = sqlite3.connect(db)
    try:
        return {r[0] for r in conn.execute("SELECT path FROM events")}
    finally:
        conn.close()


def integrity(db: Path) -> str:
    """PRAGMA integrity_check through the project's own connect (recovers the WAL, runs migrations)."""
    conn = connect(db)
    try:
        return str(conn.execute("PRAGMA integrity_check").fetchone()[0])
    finally:
        conn.close()


def kill_hard(proc: subprocess.Popen[bytes]) -> None:
    """SIGKILL and reap: no flush, no cleanup, exactly what a crash or the OOM killer does."""
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=10)


async def test_kill_9_loses_at_most_one_flush_interval(tmp_path: Path) -> None:
    db, port = tmp_path / "durable.db", free_port()
    (tmp_path / "none.toml").write_text("")
    proc = start_collector(db, port, **FAST_FLUSH)
    acked: dict[str, float] = {}
    sent: set[str] = set()
    stop = asyncio.Event()
    try:
        async with aiohttp.ClientSession() as session:
            await wait_ready(session, port, proc)
        poster = asyncio.create_task(post_steadily(port, acked, sent, stop))
        await asyncio.sleep(1.5)  # several flushes, then the kill lands while events keep coming
        killed_at = time.monotonic()
        kill_hard(proc)
        stop.set()
        await asyncio.wait_for(poster, timeout=5)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)
    assert proc.returncode == -signal.SIGKILL

    assert integrity(db) == "ok"
    stored = stored_paths(db)
    must_survive = {p for p, t in acked.items() if t < killed_at - FLUSH_INTERVAL_S - SLACK_S}
    recent = set(acked) - must_survive
    assert len(must_survive) > 100, "the client posted too little for the test to mean anything"
    assert recent, "the kill did not land while events were being acknowledged"
    lost = must_survive - stored
    assert not lost, f"{len(lost)} events acknowledged over {FLUSH_INTERVAL_S + SLACK_S}s before kill -9 were lost"
    assert stored <= sent  # nothing invented; at most the one request in flight was stored without its 202


async def test_restarted_collector_resumes_sessions(tmp_path: Path) -> None:
    db, port = tmp_path / "resume.db", free_port()
    (tmp_path / "none.toml").write_text("")
    first = start_collector(db, port, **FAST_FLUSH)
    try:
        async with aiohttp.ClientSession() as session:
            await wait_ready(session, port, first)
            for path in ("/", "/pricing", "/docs"):
                assert await post_page(session, port, path) == 202
            await wait_committed(session, port, 3)
        kill_hard(first)
    finally:
        if first.poll() is None:
            first.kill()
            first.wait(timeout=10)

    second = start_collector(db, port, **FAST_FLUSH)
    try:
        async with aiohttp.ClientSession() as session:
            await wait_ready(session, port, second)
            for path in ("/signup", "/thanks"):
                assert await post_page(session, port, path) == 202
        second.send_signal(signal.SIGTERM)
        _, err = second.communicate(timeout=20)
    finally:
        if second.poll() is None:
            second.kill()
            second.wait(timeout=10)
    assert second.returncode == 0, err.decode()

    assert integrity(db) == "ok"
    conn = sqlite3.connect(db)
    try:
        events = conn.execute("SELECT path, session_id FROM events ORDER BY id").fetchall()
        sessions = conn.execute("SELECT id, pageviews, entry_path, exit_path FROM sessions").fetchall()
    finally:
        conn.close()
    assert [p for p, _ in events] == ["/", "/pricing", "/docs", "/signup", "/thanks"]
    assert len({sid for _, sid in events}) == 1, "the restart split one visit into several sessions"
    assert sessions == [(events[0][1], 5, "/", "/thanks")]
