"""What a crash costs: acknowledged events lost to kill -9 (vs the flush interval) and to SIGTERM (must be 0).

Run from the repository root:
    python -m bench.durability                       # 3 runs each at flush intervals 0.25, 0.5 and 1.0 s
    python -m bench.durability --runs 5 --intervals 0.25,1 --clients 8

Each run starts `sitelens collect` on a fresh database, posts pageviews with unique paths from several
clients, notes when each was acknowledged (202), kills the collector, then reads the database back.
Exit status 1 when SIGTERM lost anything or kill -9 lost an event older than the flush interval plus --slack.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import orjson

UA = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36"


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_collector(db: Path, port: int, env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    """`sitelens collect` on `db` as a child process; no config file, SITELENS_* variables from `env`."""
    config = db.parent / "empty.toml"
    config.touch()
    return subprocess.Popen(
        [sys.executable, "-m", "sitelens_tui", "collect", "--db", str(db), "--port", str(port)],
        env={**os.environ, "SITELENS_CONFIG": str(config), **(env or {})},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


async def wait_ready(port: int, proc: subprocess.Popen[bytes], timeout_s: float = 60) -> float:
    """Poll /healthz until it answers 200; returns the seconds it took."""
    started = time.monotonic()
    async with aiohttp.ClientSession() as session:
        while time.monotonic() - started < timeout_s:
            if proc.poll() is not None:
                err = proc.stderr.read().decode() if proc.stderr else ""
                raise RuntimeError(f"collector exited with {proc.returncode}: {err[-2000:]}")
            try:
                async with session.get(f"http://127.0.0.1:{port}/healthz") as resp:
                    if resp.status == 200:
                        return time.monotonic() - started
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.05)
    raise RuntimeError("collector did not become ready")


def stop_process(proc: subprocess.Popen[bytes]) -> None:
    """Make sure a child we started is gone (kill it only if it is still running)."""
    if proc.poll() is None:
        proc.kill()
    proc.wait(timeout=30)


async def poster(port: int, client: int, rate: float, acked: dict[str, float], stop: asyncio.Event) -> None:
    """One client posting pageviews with unique paths at `rate` a second, noting when each was accepted."""
    period = 1 / rate if rate > 0 else 0.0
    async with aiohttp.ClientSession() as session:
        i = 0
        due = time.monotonic()
        while not stop.is_set():
            if period:
                due += period
                if (wait := due - time.monotonic()) > 0:
                    await asyncio.sleep(wait)
            path = f"/c{client}/{i}"
            i += 1
            try:
                async with session.post(
                    f"http://127.0.0.1:{port}/api/event",
                    data=orjson.dumps({"site": "example.com", "url": f"https://example.com{path}"}),
                    headers={"User-Agent": UA, "Content-Type": "application/json"},
                ) as resp:
                    await resp.read()
                    if resp.status == 202:
                        acked[path] = time.monotonic()
            except aiohttp.ClientError:
                return


async def watch_flushes(port: int, flush_ms: list[float], stop: asyncio.Event) -> None:
    """Note the writer's last flush time from /healthz every 50 ms (explains losses beyond the interval)."""
    async with aiohttp.ClientSession() as session:
        while not stop.is_set():
            try:
                async with session.get(f"http://127.0.0.1:{port}/healthz") as resp:
                    flush_ms.append(float((await resp.json())["writer"]["last_flush_ms"]))
            except (aiohttp.ClientError, ValueError, KeyError):
                return
            await asyncio.sleep(0.05)


@dataclass(slots=True)
class RunResult:
    """One run: events acknowledged, how many of them are missing, and how old the oldest missing one was."""

    acked: int
    lost: int
    oldest_lost_age_s: float  # seconds between its acknowledgement and the kill; 0 when nothing was lost
    shutdown_s: float  # from the signal to the process being gone
    max_flush_ms: float  # longest flush write seen while posting


async def one_run(interval: float, sig: signal.Signals, clients: int, rate: float, post_s: float) -> RunResult:
    """Start a collector, post for `post_s` seconds, send `sig`, and compare the database with the 202s."""
    with tempfile.TemporaryDirectory(prefix="sitelens-durability-") as tmp:
        db, port = Path(tmp) / "d.db", free_port()
        env = {
            "SITELENS_DB__FLUSH_INTERVAL_S": str(interval),
            # Flush on the interval only (the count trigger would flush sooner at this rate): the worst case.
            "SITELENS_DB__FLUSH_COUNT": "10000000",
            "SITELENS_DB__QUEUE_MAX": "10000000",
            "SITELENS_THROTTLE__ENABLED": "false",  # a handful of clients post far above a visitor's rate
        }
        if sig == signal.SIGTERM:  # nothing flushes on its own: everything acknowledged waits for the signal
            env["SITELENS_DB__FLUSH_INTERVAL_S"] = "3600"
        proc = start_collector(db, port, env)
        try:
            await wait_ready(port, proc)
            acked: dict[str, float] = {}
            stop = asyncio.Event()
            tasks = [asyncio.create_task(poster(port, c, rate / clients, acked, stop)) for c in range(clients)]
            flush_ms: list[float] = []
            tasks.append(asyncio.create_task(watch_flushes(port, flush_ms, stop)))
            await asyncio.sleep(post_s)
            signalled = time.monotonic()
            os.kill(proc.pid, sig)
            if sig == signal.SIGTERM:
                await asyncio.sleep(0.05)  # let requests already in flight come back before the posters stop
            stop.set()
            await asyncio.gather(*tasks)
            await asyncio.get_running_loop().run_in_executor(None, proc.wait, 60)
            shutdown = time.monotonic() - signalled
        finally:
            stop_process(proc)
        conn = sqlite3.connect(db)
        try:
            check = conn.execute("PRAGMA integrity_check").fetchone()[0]
            stored = {r[0] for r in conn.execute("SELECT path FROM events")}
        finally:
            conn.close()
        if check != "ok":
            raise RuntimeError(f"database damaged after {sig.name}: {check}")
        if sig == signal.SIGTERM and proc.returncode != 0:
            raise RuntimeError(f"collector exited with {proc.returncode} after SIGTERM")
    lost = {p: t for p, t in acked.items() if p not in stored}
    oldest = signalled - min(lost.values()) if lost else 0.0
    return RunResult(len(acked), len(lost), oldest, shutdown, max(flush_ms, default=0.0))


def main() -> int:
    """kill -9 --runs times per interval, then SIGTERM --runs times; one line per run and a verdict."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3, help="runs per flush interval (default 3)")
    parser.add_argument("--intervals", default="0.25,0.5,1.0", help="flush intervals in seconds, comma separated")
    parser.add_argument("--clients", type=int, default=4, help="concurrent posting clients (default 4)")
    parser.add_argument(
        "--rate",
        type=float,
        default=1000,
        help="events per second, all clients together "
        "(default 1000; 0 = each client back to back, saturating the collector)",
    )
    parser.add_argument(
        "--slack",
        type=float,
        default=0.1,
        help="allowance over the interval for the flush's own write time (default 0.1 s)",
    )
    args = parser.parse_args()
    intervals = [float(x) for x in args.intervals.split(",") if x.strip()]
    ok = True
    print(
        f"{'case':<16}{'run':>4}{'acked':>8}{'lost':>7}{'oldest lost':>13}{'/ interval':>12}{'exit':>8}"
        f"{'max flush':>11}"
    )
    for interval in intervals:
        ages: list[float] = []
        for run in range(1, args.runs + 1):
            post_s = 2.0 + random.uniform(0, interval)  # the kill lands anywhere in a flush cycle
            r = asyncio.run(one_run(interval, signal.SIGKILL, args.clients, args.rate, post_s))
            ages.append(r.oldest_lost_age_s)
            print(
                f"{f'kill -9 @{interval:g}s':<16}{run:>4}{r.acked:>8}{r.lost:>7}{r.oldest_lost_age_s:>12.3f}s"
                f"{r.oldest_lost_age_s / interval:>12.2f}{r.shutdown_s:>7.2f}s{r.max_flush_ms:>9.0f}ms"
            )
        worst = max(ages)
        within = worst <= interval + args.slack
        ok &= within
        print(
            f"  -> interval {interval:g}s: worst oldest-lost age {worst:.3f}s "
            f"(median {statistics.median(ages):.3f}s) = {worst / interval:.2f} x interval; "
            f"bound interval + {args.slack:g}s: {'OK' if within else 'EXCEEDED'}"
        )
    total_lost = 0
    for run in range(1, args.runs + 1):
        r = asyncio.run(one_run(1.0, signal.SIGTERM, args.clients, args.rate, 2.0))
        total_lost += r.lost
        print(f"{'SIGTERM':<16}{run:>4}{r.acked:>8}{r.lost:>7}{'-':>13}{'-':>12}{r.shutdown_s:>7.2f}s{'-':>11}")
    ok &= total_lost == 0
    print(
        f"  -> SIGTERM: {total_lost} acknowledged events lost in {args.runs} runs (must be 0): "
        f"{'OK' if total_lost == 0 else 'LOST DATA'}"
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
