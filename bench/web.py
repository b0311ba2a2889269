"""`sitelens web` benchmark: memory per browser tab (one app process each) and time to first paint in Chromium.

    python -m bench.web                 # 3 tabs on the TUI test dataset
    python -m bench.web --tabs 5 --db /tmp/bench.db

Each tab is a real headless-Chromium tab signed in to a real `sitelens web` on 127.0.0.1. Memory is the resident
set of the server's whole process tree (server + one app per tab), sampled once each tab has drawn its data.
Time to first paint is from navigating to the dashboard until the Overview's tables arrived in the browser; the
yardstick measured in the same run is the same app's first paint in-process (`bench/tui.py`'s method), so the
ratio is what the browser, the websocket and the app process's start cost on top.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.proctree import descendants, rss_mb, tree_rss_mb  # noqa: E402
from bench.tui import Clock, first_paint  # noqa: E402
from collector.config import Config  # noqa: E402
from sitelens_tui.app import build_app  # noqa: E402
from tests.browser import start_chromium  # noqa: E402
from tests.tui.dataset import make_dataset  # noqa: E402
from tests.web.dashboard import (  # noqa: E402
    USERS,
    capture_screens,
    screen_text,
    sign_in,
    start_dashboard,
    wait_for,
)

FIRST_PAINT_TARGET_S = 1.5
SETTLE_S = 2.0
"""After a tab drew its data, wait this long before sampling memory (its first refreshes allocate)."""


def terminal_first_paint(db: Path) -> float:
    """The yardstick: seconds until the Overview's data is on screen, the app run in this process."""
    app = build_app(Config.for_tests(db), embedded=False)
    frame, data = asyncio.run(first_paint(app, Clock()))
    return data if data is not None else frame


def open_tab(driver: object, url: str) -> tuple[float, float]:
    """Open the dashboard in the current tab: (seconds to the first bytes drawn, seconds to the Overview's data)."""
    started = time.perf_counter()
    driver.get(f"{url}/")  # type: ignore[attr-defined]
    wait_for(lambda: "Top pages" in screen_text(driver), "the Overview's data", timeout=60)
    data = time.perf_counter() - started
    first = driver.execute_script("return window.__firstAt") / 1000.0  # type: ignore[attr-defined]
    return first, data


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tabs", type=int, default=3, help="browser tabs to open (default 3)")
    parser.add_argument("--db", type=Path, help="SQLite database to show (default: the TUI test dataset)")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="sitelens-bench-web-") as tmp:
        folder = Path(tmp)
        db = args.db
        if db is None:
            db = folder / "sitelens.db"
            make_dataset(db, now=time.time())
        yardstick = statistics.median(terminal_first_paint(db) for _ in range(3))
        dash = start_dashboard(folder, collector=False, db=db, web_extra=f"max_sessions = {args.tabs}")
        driver = start_chromium(folder / "profile", window="1200,800")
        capture_screens(driver)
        server = dash.processes[-1].pid
        try:
            sign_in(driver, dash.url, "ann", USERS["ann"][1])
            wait_for(lambda: "Top pages" in screen_text(driver), "the first tab", timeout=60)
            driver.get("about:blank")
            wait_for(lambda: dash.health()["tabs"] == 0, "the warm-up tab to close")
            time.sleep(1.0)
            idle = tree_rss_mb(server)
            paints: list[tuple[float, float]] = []
            totals: list[float] = []
            for i in range(args.tabs):
                if i:
                    driver.switch_to.new_window("tab")
                    capture_screens(driver)  # per tab
                paints.append(open_tab(driver, dash.url))
                time.sleep(SETTLE_S)
                totals.append(tree_rss_mb(server))
            apps = [rss_mb(pid) for pid in descendants(server) if " tui --role " in _cmdline(pid)]
            health = dash.health()
        finally:
            driver.quit()
            dash.stop()

    per_tab = (totals[-1] - idle) / args.tabs
    print(f"sitelens web, {args.tabs} tabs, database {db.name}")
    print(f"  server alone (after one tab came and went) {idle:4.1f} MB")
    for i, total in enumerate(totals, 1):
        print(f"  server + {i} tab(s)                      {total:7.1f} MB")
    print(f"  memory per tab (tree growth / tabs)     {per_tab:7.1f} MB  ({per_tab / idle:.2f}× the server alone)")
    if apps:
        print(f"  one app process's RSS, median of {len(apps)}    {statistics.median(apps):7.1f} MB")
    print(f"  tabs open per /healthz                  {health['tabs']:7d}")
    print(f"  in-process first paint (yardstick)      {yardstick * 1000:7.0f} ms")
    for i, (first, data) in enumerate(paints, 1):
        print(f"  tab {i}: first bytes drawn {first * 1000:6.0f} ms, Overview data {data * 1000:6.0f} ms "
              f"({data / yardstick:.1f}× yardstick, {data / FIRST_PAINT_TARGET_S:.2f}× the 1.5 s target)")
    return 0


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


if __name__ == "__main__":
    sys.exit(main())
