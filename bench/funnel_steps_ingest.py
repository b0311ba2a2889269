"""What keeping `funnel_steps` adds to a ClickHouse flush, measured with a real engine (chDB in this process).

    python -m bench.funnel_steps_ingest [--flushes 400] [--batch 500]

The collector's sink (`ClickHouseSink.write`: bot re-marking, rollups, the inserts into every table, funnel steps
included) takes batches of the query bench's generated traffic, `--batch` events each (500, as a busy collector
flushes them); after each flush the same batch's funnel steps are inserted once more under another token, which
is what the funnel steps insert inside the flush costs. Printed per flush: the whole flush and that insert alone,
this process's CPU time (chDB's threads included), the calling thread's (the writer thread: Python and the part
of the engine's work it runs itself) and wall time, median and mean, and the insert's share of the process CPU.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.queries import DAYS, generate  # noqa: E402
from db.batch import Batch  # noqa: E402
from db.clickhouse import funnel_steps  # noqa: E402
from db.clickhouse.client import connect_client  # noqa: E402
from db.clickhouse.migrate import migrate  # noqa: E402
from db.clickhouse.writer import ClickHouseSink, prepare  # noqa: E402
from db.records import EVENT_COLUMNS  # noqa: E402
from db.rules import DAY  # noqa: E402
from db.url import parse_store_url  # noqa: E402

_SESSION = EVENT_COLUMNS.index("session_id")


def batches(n_flushes: int, size: int) -> list[Batch]:
    """`n_flushes` batches of `size` generated events, each with the sessions its events belong to."""
    out: list[Batch] = []
    events: list[tuple[object, ...]] = []
    sessions: dict[int, tuple[object, ...]] = {}
    # Traffic that starts after the sink does, as a collector's own sessions do (an older session would be looked
    # up in the store by the rollups as one the sink may have forgotten).
    for evs, sess in generate(n_flushes * size, time.time() + (DAYS + 1) * DAY):
        sessions.update((int(s[0]), tuple(s)) for s in sess)  # type: ignore[call-overload]
        events += [tuple(e) for e in evs]
    for i in range(n_flushes):
        chunk = events[i * size : (i + 1) * size]
        ids = {int(e[_SESSION]) for e in chunk if e[_SESSION]}  # type: ignore[call-overload]
        out.append(Batch(events=list(chunk), sessions={sid: sessions[sid] for sid in ids}))
    return out


def timed(fn: object) -> tuple[float, float, float]:
    """(process CPU ms, this thread's CPU ms, wall ms) of one call."""
    cpu, own, wall = time.process_time(), time.thread_time(), time.perf_counter()
    fn()  # type: ignore[operator]
    return (
        (time.process_time() - cpu) * 1000,
        (time.thread_time() - own) * 1000,
        (time.perf_counter() - wall) * 1000,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--flushes", type=int, default=400, help="flushes to time (default 400)")
    parser.add_argument("--batch", type=int, default=500, help="events per flush (default 500)")
    args = parser.parse_args(argv)
    work = batches(args.flushes, args.batch)
    with tempfile.TemporaryDirectory(prefix="sitelens-funnel-steps-") as tmp:
        ch = connect_client(parse_store_url(f"chdb://{tmp}/store"))
        migrate(ch)
        sink = ClickHouseSink(ch, Path(tmp) / "spool", 1 << 30)
        flush: list[tuple[float, float, float]] = []
        steps: list[tuple[float, float, float]] = []
        for batch in work:
            flush.append(timed(lambda b=batch: sink.write(b)))
            again = prepare(batch)
            steps.append(timed(lambda p=again: funnel_steps.insert(ch, p.events, f"{p.token}:again")))
        assert sink.spooled_events == 0
        stored = int(ch.value("SELECT count() FROM funnel_steps") or 0)
        ch.close()
    print(f"{len(work)} flushes of {args.batch} events ({stored // 2:,} funnel steps each time)")
    print(f"{'per flush, ms (median, mean)':<30}{'process CPU':>14}{'this thread':>14}{'wall':>14}")
    for label, rows in (("whole flush", flush), ("funnel_steps insert", steps)):
        cells = "".join(
            f"{statistics.median(r[i] for r in rows):>7.2f}{statistics.fmean(r[i] for r in rows):>7.2f}"
            for i in range(3)
        )
        print(f"{label:<30}{cells}")
    share = statistics.fmean(r[0] for r in steps) / statistics.fmean(r[0] for r in flush)
    print(f"the funnel_steps insert: {100 * share:.1f}% of a flush's CPU")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
