"""TUI benchmark: time to first paint, time to refresh each view (30-day range) and idle CPU, in one run.

    python bench/queries.py --db /tmp/bench.db     # build the 10M-event database once (kept with --db)
    python bench/tui.py --db /tmp/bench.db         # measure the TUI on it
    python bench/tui.py --events 200000            # no database at hand: generate a smaller one first

Targets from the spec: first paint <= 1.5 s, every view's data for a 30-day range on 10M events <= 100 ms,
low idle CPU. Each figure is printed with its ratio to the target. Views whose queries are missing or fail are
reported and skipped, not fatal.
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

from collector.config import Config  # noqa: E402
from db.sqlite.connection import connect  # noqa: E402
from sitelens_tui.app import SiteLensApp, build_app  # noqa: E402
from sitelens_tui.messages import ViewLoaded  # noqa: E402
from sitelens_tui.views import ALL_VIEWS  # noqa: E402

FIRST_PAINT_TARGET_S = 1.5
VIEW_TARGET_MS = 100.0
SIZE = (120, 40)


def last_event_ts(path: Path) -> float:
    conn = connect(path, readonly=True, create=False)
    try:
        return float(conn.execute("SELECT coalesce(max(ts), 0) FROM events").fetchone()[0]) or time.time()
    finally:
        conn.close()


class Clock:
    """Records when each view finished a load (fetch + render), from the app's ViewLoaded messages."""

    def __init__(self) -> None:
        self.loaded: list[tuple[str, float, float, float]] = []  # (view, at, fetch+render s, query s)

    def hook(self, message: object) -> None:
        if isinstance(message, ViewLoaded):
            self.loaded.append((message.view_id, time.perf_counter(), message.seconds, message.query_seconds))

    async def wait(self, view: str, after: int, timeout: float = 120.0) -> tuple[float, float, float] | None:
        deadline = time.perf_counter() + timeout
        while time.perf_counter() < deadline:
            for name, at, seconds, query in self.loaded[after:]:
                if name == view:
                    return at, seconds, query
            await asyncio.sleep(0.002)
        return None


async def first_paint(app: SiteLensApp, clock: Clock) -> tuple[float, float | None]:
    """Seconds until the first frame, and until the first view's data is on screen."""
    started = time.perf_counter()
    async with app.run_test(size=SIZE, message_hook=clock.hook) as pilot:
        frame = time.perf_counter() - started
        got = await clock.wait(ALL_VIEWS[0].key(), 0)
        await pilot.pause()
        data = None if got is None else time.perf_counter() - started
    return frame, data


async def view_refreshes(
    app: SiteLensApp, clock: Clock, repeat: int
) -> dict[str, list[tuple[float, float]] | str]:
    """For each view: (fetch + render, query) times of `repeat` forced refreshes (after a warm-up one)."""
    out: dict[str, list[tuple[float, float]] | str] = {}
    async with app.run_test(size=SIZE, message_hook=clock.hook) as pilot:
        await clock.wait(ALL_VIEWS[0].key(), 0)
        app.paused = True  # only the refreshes we ask for
        for view_cls in ALL_VIEWS:
            key = view_cls.key()
            app.action_show_view(key)
            await pilot.pause()
            view = app.view(key)
            times: list[tuple[float, float]] = []
            for i in range(repeat + 1):
                mark = len(clock.loaded)
                view.reload()
                got = await clock.wait(key, mark, timeout=60)
                if got is None:
                    break
                if i:
                    times.append((got[1], got[2]))
            out[key] = times if times else "skipped (no data loaded; see the view's error line)"
    return out


async def idle_cpu(app: SiteLensApp, seconds: float, view: str) -> float:
    """Process CPU time over wall time while the app sits on `view` with nothing happening (percent of a core)."""
    async with app.run_test(size=SIZE) as pilot:
        await asyncio.sleep(0.5)
        app.action_show_view(view)
        await pilot.pause()
        await asyncio.sleep(1.0)  # let the first refresh settle
        cpu0, wall0 = time.process_time(), time.perf_counter()
        await asyncio.sleep(seconds)
        return 100.0 * (time.process_time() - cpu0) / (time.perf_counter() - wall0)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", help="an existing database (e.g. the 10M-event one bench/queries.py --db made)")
    parser.add_argument("--events", type=int, default=200_000, help="events to generate when --db is not given")
    parser.add_argument("--repeat", type=int, default=3, help="refreshes per view (median reported)")
    parser.add_argument("--idle", type=float, default=5.0, help="seconds of idle CPU measurement")
    args = parser.parse_args(argv)
    from sitelens_tui.logfile import log_to_file

    log_to_file(Path(tempfile.gettempdir()) / "sitelens-bench-tui.log")  # nothing may write to the terminal

    tmp = tempfile.TemporaryDirectory(prefix="sitelens-bench-tui-")
    if args.db:
        path = Path(args.db)
        if not path.exists():
            print(f"database not found: {path}", file=sys.stderr)
            return 2
    else:
        from bench.queries import load  # the same generator as the query benchmark

        path = Path(tmp.name) / "bench.db"
        print(f"generating {args.events:,} events into {path} ...", flush=True)
        load(path, args.events, time.time())
    now = last_event_ts(path) + 1
    conn = connect(path, readonly=True)
    total = conn.execute("SELECT count(*) FROM events").fetchone()[0]
    conn.close()
    print(f"database {path}: {total:,} events; views queried for the 30 days before its last event\n")

    def attach() -> SiteLensApp:
        return build_app(Config.for_tests(path), embedded=False, now=lambda: now, initial_range="30d")

    frame, data = asyncio.run(first_paint(attach(), Clock()))
    print(f"first frame          {frame * 1000:8.0f} ms   ({frame / FIRST_PAINT_TARGET_S:.2f} of the 1.5 s target)")
    if data is not None:
        print(f"first data painted   {data * 1000:8.0f} ms   ({data / FIRST_PAINT_TARGET_S:.2f} of the 1.5 s target)")

    print(f"\nview refresh, 30d range, median of {args.repeat} (target <= {VIEW_TARGET_MS:.0f} ms for the data)")
    print(f"  {'view':<10} {'queries':>9} {'+ render':>10}")
    results = asyncio.run(view_refreshes(attach(), Clock(), args.repeat))
    for key, times in results.items():
        if isinstance(times, str):
            print(f"  {key:<10} {times}")
            continue
        total = statistics.median(t for t, _ in times) * 1000
        query = statistics.median(q for _, q in times) * 1000
        print(f"  {key:<10} {query:6.1f} ms {total:7.1f} ms   (queries {query / VIEW_TARGET_MS:.2f} of target)")

    print(f"\nidle CPU over {args.idle:.0f} s (percent of one core)")
    attached = asyncio.run(idle_cpu(attach(), args.idle, "live"))
    print(f"  attached, Live view (1 s refresh)      {attached:5.1f} %")
    cfg = Config.for_tests(Path(tmp.name) / "embedded.db")
    cfg.server.port = 0
    cfg.db.flush_interval_s = 1.0  # the production default (tests flush faster)
    embedded = asyncio.run(idle_cpu(build_app(cfg, embedded=True), args.idle, "overview"))
    print(f"  embedded collector, Overview view      {embedded:5.1f} %")
    tmp.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
