"""Where the ClickHouse sink runs, measured with a real engine: on the writer's thread or in a child process.

    python -m bench.ingest_sink [--seconds 6]

A `clickhouse://` collector now writes from a child process; a `chdb://` one cannot (the collector reads from the
engine it holds, and chDB opens in one process only), so without a ClickHouse server the collector bench
(bench/ingest_stores.py) shows the child-process sink only against its stand-in endpoint (bench/ch_standin.py,
whose CPU shares the machine). This bench isolates the part
that changes: the main thread does the collector's per-event Python work (parse a tracker payload, build the event
and session rows: ~9 µs, half of what the collector's event loop spends per event) and hands a batch of 500
events to the sink whenever the previous flush is done, as db/writer.py does; the sink writes into chDB either on a
thread of this process (how `chdb://` runs) or from a child process that alone holds chDB (how `clickhouse://`
runs, with chDB standing in for the server). The SQLite writer process is measured alongside as the reference.
Printed: committed events/s over the whole run, and this process's CPU per event by thread: the main thread, the
writer thread (Python: it holds the interpreter lock the event loop needs) and, with chDB in-process, the
engine's own threads (native, outside the lock).
"""

from __future__ import annotations

import argparse
import hashlib
import os
import random
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit

import orjson

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.collector import UAS, event  # noqa: E402
from bench.ingest_stores import thread_cpu_s  # noqa: E402
from db.batch import Batch  # noqa: E402
from db.records import EventRecord, SessionRecord  # noqa: E402
from db.store import Sink  # noqa: E402
from db.url import parse_store_url  # noqa: E402

FLUSH_EVENTS = 500
QUEUE_MAX = 50_000


def payloads(n: int) -> list[bytes]:
    rng = random.Random(3)
    return [orjson.dumps(event(rng, site=f"s{i % 3}.example")) for i in range(n)]


def work(body: bytes, i: int, now: float) -> tuple[tuple[object, ...], SessionRecord]:
    """The collector-like Python work for one event: parse, hash a visitor id, build the rows."""
    doc = orjson.loads(body)
    visitor = hashlib.blake2b(f"{i % 997}{UAS[i % len(UAS)]}".encode(), digest_size=8).hexdigest()
    sid = 1_000_000 + i % 997
    url, referrer = urlsplit(str(doc["url"])), urlsplit(str(doc["referrer"]))
    query = dict(parse_qsl(url.query) + parse_qsl(referrer.query))
    path = url.path.lstrip("/") + ("?" + urlencode(sorted(query.items())) if query else "")
    row = EventRecord(
        ts=now, site=str(doc["site"]), type=str(doc["type"]), session_id=sid, visitor_id=visitor,
        fingerprint=visitor[:8], path="/" + path, title=str(doc["title"]), referrer=str(doc["referrer"]),
        browser="Chrome", os="Windows", device="desktop", country="DE", screen=str(doc["screen"]),
        is_bot=int(i % 997 < 50),
    ).as_row()
    session = SessionRecord(
        id=sid, site=str(doc["site"]), visitor_id=visitor, fingerprint=visitor[:8], started=now, last_seen=now,
        pageviews=1, entry_path="/" + path, exit_path="/" + path, ua=UAS[i % len(UAS)], is_bot=int(i % 997 < 50),
    )
    return row, session


def run(sink: Sink, seconds: float) -> tuple[float, list[float]]:
    """Committed events/s while the main thread works and the sink writes, and this process's CPU µs per event:
    main thread, other Python threads (the writer thread: under the interpreter lock), engine threads."""
    bodies = payloads(1000)
    pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="bench-writer")
    pending: Future[None] | None = None
    batch, processed, i = Batch(), 0, 0
    began, cpu0 = time.perf_counter(), thread_cpu_s(os.getpid())
    while time.perf_counter() - began < seconds:
        now = time.time()
        for _ in range(100):
            row, session = work(bodies[i % len(bodies)], i, now)
            batch.events.append(row)
            batch.sessions[session.id] = session.as_row()
            i += 1
        processed += 100
        if pending is not None and (pending.done() or len(batch.events) >= QUEUE_MAX):
            pending.result()
            pending = None
        if pending is None and len(batch.events) >= FLUSH_EVENTS:
            pending, batch = pool.submit(sink.write, batch), Batch()
    if pending is not None:
        pending.result()
    if batch.events:
        sink.write(batch)
    elapsed = time.perf_counter() - began
    cpu = [(b - a) * 1e6 / processed for a, b in zip(cpu0, thread_cpu_s(os.getpid()), strict=True)]
    pool.shutdown()
    return processed / elapsed, cpu


def migrated(url: str) -> str:
    """Create and migrate a chDB store in a process of its own (this one must not hold it for the child)."""
    code = "import sys; from db.store import open_store; open_store(sys.argv[1], create=True).close()"
    subprocess.run([sys.executable, "-c", code, url], cwd=ROOT, check=True, timeout=300)
    return url


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=6.0, help="seconds per sink (default 6)")
    args = parser.parse_args(argv)
    tmp = tempfile.mkdtemp(prefix="sitelens-bench-sink-")
    print(f"sink placement: main thread works, batches of {FLUSH_EVENTS} events, {args.seconds:g}s per sink")

    def sqlite_process() -> Sink:
        from db.sqlite.store import SqliteStore

        return SqliteStore(parse_store_url(f"sqlite://{tmp}/s.db")).open_sink(process=True)

    def chdb_thread() -> Sink:
        from db.clickhouse.client import connect_client
        from db.clickhouse.migrate import migrate
        from db.clickhouse.writer import ClickHouseSink

        ch = connect_client(parse_store_url(f"chdb://{tmp}/thread?database=bench"), create_database=True)
        migrate(ch)
        return ClickHouseSink(ch, f"{tmp}/spool-thread", 1 << 30)

    def chdb_child() -> Sink:
        from db.clickhouse.sink_process import ClickHouseSinkProcess

        url = migrated(f"chdb://{tmp}/child?database=bench")
        sink = ClickHouseSinkProcess(parse_store_url(url), f"{tmp}/spool-child", 1 << 30)
        sink.start()
        return sink

    sinks: dict[str, Callable[[], Sink]] = {
        "SQLite, writer process": sqlite_process,
        "chDB, child process": chdb_child,  # before chDB is opened in this process (the child must own its own)
        "chDB, writer thread": chdb_thread,
    }
    results: dict[str, tuple[float, list[float]]] = {}
    for name, opener in sinks.items():
        sink = opener()
        try:
            run(sink, 0.5)  # warm-up
            results[name] = run(sink, args.seconds)
        finally:
            sink.close()
        assert sink.spooled_events == 0, "the sink spooled: a write failed"
    base = results["SQLite, writer process"][0]
    for name, (events_s, (main_us, writer_us, engine_us)) in results.items():
        print(
            f"  {name:<24} {events_s:>9,.0f} events/s  ×{events_s / base:4.2f}   CPU/event here: main thread"
            f" {main_us:4.1f}, writer thread {writer_us:4.1f} (under the GIL), engine threads {engine_us:4.1f} µs"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
