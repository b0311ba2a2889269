"""`sitelens tui --db` next to a headless `sitelens collect`: the TUI sees its data and its overrides are enforced."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import aiohttp
import pytest

from collector.config import Config
from sitelens_tui.app import build_app
from sitelens_tui.dialogs.throttle_dialog import ThrottleDialog
from sitelens_tui.widgets.view_table import ViewTable
from tests.tui.conftest import open_view, settle

UA = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0 Safari/537.36"
ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def headless_collector(tmp_path: Path):
    """A real `sitelens collect` process on a fresh database; stopped with SIGTERM at the end."""
    db, port = tmp_path / "headless.db", free_port()
    config = tmp_path / "sitelens.toml"
    config.write_text("[db]\nflush_interval_s = 0.1\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("SITELENS_")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "sitelens_tui", "collect", "--config", str(config), "--db", str(db),
         "--host", "127.0.0.1", "--port", str(port)],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                break
        except OSError:
            if proc.poll() is not None:
                raise AssertionError(proc.stderr.read().decode() if proc.stderr else "collector exited") from None
            time.sleep(0.05)
    else:
        proc.kill()
        raise AssertionError("collector did not start")
    yield db, f"http://127.0.0.1:{port}"
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


async def test_attached_tui_override_is_enforced_by_headless_collector(headless_collector) -> None:
    db, base = headless_collector
    event = {"site": "example.com", "url": "https://example.com/attached"}
    async with aiohttp.ClientSession() as http:
        resp = await http.post(f"{base}/api/event", json=event, headers={"User-Agent": UA})
        assert resp.status == 202
        app = build_app(Config.for_tests(db), embedded=False, initial_range="live")
        async with app.run_test(size=(80, 24)) as pilot:
            await open_view(pilot, "live")
            table = app.query_one("#live-sessions", ViewTable)
            for _ in range(60):  # the collector flushes every 0.1 s; the TUI reads through WAL
                if table.rows_shown:
                    break
                await asyncio.sleep(0.05)
                app.view("live").reload()
                await settle(pilot, "live")
            assert [r.cells[7].plain for r in table.rows_shown] == ["/attached"]
            assert "attached to headless.db" in str(app.query_one("#status-bar").content)
            await pilot.press("t")
            assert isinstance(app.screen, ThrottleDialog)
            await pilot.click("#throttle-ok")
            await settle(pilot)
            assert app.last_override_id is not None
            started = time.monotonic()
            while time.monotonic() - started < 2.5:
                resp = await http.post(f"{base}/api/event", json=event, headers={"User-Agent": UA})
                if resp.status == 204:
                    break
                await asyncio.sleep(0.1)
            assert resp.status == 204, "the headless collector did not enforce the override within 2 s"
            assert time.monotonic() - started <= 2.0
