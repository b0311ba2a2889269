"""What a crash costs: acknowledged events lost to kill -9 (vs the flush interval) and to SIGTERM (must be 0),
and what a full disk costs (must be 0 too).

Run from the repository root:
    python -m bench.durability                       # 3 runs each at flush intervals 0.25, 0.5 and 1.0 s
    python -m bench.durability --runs 5 --intervals 0.25,1 --clients 8
    python -m bench.durability --disk-full           # only the disk-full case (needs `unshare -Urm`)

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


# ------------------------------------------------------------------------------------------------ disk full

SMALL_FS_SCRIPT = (
    'mount -t tmpfs -o size="$1" tmpfs "$2" && "$3" -m sitelens_tui collect --db "$2/d.db" --port "$4"; '
    'rc=$?; cp "$2"/d.db* "$5"/; exit $rc'
)
"""Inside a new user and mount namespace: a small tmpfs for the database, the collector on it, and a copy of
the database files out of it once the collector has stopped (the tmpfs goes with the namespace)."""


def small_fs_available() -> bool:
    """Whether this machine lets an unprivileged user namespace mount a tmpfs (`unshare -Urm`)."""
    try:
        probe = subprocess.run(
            ["unshare", "-Urm", "sh", "-c", 'd=$(mktemp -d) && mount -t tmpfs -o size=1m tmpfs "$d"'],
            capture_output=True, timeout=10,
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return probe.returncode == 0


def child_pids(pid: int) -> list[int]:
    """Processes whose parent is `pid`."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry))
    return found


@dataclass(slots=True)
class SmallFsCollector:
    """`sitelens collect` on a database in a small tmpfs of its own; `fill` and `free` take and give back space."""

    proc: subprocess.Popen[bytes]
    port: int
    mount: Path  # the tmpfs as seen from outside, through the namespace's root
    out: Path  # where the database files are copied once the collector stopped
    log: Path  # the collector's log lines (stdout)

    @classmethod
    def start(cls, workdir: Path, env: dict[str, str], size: str = "4m") -> SmallFsCollector:
        mnt, out = workdir / "fs", workdir / "after"
        mnt.mkdir()
        out.mkdir()
        config = workdir / "empty.toml"
        config.touch()
        port, log = free_port(), workdir / "collector.log"
        with open(log, "wb") as log_file:
            proc = subprocess.Popen(
                ["unshare", "-Urm", "sh", "-c", SMALL_FS_SCRIPT, "sh", size, str(mnt), sys.executable, str(port),
                 str(out)],
                env={**os.environ, "SITELENS_CONFIG": str(config), **env},
                stdout=log_file,
                stderr=subprocess.PIPE,
            )
        return cls(proc, port, Path(f"/proc/{proc.pid}/root") / str(mnt).lstrip("/"), out, log)

    def fill(self) -> int:
        """Write a filler file until the filesystem is full; returns its size."""
        filler = self.mount / "filler"
        with open(filler, "wb") as f:
            try:
                while True:
                    f.write(b"\0" * 65536)
                    f.flush()
            except OSError:
                pass
        return filler.stat().st_size

    def free(self) -> None:
        """Space comes back."""
        (self.mount / "filler").unlink()

    def stop(self) -> int:
        """SIGTERM to the collector (the namespace's shell then copies the database out); its exit status."""
        for pid in child_pids(self.proc.pid):
            os.kill(pid, signal.SIGTERM)
        return self.proc.wait(timeout=60)


async def post_paths(session: aiohttp.ClientSession, port: int, paths: list[str], acked: list[str]) -> int:
    """POST one pageview per path; acknowledged (202) paths go to `acked`; returns how many got 503."""
    refused = 0
    for path in paths:
        async with session.post(
            f"http://127.0.0.1:{port}/api/event",
            data=orjson.dumps({"site": "example.com", "url": f"https://example.com{path}"}),
            headers={"User-Agent": UA, "Content-Type": "application/json"},
        ) as resp:
            await resp.read()
            if resp.status == 202:
                acked.append(path)
            elif resp.status == 503:
                refused += 1
    return refused


async def health(session: aiohttp.ClientSession, port: int) -> tuple[int, dict[str, object]]:
    async with session.get(f"http://127.0.0.1:{port}/healthz") as resp:
        return resp.status, await resp.json()


@dataclass(slots=True)
class DiskFullResult:
    """Acknowledged before, during and after the outage; refused while the queue was full; what came back."""

    acked_before: int
    acked_during: int
    acked_after: int
    refused_during: int
    health_during: str  # /healthz status code and problem while the disk was full
    recovery_s: float  # from space coming back to the queue being empty
    stored: int
    lost: int
    duplicated: int
    exit_code: int


async def disk_full_run(queue_max: int = 2000, before: int = 300, during: int = 3000, after: int = 300,
                        workdir: Path | None = None) -> DiskFullResult:
    """Post, fill the collector's filesystem, post past the queue's bound, free the space, post again, stop;
    then every acknowledged event must be in the database exactly once."""
    with tempfile.TemporaryDirectory(prefix="sitelens-diskfull-") as tmp:
        env = {
            "SITELENS_DB__FLUSH_INTERVAL_S": "0.2",
            "SITELENS_DB__QUEUE_MAX": str(queue_max),
            "SITELENS_THROTTLE__ENABLED": "false",
            "SITELENS_ANOMALIES__ENABLED": "false",
        }
        c = SmallFsCollector.start(workdir or Path(tmp), env)
        acked_before: list[str] = []
        acked_during: list[str] = []
        acked_after: list[str] = []
        try:
            await wait_ready(c.port, c.proc)
            async with aiohttp.ClientSession() as session:
                await post_paths(session, c.port, [f"/before/{i}" for i in range(before)], acked_before)
                await asyncio.sleep(0.5)  # committed
                c.fill()
                refused = await post_paths(session, c.port, [f"/during/{i}" for i in range(during)], acked_during)
                await asyncio.sleep(0.5)  # a failed flush or two
                code, body = await health(session, c.port)
                health_during = f"{code} {body.get('problem')!s}"
                c.free()
                freed = time.monotonic()
                while time.monotonic() - freed < 30:
                    code, body = await health(session, c.port)
                    if code == 200 and body["queue_depth"] == 0:
                        break
                    await asyncio.sleep(0.05)
                recovery = time.monotonic() - freed
                await post_paths(session, c.port, [f"/after/{i}" for i in range(after)], acked_after)
            exit_code = c.stop()
        finally:
            stop_process(c.proc)
        conn = sqlite3.connect(c.out / "d.db")
        try:
            stored = [r[0] for r in conn.execute("SELECT path FROM events")]
        finally:
            conn.close()
    acked = set(acked_before) | set(acked_during) | set(acked_after)
    return DiskFullResult(
        len(acked_before), len(acked_during), len(acked_after), refused, health_during, recovery,
        len(stored), len(acked - set(stored)), len(stored) - len(set(stored)), exit_code,
    )


def disk_full_main(runs: int) -> bool:
    """The disk-full case --runs times; True when nothing acknowledged was lost or written twice."""
    if not small_fs_available():
        print("disk full: skipped (needs `unshare -Urm` to mount a small tmpfs)")
        return True
    print(f"{'case':<16}{'run':>4}{'before':>8}{'during':>8}{'503s':>7}{'after':>7}{'lost':>6}{'twice':>7}"
          f"{'recovery':>10}  /healthz while full")
    ok = True
    for run in range(1, runs + 1):
        r = asyncio.run(disk_full_run())
        ok &= r.lost == 0 and r.duplicated == 0 and r.exit_code == 0
        print(f"{'disk full':<16}{run:>4}{r.acked_before:>8}{r.acked_during:>8}{r.refused_during:>7}"
              f"{r.acked_after:>7}{r.lost:>6}{r.duplicated:>7}{r.recovery_s:>9.2f}s  {r.health_during}")
    print(f"  -> disk full: {'OK' if ok else 'LOST OR DUPLICATED DATA'}")
    return ok


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
    parser.add_argument("--disk-full", action="store_true", help="only the disk-full case")
    args = parser.parse_args()
    if args.disk_full:
        return 0 if disk_full_main(args.runs) else 1
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
    ok &= disk_full_main(args.runs)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
