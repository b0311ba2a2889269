"""Batched ingest per collector on each store, in one run: SQLite against ClickHouse (chDB in the collector's own
process), with the collector process's peak memory.

    python -m bench.ingest_stores [--seconds 8]

Each collector runs in its own process on 127.0.0.1 (as bench/collector.py starts them) and takes arrays of 100
events from 8 keep-alive connections; events/s counts what the writer has committed (spooled events would not
count: the bench checks that the spool stayed empty). Peak RSS is the collector process's VmHWM; on chdb:// it
includes the whole ClickHouse engine held in-process, which a collector talking to a ClickHouse server
(clickhouse://) does not carry.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.collector import Server, drain, requests, run_load  # noqa: E402


def peak_rss_mb(pid: int) -> float:
    """The process's peak resident memory (VmHWM), children not included."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def children_rss_mb(pid: int) -> float:
    """Resident memory of the process's children now (the SQLite writer process)."""
    total = 0.0
    for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split():
        for line in Path(f"/proc/{child}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                total += int(line.split()[1]) / 1024
    return total


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
class Result:
    """One collector's round: committed events/s and CPU µs per committed event by where it was spent."""

    events_s: float
    loop_us: float
    threads_us: float
    engine_us: float
    writer_us: float

    def cpu(self) -> str:
        locked = self.loop_us + self.threads_us
        return (
            f"CPU/event: loop {self.loop_us:4.1f} + Python threads {self.threads_us:4.1f} = {locked:4.1f} µs under"
            f" the GIL; engine threads {self.engine_us:4.1f}, writer process {self.writer_us:4.1f}"
        )


async def measure(server: Server, seconds: float) -> Result:
    """Committed events/s of batched POSTs, and the collector's CPU per committed event."""
    batches = requests(300, 100, seed=2)
    await run_load(server.port, batches, 0.5, 8, None, "raw")  # warm-up
    await drain(server)
    info = await server.info()
    before, cpu_before = info["written"], thread_cpu_s(server.proc.pid)
    began = asyncio.get_running_loop().time()
    await run_load(server.port, batches, seconds, 8, None, "raw")
    done = await drain(server)
    after = await server.info()
    written = after["written"] - before
    per = [(b - a) * 1e6 / max(1, written) for a, b in zip(cpu_before, thread_cpu_s(server.proc.pid), strict=True)]
    writer_us = (after["writer_s"] - info["writer_s"]) * 1e6 / max(1, written)
    return Result(written / (done - began), per[0], per[1], per[2], writer_us)


async def bench(args: argparse.Namespace) -> int:
    tmp = tempfile.mkdtemp(prefix="sitelens-bench-")
    stores = {"sqlite": os.path.join(tmp, "s.db"), "chdb": f"chdb:///{tmp}/ch"}
    print(f"batched ingest per collector: {os.cpu_count()} CPUs, arrays of 100 events, {args.seconds:g}s per round")
    results: dict[str, tuple[Result, float, float]] = {}
    for name, where in stores.items():
        server = Server("full", where)
        try:
            result = await measure(server, args.seconds)
            results[name] = (result, peak_rss_mb(server.proc.pid), children_rss_mb(server.proc.pid))
        finally:
            server.stop()
    for name, (result, rss, children) in results.items():
        extra = f" + writer process {children:.0f} MB" if children else ""
        print(f"  {name:<8} {result.events_s:>9,.0f} events/s committed   collector peak RSS {rss:6.0f} MB{extra}")
        print(f"           {result.cpu()}")
    ratio = results["chdb"][0].events_s / results["sqlite"][0].events_s
    print(f"  ClickHouse / SQLite batched ingest: {ratio:.2f} (target ≥ 1.00)")
    return 0 if ratio >= 1.0 else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=8.0, help="seconds of load per store (default 8)")
    return asyncio.run(bench(parser.parse_args(argv)))


if __name__ == "__main__":
    raise SystemExit(main())
