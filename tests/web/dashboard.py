"""`sitelens web` as a user meets it: the real command in its own process on a database, driven by Chromium."""

from __future__ import annotations

import re
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys

from sitelens_tui.web.passwords import hash_password
from tests.tui.dataset import make_dataset

T = TypeVar("T")

ADMIN_TOKEN = "web-test-admin-token"
USERS = {"ann": ("viewer", "ann-password-1"), "bob": ("admin", "bob-password-1")}

SCREEN_CAPTURE = """
(() => {
  const Native = window.WebSocket;
  const decoder = new TextDecoder();
  window.__screen = "";
  window.__firstAt = null;
  window.WebSocket = function (url, protocols) {
    const ws = new Native(url, protocols);
    window.__wsUrl = url;
    ws.addEventListener("message", (e) => {
      if (window.__firstAt === null && typeof e.data !== "string") window.__firstAt = performance.now();
      window.__screen += typeof e.data === "string" ? e.data : decoder.decode(e.data, {stream: true});
    });
    return ws;
  };
  window.WebSocket.prototype = Native.prototype;
  window.WebSocket.OPEN = 1;
})();
"""
"""Keeps what the dashboard's websocket delivers, as text: the canvas the terminal draws on has none to read."""

MODIFIERS = (Keys.SHIFT, Keys.CONTROL, Keys.ALT)
_ESCAPES = re.compile(r"\x1b(\[[0-9;?<>=]*[ -/]*[@-~]|\][^\x07\x1b]*(\x07|\x1b\\)|[()][0-9A-B]|[=>78])")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for(check: Callable[[], T], what: str, timeout: float = 15.0) -> T:
    """Poll `check` until it returns something truthy; fail naming `what` after `timeout` seconds."""
    end = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > end:
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(0.1)


@dataclass
class Dashboard:
    """A database with the TUI test dataset, a collector and `sitelens web` on it, each in its own process."""

    url: str
    collector_url: str
    config: Path
    processes: list[subprocess.Popen[bytes]]

    def health(self) -> dict[str, Any]:
        import json

        request = urllib.request.Request(f"{self.url}/healthz", headers={"Authorization": f"Bearer {ADMIN_TOKEN}"})
        with urllib.request.urlopen(request, timeout=5) as resp:
            return dict(json.loads(resp.read()))

    def stop(self) -> None:
        for proc in self.processes:
            if proc.poll() is None:
                proc.send_signal(signal.SIGINT)
        for proc in self.processes:
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def write_config(folder: Path, db: Path, web_port: int, collector_port: int, extra: str = "") -> Path:
    users = "".join(
        f'[[web.users]]\nname = "{name}"\npassword_hash = "{hash_password(password)}"\nrole = "{role}"\n'
        for name, (role, password) in USERS.items()
    )
    path = folder / "sitelens.toml"
    path.write_text(
        f'[db]\npath = "{db}"\nflush_interval_s = 0.05\n'
        f'[server]\nport = {collector_port}\n[auth]\nadmin_token = "{ADMIN_TOKEN}"\n'
        f"[web]\nport = {web_port}\n{extra}\n{users}",
        encoding="utf-8",
    )
    return path


def start_dashboard(folder: Path, *, collector: bool = True, web_extra: str = "", db: Path | None = None) -> Dashboard:
    """Dataset (or `db`), config, then `sitelens collect` (optional) and `sitelens web`, waiting until both answer."""
    if db is None:
        db = folder / "sitelens.db"
        make_dataset(db, now=time.time())
    web_port, collector_port = free_port(), free_port()
    config = write_config(folder, db, web_port, collector_port, web_extra)
    base = [sys.executable, "-m", "sitelens_tui", "--config", str(config)]
    log = (folder / "processes.log").open("ab")
    commands = ([[*base, "collect"]] if collector else []) + [[*base, "web"]]
    dash = Dashboard(f"http://127.0.0.1:{web_port}", f"http://127.0.0.1:{collector_port}", config,
                     [subprocess.Popen(cmd, stdout=log, stderr=log) for cmd in commands])
    try:
        wait_for(lambda: _answers(f"{dash.url}/login"), "sitelens web to answer")
        if collector:
            wait_for(lambda: _answers(f"{dash.collector_url}/healthz"), "the collector to answer")
    except AssertionError:
        dash.stop()
        raise AssertionError((folder / "processes.log").read_text(errors="replace")[-2000:]) from None
    return dash


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2):
            return True
    except urllib.error.HTTPError:
        return True
    except OSError:
        return False


# -- the browser side -------------------------------------------------------------------------------------


def capture_screens(driver: Any) -> None:
    """From now on, every page of this browser keeps its websocket's output in window.__screen."""
    driver.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": SCREEN_CAPTURE})


def screen_text(driver: Any) -> str:
    """Everything the dashboard drew so far, without terminal escape sequences."""
    return _ESCAPES.sub("", driver.execute_script("return window.__screen || ''"))


def sign_in(driver: Any, url: str, user: str, password: str) -> None:
    """Open the dashboard, get sent to the sign-in form, fill it in and submit."""
    driver.get(f"{url}/")
    wait_for(lambda: driver.current_url.endswith("/login"), "the sign-in form")
    driver.find_element(By.ID, "user").send_keys(user)
    driver.find_element(By.ID, "password").send_keys(password)
    driver.find_element(By.ID, "sign-in").click()


def wait_for_text(driver: Any, text: str, timeout: float = 20.0, after: int = 0) -> str:
    """Wait until the dashboard drew `text` (in what arrived past offset `after`)."""
    return wait_for(lambda: text in screen_text(driver)[after:] and screen_text(driver),
                    f"the dashboard to show {text!r}", timeout)


def click_cell(driver: Any, column: int, row: int) -> None:
    """Click the middle of one terminal cell (0-based), as a user's mouse does."""
    size = driver.execute_script(
        "const r = document.querySelector('.xterm-screen').getBoundingClientRect();"
        "const q = new URL(window.__wsUrl).searchParams;"
        "return [r.left, r.top, r.width / Number(q.get('width')), r.height / Number(q.get('height'))];"
    )
    left, top, cell_w, cell_h = size
    screen = driver.find_element(By.CSS_SELECTOR, ".xterm-screen")
    rect = screen.rect
    x = left + (column + 0.5) * cell_w - (rect["x"] + rect["width"] / 2)
    y = top + (row + 0.5) * cell_h - (rect["y"] + rect["height"] / 2)
    ActionChains(driver).move_to_element_with_offset(screen, int(x), int(y)).click().perform()


def press(driver: Any, *keys: str) -> None:
    """Type keys into the terminal the way a user does (xterm's hidden textarea holds the keyboard focus)."""
    driver.execute_script("document.querySelector('.xterm-helper-textarea').focus()")
    for key in keys:
        chain = ActionChains(driver)
        if len(key) == 2 and key[0] in MODIFIERS:  # Keys.SHIFT + Keys.TAB: hold the modifier for the key
            chain.key_down(key[0]).send_keys(key[1]).key_up(key[0])
        else:
            chain.send_keys(key)
        chain.perform()
        time.sleep(0.15)
