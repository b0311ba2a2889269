"""The batching writer: flush on count or interval, nothing lost on stop, bounded WAL under steady readers."""

from __future__ import annotations

import asyncio
import os
import sqlite3

from db.records import EventRecord
from db.sqlite.connection import connect
from db.sqlite.store import SqliteStore
from db.url import sqlite_url
from db.writer import QueueFull, Writer
from tests.engines import sqlite_store


def row(i: int) -> tuple[object, ...]:
    return EventRecord(ts=1_700_000_000 + i, site="example.com", type="pageview", path=f"/p/{i}",
                       title="t" * 200).as_row()


def count(path) -> int:
    conn = sqlite3.connect(path)
    try:
        return conn.execute("SELECT count(*) FROM events").fetchone()[0]
    finally:
        conn.close()


async def test_flushes_when_the_count_is_reached(tmp_path):
    w = Writer(sqlite_store(tmp_path / "w.db"), flush_interval_s=60, flush_count=10)
    await w.start()
    for i in range(10):
        w.add_event(row(i))
    for _ in range(100):
        if count(tmp_path / "w.db") == 10:
            break
        await asyncio.sleep(0.02)
    assert count(tmp_path / "w.db") == 10 and w.queue_depth == 0
    await w.stop()


async def test_flushes_on_the_interval(tmp_path):
    w = Writer(sqlite_store(tmp_path / "w.db"), flush_interval_s=0.1, flush_count=1000)
    await w.start()
    w.add_event(row(1))
    await asyncio.sleep(0.4)
    assert count(tmp_path / "w.db") == 1
    await w.stop()


async def test_stop_writes_everything_queued(tmp_path):
    w = Writer(sqlite_store(tmp_path / "w.db"), flush_interval_s=60, flush_count=100_000)
    await w.start()
    for i in range(2345):
        w.add_event(row(i))
    await w.stop()
    assert count(tmp_path / "w.db") == 2345


async def test_a_flush_called_while_one_is_writing_returns_once_that_one_is_written(tmp_path):
    w = Writer(sqlite_store(tmp_path / "w.db"), flush_interval_s=60, flush_count=100_000)
    await w.start()
    for i in range(500):
        w.add_event(row(i))
    under_way = asyncio.create_task(w.flush())  # as the interval's flush: it takes the batch, then writes it
    await asyncio.sleep(0)
    await w.flush()  # a caller (a test, another collector's reader) wanting everything accepted so far stored
    assert w.queue_depth == 0 and count(tmp_path / "w.db") == 500
    await under_way
    await w.stop()


async def test_bounded_queue_refuses_when_full(tmp_path):
    w = Writer(sqlite_store(tmp_path / "w.db"), flush_interval_s=60, flush_count=100_000, queue_max=3)
    await w.start()
    for i in range(3):
        w.add_event(row(i))
    assert not w.has_room()
    try:
        w.add_event(row(4))
        raise AssertionError("expected QueueFull")
    except QueueFull:
        pass
    assert w.stats.rejected_full == 1
    await w.stop()
    assert count(tmp_path / "w.db") == 3


async def test_failed_flush_keeps_the_data_and_retries(tmp_path):
    calls = {"n": 0}

    def flaky_hook(conn: sqlite3.Connection, batch) -> None:
        calls["n"] += 1
        if calls["n"] == 1:
            raise sqlite3.OperationalError("disk I/O error (simulated by a failing flush hook)")

    w = Writer(SqliteStore(sqlite_url(tmp_path / "w.db"), hooks=[flaky_hook]), flush_interval_s=60, )
    await w.start()
    w.add_event(row(1))
    await w.flush()
    assert count(tmp_path / "w.db") == 0 and w.stats.errors == 1 and w.queue_depth == 1
    w.add_event(row(2))
    await w.flush()
    assert count(tmp_path / "w.db") == 2 and w.queue_depth == 0
    await w.stop()


async def test_wal_stays_bounded_while_a_reader_keeps_reading(tmp_path):
    path = tmp_path / "w.db"
    w = Writer(sqlite_store(path), flush_interval_s=0.01, flush_count=2000)
    await w.start()
    reader = connect(path, readonly=True)
    biggest = 0
    for chunk in range(40):
        for i in range(2000):
            w.add_event(row(chunk * 2000 + i))
        await w.flush()
        reader.execute("SELECT count(*) FROM events").fetchone()  # a TUI-like reader, one query at a time
        biggest = max(biggest, os.path.getsize(f"{path}-wal"))
    await w.stop()
    reader.close()
    assert count(path) == 80_000
    db_size = os.path.getsize(path)
    assert biggest < db_size / 2, (biggest, db_size)


def fail_while_marked(conn: sqlite3.Connection, batch) -> None:
    """A flush hook (module-level, so a writer process can run it) that fails while `<db>.fail` exists."""
    db_file = conn.execute("PRAGMA database_list").fetchone()[2]
    if os.path.exists(f"{db_file}.fail"):
        raise sqlite3.OperationalError("disk I/O error (simulated by a failing flush hook)")


async def test_writer_process_writes_and_keeps_failed_batches(tmp_path):
    path = tmp_path / "w.db"
    w = Writer(SqliteStore(sqlite_url(path), hooks=[fail_while_marked]), flush_interval_s=60, process=True)
    await w.start()
    assert w.child_pid is not None and w.child_pid != os.getpid()
    w.add_event(row(1))
    (tmp_path / "w.db.fail").touch()
    await w.flush()
    assert count(path) == 0 and w.stats.errors == 1 and w.queue_depth == 1
    assert "OperationalError: disk I/O error" in w.stats.last_error
    (tmp_path / "w.db.fail").unlink()
    w.add_event(row(2))
    await w.flush()
    assert count(path) == 2 and w.queue_depth == 0
    assert await w.run_in_thread(lambda: count(path)) == 2
    await w.stop()
    assert w.child_pid is None
    assert not os.path.exists(f"{path}-wal") or os.path.getsize(f"{path}-wal") == 0  # the child checkpointed


async def test_writer_process_killed_loses_nothing_queued(tmp_path):
    path = tmp_path / "w.db"
    w = Writer(sqlite_store(path), flush_interval_s=60, process=True)
    await w.start()
    os.kill(w.child_pid, 9)
    w.add_event(row(1))
    await w.flush()  # the dead child fails this flush; the batch is kept
    assert count(path) == 0 and w.stats.errors == 1 and w.queue_depth == 1
    await w.flush()  # a new child writes it
    assert count(path) == 1 and w.queue_depth == 0
    await w.stop()


async def page_count(w: Writer) -> int:
    return int(await w.run_in_thread(lambda: w._sink.conn.execute("PRAGMA page_count").fetchone()[0]))  # type: ignore[union-attr]


def paths(path) -> list[str]:
    conn = sqlite3.connect(path)
    try:
        return [r[0] for r in conn.execute("SELECT path FROM events ORDER BY path")]
    finally:
        conn.close()


async def test_disk_full_keeps_acknowledged_events_queued_and_writes_them_once_when_space_returns(
    tmp_path, caplog
):
    """A real SQLITE_FULL: the writer's connection may not grow the file past its current size (max_page_count,
    set on the writer thread's own connection)."""
    db = tmp_path / "full.db"
    w = Writer(sqlite_store(db), flush_interval_s=60, flush_count=100_000, queue_max=300)
    await w.start()
    for i in range(100):
        w.add_event(row(i))
    await w.flush()
    pages = await page_count(w)
    await w.run_in_thread(lambda: w._sink.conn.execute(f"PRAGMA max_page_count = {pages}"))
    for i in range(100, 400):
        w.add_event(row(i))  # acknowledged: the collector answered 202 for each
    for _ in range(3):
        await w.flush()
    assert w.stats.problem == "disk full"
    assert w.queue_depth == 300 and not w.has_room()  # bounded: the next event is refused (503)
    try:
        w.add_event(row(400))
        raise AssertionError("expected QueueFull")
    except QueueFull:
        pass
    assert count(db) == 100
    errors = [r.getMessage() for r in caplog.records if r.name == "sitelens.writer" and r.levelname == "ERROR"]
    assert len(errors) == 1 and "disk full" in errors[0] and "database or disk is full" in errors[0], errors
    assert not any("cannot rollback" in r.getMessage() for r in caplog.records)

    await w.run_in_thread(lambda: w._sink.conn.execute("PRAGMA max_page_count = 1073741823"))  # space is back
    await w.flush()
    assert w.stats.problem == "" and w.queue_depth == 0
    assert paths(db) == sorted(f"/p/{i}" for i in range(400))  # every acknowledged event, each once
    assert any("writes resumed" in r.getMessage() for r in caplog.records)
    await w.stop()


async def test_read_only_database_is_named_and_nothing_is_lost(tmp_path):
    db = tmp_path / "ro.db"
    w = Writer(sqlite_store(db), flush_interval_s=60, flush_count=100_000)
    await w.start()
    await w.run_in_thread(lambda: w._sink.conn.execute("PRAGMA query_only = 1"))  # every write now gets SQLITE_READONLY
    w.add_event(row(1))
    await w.flush()
    assert w.stats.problem == "database read-only" and w.queue_depth == 1
    await w.run_in_thread(lambda: w._sink.conn.execute("PRAGMA query_only = 0"))
    await w.flush()
    assert w.stats.problem == "" and paths(db) == ["/p/1"]
    await w.stop()


async def test_another_process_holding_the_write_lock_past_the_busy_timeout(tmp_path):
    db = tmp_path / "busy.db"
    w = Writer(sqlite_store(db), flush_interval_s=60, flush_count=100_000)
    await w.start()
    await w.run_in_thread(lambda: w._sink.conn.execute("PRAGMA busy_timeout = 200"))
    holder = sqlite3.connect(db, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        w.add_event(row(1))
        await w.flush()
        assert w.stats.problem == "database busy" and w.queue_depth == 1
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    await w.flush()
    assert w.stats.problem == "" and paths(db) == ["/p/1"]
    await w.stop()
