"""Batched ingest per collector on each store, in one run: SQLite, ClickHouse in the collector's own process
(chDB) and a `clickhouse://` collector against a stand-in ClickHouse HTTP endpoint, with each collector's memory.

    python -m bench.ingest_stores [--seconds 8] [--rounds 1] [--stores sqlite,chdb,clickhouse]

Each collector runs in its own process on 127.0.0.1 (as bench/collector.py starts them) and takes arrays of 100
events from 8 keep-alive connections; events/s counts what the writer has committed, and a round whose
collector acknowledged events into its spool instead (the store away or refusing) is flagged. Memory is the
collector's whole process tree (main process and writer child), sampled every 50 ms: first from its start
through a phase at a fixed rate (`--rate` events/s, the same work for every store), then at full load, where
it also holds whatever queue its writer leaves behind (the queue's largest depth is printed). On chdb:// it
includes the whole ClickHouse engine held in-process.

The `clickhouse` collector writes from its sink child through clickhouse-connect's HTTP client to
bench/ch_standin.py: chDB behind a minimal ClickHouse HTTP interface in a process of its own. That process is
not the collector's and its memory is not counted in the collector's, but its CPU (printed per committed event)
comes off the same cores: it is no ClickHouse server, and events/s against it are a floor for what a collector
would take with the server on another machine.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.collector import Server, child_cpu_s, drain, requests, run_load  # noqa: E402
from bench.proctree import descendants, rss_mb  # noqa: E402


def peak_rss_mb(pid: int) -> float:
    """A process's own peak resident memory (VmHWM) in MB, children not included (0 when it is gone)."""
    try:
        lines = Path(f"/proc/{pid}/status").read_text().splitlines()
    except OSError:
        return 0.0
    for line in lines:
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def thread_cpu_s(pid: int) -> tuple[float, float, float]:
    """CPU seconds so far of a process's main thread, its other Python threads (they share the main thread's
    name) and its other threads (an in-process ClickHouse engine's own, named by it): only the first two take
    the interpreter lock."""
    tick = os.sysconf("SC_CLK_TCK")
    main = python = engine = 0.0
    name = Path(f"/proc/{pid}/comm").read_text().strip()
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            stat = (task / "stat").read_text()
        except OSError:  # the thread ended meanwhile
            continue
        comm = stat[stat.index("(") + 1 : stat.rindex(")")]
        fields = stat[stat.rindex(")") + 2 :].split()
        cpu = (int(fields[11]) + int(fields[12])) / tick
        if task.name == str(pid):
            main += cpu
        elif comm == name:
            python += cpu
        else:
            engine += cpu
    return main, python, engine


@dataclass(slots=True)
class Memory:
    """The largest resident memory of a collector's process tree, and of each of its processes, in MB."""

    tree: float = 0.0
    main: float = 0.0
    writer: float = 0.0

    def __str__(self) -> str:
        writer = f" + writer process {self.writer:.0f}" if self.writer else ""
        return f"{self.tree:4.0f} MB (main {self.main:.0f}{writer})"


@dataclass(slots=True)
class Result:
    """One collector's round: committed events/s, CPU µs per committed event by where it was spent, memory."""

    events_s: float
    loop_us: float
    threads_us: float
    engine_us: float
    writer_us: float
    standin_us: float = 0.0
    spooled: int = 0
    queue_max: int = 0
    per_flush: float = 0.0
    steady: Memory = field(default_factory=Memory)
    full: Memory = field(default_factory=Memory)
    standin_peak_mb: float = 0.0

    def cpu(self) -> str:
        locked = self.loop_us + self.threads_us
        standin = f"; stand-in server {self.standin_us:4.1f}" if self.standin_us else ""
        return (
            f"CPU/event: loop {self.loop_us:4.1f} + Python threads {self.threads_us:4.1f} = {locked:4.1f} µs under"
            f" the GIL; engine threads {self.engine_us:4.1f}, writer process {self.writer_us:4.1f}{standin}"
        )


class Sampler:
    """Samples a collector in the background: its process tree's resident memory (every 50 ms) and, when
    asked, its writer's queue depth (every 200 ms, a request to the collector)."""

    def __init__(self, server: Server, queue: bool = False) -> None:
        self.server, self.memory, self.queue_max = server, Memory(), 0
        self._tasks = [asyncio.create_task(self._rss())]
        if queue:
            self._tasks.append(asyncio.create_task(self._queue()))

    def _sample(self) -> None:
        pid = self.server.proc.pid
        main = rss_mb(pid)
        writer = sum(rss_mb(child) for child in descendants(pid))
        m = self.memory
        m.tree, m.main, m.writer = max(m.tree, main + writer), max(m.main, main), max(m.writer, writer)

    async def _rss(self) -> None:
        while True:
            self._sample()
            await asyncio.sleep(0.05)

    async def _queue(self) -> None:
        while True:
            self.queue_max = max(self.queue_max, int((await self.server.info()).get("queue", 0)))
            await asyncio.sleep(0.2)

    def stop(self) -> Memory:
        self._sample()
        for task in self._tasks:
            task.cancel()
        return self.memory


async def measure(server: Server, seconds: float, rate: float, standin: int | None = None) -> Result:
    """The collector's memory at a fixed rate from its start (the same work for every store), then at full load:
    committed events/s of batched POSTs, its memory and queue, and CPU per committed event (the stand-in
    server's too, when there is one)."""
    batches = requests(300, 100, seed=2)
    steady = Sampler(server)
    await run_load(server.port, batches, seconds, 8, rate / 100, "raw")  # open loop: arrays of 100 events
    await drain(server)
    steady_memory = steady.stop()
    full = Sampler(server, queue=True)
    await run_load(server.port, batches, 0.5, 8, None, "raw")  # warm-up
    await drain(server)
    info = await server.info()
    before, cpu_before = info["written"], thread_cpu_s(server.proc.pid)
    standin_before = child_cpu_s(standin)
    began = asyncio.get_running_loop().time()
    await run_load(server.port, batches, seconds, 8, None, "raw")
    done = await drain(server)
    after = await server.info()
    written = max(1, int(after["written"] - before))
    per = [(b - a) * 1e6 / written for a, b in zip(cpu_before, thread_cpu_s(server.proc.pid), strict=True)]
    full_memory = full.stop()
    return Result(
        events_s=written / (done - began),
        loop_us=per[0],
        threads_us=per[1],
        engine_us=per[2],
        writer_us=(after["writer_s"] - info["writer_s"]) * 1e6 / written,
        standin_us=(child_cpu_s(standin) - standin_before) * 1e6 / written if standin else 0.0,
        spooled=int(after.get("spooled", 0)),
        queue_max=full.queue_max,
        per_flush=written / max(1, int(after.get("flushes", 0) - info.get("flushes", 0))),
        steady=steady_memory,
        full=full_memory,
    )


class StandIn:
    """bench/ch_standin.py in a process of its own, with a migrated database for the collector."""

    def __init__(self, path: str) -> None:
        args = [sys.executable, "-m", "bench.ch_standin", "--path", path]
        self.proc = subprocess.Popen(args, cwd=ROOT, stdout=subprocess.PIPE, text=True)
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line:
            raise SystemExit("bench: the stand-in ClickHouse endpoint did not start")
        self.url = f"clickhouse://default:@127.0.0.1:{json.loads(line)['port']}/sitelens"
        from db.store import open_store

        open_store(self.url, create=True).close()  # creates and migrates the database, as `sitelens check --create`

    def stop(self) -> float:
        """Stop it; returns its peak resident memory in MB."""
        peak = peak_rss_mb(self.proc.pid)
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        return peak


async def one(name: str, tmp: str, seconds: float, rate: float, round_no: int) -> Result:
    """One store's collector for one round (with its stand-in ClickHouse endpoint for `clickhouse`)."""
    standin = StandIn(f"{tmp}/standin{round_no}") if name == "clickhouse" else None
    where = {"sqlite": f"{tmp}/s{round_no}.db", "chdb": f"chdb:///{tmp}/ch{round_no}"}.get(name, "")
    try:
        server = Server("full", standin.url if standin else where)
        try:
            result = await measure(server, seconds, rate, standin.proc.pid if standin else None)
        finally:
            server.stop()
    finally:
        standin_peak = standin.stop() if standin is not None else 0.0
    result.standin_peak_mb = standin_peak
    return result


async def bench(args: argparse.Namespace) -> int:
    tmp = tempfile.mkdtemp(prefix="sitelens-bench-")
    stores = [s.strip() for s in args.stores.split(",") if s.strip()]
    print(
        f"batched ingest per collector: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f},"
        f" arrays of 100 events, {args.seconds:g}s per round, stores {', '.join(stores)}"
    )
    status = 0
    for round_no in range(args.rounds):
        results: dict[str, Result] = {}
        for name in stores:
            results[name] = await one(name, tmp, args.seconds, args.rate, round_no)
        print(f"  round {round_no + 1} (load average {os.getloadavg()[0]:.1f})")
        for name, result in results.items():
            spool = f"   SPOOLED {result.spooled} events: not all committed" if result.spooled else ""
            print(
                f"  {name:<10} {result.events_s:>9,.0f} events/s committed (queue up to {result.queue_max:,} events,"
                f" {result.per_flush:,.0f} events per flush)"
                f"{spool}"
            )
            print(f"             collector memory at {args.rate:,.0f} events/s: {result.steady}")
            print(f"                              at full load: {result.full}")
            print(f"             {result.cpu()}")
            if result.standin_peak_mb:
                print(
                    f"             stand-in ClickHouse endpoint: peak RSS {result.standin_peak_mb:.0f} MB (not counted)"
                )
        if "sqlite" in results:
            base = results["sqlite"]
            for name in (n for n in results if n != "sqlite"):
                ratio = results[name].events_s / base.events_s
                steady = results[name].steady.tree / base.steady.tree
                full = results[name].full.tree / base.full.tree
                print(
                    f"  {name} / sqlite: batched ingest {ratio:.2f} (target ≥ 1.00);"
                    f" collector memory {steady:.2f} at the same rate, {full:.2f} at full load (target ≤ 1.00)"
                )
                if name == "clickhouse" and (ratio < 1.0 or steady > 1.0):
                    status = 1
    return status


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--seconds", type=float, default=8.0, help="seconds of load per store (default 8)")
    parser.add_argument(
        "--rate", type=float, default=2000, help="events/s of the fixed-rate phase that measures memory (default 2000)"
    )
    parser.add_argument("--rounds", type=int, default=1, help="rounds over the stores, one after another (default 1)")
    parser.add_argument(
        "--stores", default="sqlite,chdb,clickhouse", help="which collectors, in order (default sqlite,chdb,clickhouse)"
    )
    return asyncio.run(bench(parser.parse_args(argv)))


if __name__ == "__main__":
    raise SystemExit(main())
