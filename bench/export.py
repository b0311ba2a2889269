"""Export throughput and memory: N stored events exported to CSV, NDJSON and Parquet, each in its own process.

Prints rows/s per format, each format's speed relative to CSV, and peak RSS against the 200 MB budget.
Usage: python bench/export.py [--events 10000000] [--db PATH] [--formats csv,ndjson,parquet]
"""

from __future__ import annotations

import argparse
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

RSS_BUDGET_MB = 200.0


def seed(db: Path, n: int) -> None:
    """Fill the database with n plausible events (written in big transactions, not through the collector)."""
    from db.records import EventRecord
    from db.sqlite.batch import INSERT_EVENT
    from db.sqlite.connection import connect

    conn = connect(db)
    have = conn.execute("SELECT count(*) FROM events").fetchone()[0]
    rng = random.Random(7)
    start = time.time() - 30 * 86400
    paths = [f"/blog/post-{i}" for i in range(500)]
    batch = 100_000
    for first in range(have, n, batch):
        rows = [
            EventRecord(
                ts=start + i * (30 * 86400 / n),
                site=("a.example", "b.example", "c.example")[i % 3],
                type="pageview" if i % 5 else "event",
                session_id=i // 7,
                visitor_id=f"{rng.getrandbits(64):016x}",
                path=rng.choice(paths),
                title='A title, with "quotes"',
                referrer="news.example/item",
                browser="Chrome",
                browser_version="124",
                os="Windows",
                device="desktop",
                country="DE",
                engaged_ms=rng.randrange(60_000),
                latency_ms=rng.random() * 100,
                is_bot=int(i % 13 == 0),
            ).as_row()
            for i in range(first, min(n, first + batch))
        ]
        conn.execute("BEGIN")
        conn.executemany(INSERT_EVENT, rows)
        conn.execute("COMMIT")
    conn.close()


def peak_rss_mb() -> float:
    """This process's peak RSS: VmHWM belongs to the process image (ru_maxrss counts the forking parent)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def child(db: str, fmt: str, out: str) -> None:
    """Run one export and print rows, bytes, seconds and this process's peak RSS (MB)."""
    from collector.export import export_table
    from db.store import open_store
    from db.url import sqlite_url

    store = open_store(sqlite_url(db), readonly=True)
    started = time.perf_counter()
    result = export_table(store, "events", fmt, out)
    elapsed = time.perf_counter() - started
    peak_mb = peak_rss_mb()
    print(f"{result.rows} {result.bytes} {elapsed:.3f} {peak_mb:.1f}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=10_000_000)
    parser.add_argument("--db", help="database to (re)use; seeded up to --events")
    parser.add_argument("--formats", default="csv,ndjson,parquet")
    parser.add_argument("--child", nargs=3, metavar=("DB", "FORMAT", "OUT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(*args.child)
        return 0
    with tempfile.TemporaryDirectory(prefix="sitelens-bench-") as tmp:
        db = Path(args.db) if args.db else Path(tmp) / "bench.db"
        t0 = time.perf_counter()
        seed(db, args.events)
        print(f"database: {args.events:,} events ready in {time.perf_counter() - t0:.1f}s")
        results: dict[str, tuple[int, int, float, float]] = {}
        for fmt in args.formats.split(","):
            out = Path(tmp) / f"events.{fmt}"
            proc = subprocess.run(
                [sys.executable, __file__, "--child", str(db), fmt, str(out)],
                capture_output=True,
                text=True,
                check=False,
            )
            if proc.returncode != 0:
                print(f"{fmt}: failed: {proc.stderr.strip().splitlines()[-1:]}")
                continue
            n, written, took, peak = proc.stdout.split()
            results[fmt] = (int(n), int(written), float(took), float(peak))
            out.unlink(missing_ok=True)
        base = results.get("csv")
        print(
            f"{'format':<8} {'rows':>12} {'MB out':>9} {'seconds':>8} {'rows/s':>11} {'vs csv':>7} "
            f"{'peak RSS MB':>12} {'of budget':>10}"
        )
        ok = True
        for fmt, (rows, size, secs, rss) in results.items():
            rate = rows / secs if secs else 0.0
            ratio = rate / (base[0] / base[2]) if base and base[2] else 0.0
            ok = ok and rss < RSS_BUDGET_MB and rows == args.events
            print(
                f"{fmt:<8} {rows:>12,} {size / 1e6:>9.1f} {secs:>8.1f} {rate:>11,.0f} {ratio:>6.2f}x "
                f"{rss:>12.1f} {rss / RSS_BUDGET_MB:>9.0%}"
            )
        print("PASS: every format under the RSS budget" if ok else "FAIL: over budget or rows missing")
        return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
