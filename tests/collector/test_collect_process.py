"""`sitelens collect` as a real subprocess: every acknowledged event is in the database after SIGTERM."""

from __future__ import annotations

import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import aiohttp
import orjson

from bench.durability import child_pids
from tests.conftest import BROWSER_HEADERS


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_collector(db: Path, port: int, **env: str) -> subprocess.Popen[bytes]:
    """Start the headless collector; the flush interval is long so events sit in the queue until SIGTERM."""
    return subprocess.Popen(
        [sys.executable, "-m", "sitelens_tui", "collect", "--db", str(db), "--port", str(port)],
        env={**os.environ, "SITELENS_DB__FLUSH_INTERVAL_S": "60", "SITELENS_DB__FLUSH_COUNT": "100000",
             "SITELENS_THROTTLE__ENABLED": "false", "SITELENS_CONFIG": str(db.parent / "none.toml"), **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


async def wait_ready(session: aiohttp.ClientSession, port: int, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else "collector exited"
        try:
            async with session.get(f"http://127.0.0.1:{port}/healthz") as resp:
                if resp.status == 200:
                    return
        except aiohttp.ClientError:
            pass
        await __import__("asyncio").sleep(0.1)
    raise AssertionError("collector did not start")


async def test_sigterm_flushes_every_acknowledged_event(tmp_path):
    db, port = tmp_path / "collect.db", free_port()
    (tmp_path / "none.toml").write_text("")
    proc = start_collector(db, port)
    acknowledged: list[str] = []
    try:
        async with aiohttp.ClientSession() as session:
            await wait_ready(session, port, proc)
            for i in range(300):
                path = f"/p/{i}"
                async with session.post(
                    f"http://127.0.0.1:{port}/api/event",
                    data=orjson.dumps({"site": "example.com", "url": f"https://example.com{path}"}),
                    headers=BROWSER_HEADERS,
                ) as resp:
                    if resp.status == 202:
                        acknowledged.append(path)
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err.decode()
    assert len(acknowledged) == 300
    stored = {r[0] for r in sqlite3.connect(db).execute("SELECT path FROM events")}
    assert stored == set(acknowledged)
    log = out.decode()
    assert "listening on" in log and "stopping" in log  # structured lines on stdout
    assert "Traceback" not in err.decode()


def test_bad_config_is_one_clear_line(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text("[server]\nport = 'eighty'\n")
    proc = subprocess.run([sys.executable, "-m", "sitelens_tui", "collect", "--config", str(bad)],
                          capture_output=True, timeout=30)
    assert proc.returncode == 2
    assert proc.stderr.decode().strip() == "sitelens: error: server.port: expected int, got str 'eighty'"


def test_missing_geoip_file_names_the_path(tmp_path):
    cfgfile = tmp_path / "c.toml"
    cfgfile.write_text(f"[geoip]\npath = '{tmp_path / 'nope.mmdb'}'\n")
    proc = subprocess.run(
        [sys.executable, "-m", "sitelens_tui", "collect", "--config", str(cfgfile), "--db", str(tmp_path / "x.db"),
         "--port", str(free_port())],
        capture_output=True, timeout=30,
    )
    assert proc.returncode == 2
    assert "nope.mmdb" in proc.stderr.decode() and "Traceback" not in proc.stderr.decode()


def running(pid: int) -> bool:
    """True while `pid` exists and is not a zombie."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


async def test_writer_process_exits_quietly_when_the_collector_is_killed(tmp_path):
    """kill -9 of the collector while its writer is inside a flush (waiting on another process's write lock):
    the orphaned writer finishes, finds nobody to answer, and exits with one line and no traceback."""
    db, port = tmp_path / "orphan.db", free_port()
    (tmp_path / "none.toml").write_text("")
    proc = start_collector(db, port, SITELENS_DB__FLUSH_INTERVAL_S="0.1")
    blocker = None
    try:
        async with aiohttp.ClientSession() as session:
            await wait_ready(session, port, proc)
            [writer] = child_pids(proc.pid)
            blocker = sqlite3.connect(db, isolation_level=None)
            blocker.execute("BEGIN IMMEDIATE")  # the writer's next flush now waits on this lock
            async with session.post(
                f"http://127.0.0.1:{port}/api/event",
                data=orjson.dumps({"site": "example.com", "url": "https://example.com/orphan"}),
                headers=BROWSER_HEADERS,
            ) as resp:
                assert resp.status == 202
            await __import__("asyncio").sleep(0.5)  # a flush or two begin and block
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
        blocker.execute("ROLLBACK")  # the orphan's flush goes through and its answer has nowhere to go
        deadline = time.monotonic() + 15
        while running(writer) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not running(writer), "the writer process outlived its collector"
        assert proc.stderr is not None
        err = proc.stderr.read().decode()  # the writer shared the collector's stderr
    finally:
        if blocker is not None:
            blocker.close()
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)
    assert "Traceback" not in err and "BrokenPipeError" not in err, err
    assert err.count("sitelens writer: collector process gone") == 1, err
