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


async def measure(server: Server, seconds: float) -> tuple[float, int]:
    """Committed events/s of batched POSTs, and how many stayed in the spool."""
    batches = requests(300, 100, seed=2)
    await run_load(server.port, batches, 0.5, 8, None, "raw")  # warm-up
    await drain(server)
    before = (await server.info())["written"]
    began = asyncio.get_running_loop().time()
    await run_load(server.port, batches, seconds, 8, None, "raw")
    done = await drain(server)
    written = (await server.info())["written"] - before
    return written / (done - began), 0


async def bench(args: argparse.Namespace) -> int:
    tmp = tempfile.mkdtemp(prefix="sitelens-bench-")
    stores = {"sqlite": os.path.join(tmp, "s.db"), "chdb": f"chdb:///{tmp}/ch"}
    print(f"batched ingest per collector: {os.cpu_count()} CPUs, arrays of 100 events, {args.seconds:g}s per round")
    results: dict[str, tuple[float, float, float]] = {}
    for name, where in stores.items():
        server = Server("full", where)
        try:
            events_s, _ = await measure(server, args.seconds)
            results[name] = (events_s, peak_rss_mb(server.proc.pid), children_rss_mb(server.proc.pid))
        finally:
            server.stop()
    for name, (events_s, rss, children) in results.items():
        extra = f" + writer process {children:.0f} MB" if children else ""
        print(f"  {name:<8} {events_s:>9,.0f} events/s committed   collector peak RSS {rss:6.0f} MB{extra}")
    ratio = results["chdb"][0] / results["sqlite"][0]
    print(f"  ClickHouse / SQLite batched ingest: {ratio:.2f} (target ≥ 1.00)")
    return 0 if ratio >= 1.0 else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=8.0, help="seconds of load per store (default 8)")
    return asyncio.run(bench(parser.parse_args(argv)))


if __name__ == "__main__":
    raise SystemExit(main())
