"""The one batching writer: queued records go to the store on an interval or a count, whichever comes first."""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
from typing import TypeVar

from db.batch import Batch
from db.errors import storage_problem
from db.records import FingerprintRecord
from db.store import Sink, Store

log = logging.getLogger("sitelens.writer")
T = TypeVar("T")
FAILURE_LOG_EVERY_S = 60.0
"""While flushes keep failing for the same reason, one log line this often (not one per retry)."""

BatchSource = Callable[[Batch], None]
"""Called on the event loop just before a flush to add rows kept elsewhere (live session snapshots)."""


@dataclass(slots=True)
class WriterStats:
    """Counters shown by /healthz and the TUI status bar."""

    written_events: int = 0
    flushes: int = 0
    rejected_full: int = 0
    errors: int = 0
    last_error: str = ""
    last_flush_ms: float = 0.0
    last_flush_at: float = 0.0
    problem: str = ""
    """Why flushes are failing right now, in words ('disk full', 'database read-only', 'database busy',
    'database error'); empty while they succeed. Events stay queued meanwhile."""
    failing_since: float = 0.0
    """When the current run of failed flushes began (0 while flushes succeed)."""


class QueueFull(Exception):
    """The writer's bounded queue is full; the caller answers 503."""


class Writer:
    """Accepts records from the event loop and writes them from one thread (or a child process), in batches."""

    def __init__(
        self,
        store: Store,
        *,
        flush_interval_s: float = 1.0,
        flush_count: int = 500,
        queue_max: int = 50_000,
        process: bool = False,
        cache_kib: int | None = None,
        spool_dir: str = "",
        spool_max_bytes: int = 0,
    ) -> None:
        self.store = store
        self.flush_interval_s = flush_interval_s
        self.flush_count = flush_count
        self.queue_max = queue_max
        self._open_sink = partial(
            store.open_sink, process=process, cache_kib=cache_kib, spool_dir=spool_dir, spool_max_bytes=spool_max_bytes
        )
        self._sources: list[BatchSource] = []
        self.stats = WriterStats()
        self._batch = Batch()
        self._pending = 0  # events queued in _batch plus the batch being written
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sitelens-writer")
        self._sink: Sink | None = None
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        self._last_failure_log = 0.0

    @property
    def child_pid(self) -> int | None:
        """The writer process's id when flushes run in one (None on the thread, or before it starts)."""
        return self._sink.pid if self._sink is not None else None

    @property
    def queue_depth(self) -> int:
        """Events accepted but not yet committed."""
        return self._pending

    @property
    def spooled_events(self) -> int:
        """Events acknowledged into the local spool while the store was away (ClickHouse), not yet stored."""
        return self._sink.spooled_events if self._sink is not None else 0

    async def start(self) -> None:
        """Open the store's sink (a SQLite writer process migrates the file first) and start the flush loop.

        With `process=True` a SQLite store (writes and rollups) and a ClickHouse server (insert blocks, the spool)
        are written from a child process with its own interpreter lock; chDB stays in this process."""
        loop = asyncio.get_running_loop()
        self._sink = await loop.run_in_executor(self._executor, self._open_sink)
        self._task = asyncio.create_task(self._run(), name="sitelens-writer")

    def has_room(self, n: int = 1) -> bool:
        return self._pending + n <= self.queue_max

    def add_event(self, row: tuple[object, ...]) -> None:
        """Queue one event row (call `has_room` first; raises QueueFull when there is none)."""
        if self._pending >= self.queue_max:
            self.stats.rejected_full += 1
            raise QueueFull
        self._batch.events.append(row)
        self._pending += 1
        if len(self._batch.events) >= self.flush_count:
            self._wake.set()

    def add_source(self, source: BatchSource) -> None:
        """Register a callable that fills each batch just before it is written."""
        self._sources.append(source)

    def add_session(self, session_id: int, row: tuple[object, ...]) -> None:
        """Queue the newest snapshot of a session (replaces an older one in the same batch)."""
        self._batch.sessions[session_id] = row

    def add_fingerprint(self, record: FingerprintRecord) -> None:
        """Queue reputation news for a fingerprint, merged with anything already queued for it."""
        old = self._batch.fingerprints.get(record.fingerprint)
        if old is not None:
            record = FingerprintRecord(
                fingerprint=record.fingerprint,
                seen=max(old.seen, record.seen),
                new_sessions=old.new_sessions + record.new_sessions,
                requests=old.requests + record.requests,
                score=max(old.score, record.score),
                level=record.level,
                ua=record.ua,
                bot_name=record.bot_name or old.bot_name,
                flags=record.flags,
            )
        self._batch.fingerprints[record.fingerprint] = record

    def add_level_changes(self, levels: dict[str, str]) -> None:
        """Queue throttle level changes (fingerprint → level name) for the fingerprints and live sessions."""
        self._batch.levels.update(levels)

    def add_drops(self, drops: Counter[tuple[str, str]], now: float) -> None:
        """Queue throttle drop counts (level, reason) for the current minute."""
        bucket = int(now // 60 * 60)
        for (level, reason), count in drops.items():
            self._batch.drops[(bucket, level, reason)] += count

    async def flush(self) -> None:
        """Write everything queued now (also used by tests and on shutdown)."""
        self._wake.clear()
        for source in self._sources:
            source(self._batch)
        batch, self._batch = self._batch, Batch()
        loop = asyncio.get_running_loop()
        if not len(batch):
            if self._sink is not None and self._sink.spooled_events:  # idle: send what an outage left behind
                await loop.run_in_executor(self._executor, self._sink.drain)
            return
        started = time.perf_counter()
        try:
            await loop.run_in_executor(self._executor, self._write, batch)
        except Exception as exc:  # keep the data and retry on the next flush
            self._requeue(batch)
            self._failed(exc)
            return
        if self.stats.problem:
            log.warning(
                "writes resumed after %.0fs of %s: %d queued events written",
                time.time() - self.stats.failing_since, self.stats.problem, len(batch.events),
            )
            self.stats.problem, self.stats.failing_since = "", 0.0
        self._pending -= len(batch.events)
        self.stats.flushes += 1
        self.stats.written_events += len(batch.events)
        self.stats.last_flush_ms = (time.perf_counter() - started) * 1000
        self.stats.last_flush_at = time.time()

    def _failed(self, exc: Exception) -> None:
        """Count a failed flush and say why: once when the reason starts or changes, then once a minute."""
        stats = self.stats
        stats.errors += 1
        stats.last_error = f"{type(exc).__name__}: {exc}"
        problem = storage_problem(exc) or "database error"
        now = time.time()
        if problem != stats.problem or now - self._last_failure_log >= FAILURE_LOG_EVERY_S:
            self._last_failure_log = now
            log.error(
                "flush failed (%s), %d events queued of %d, will retry: %s",
                problem, self._pending, self.queue_max, stats.last_error,
            )
        if not stats.problem:
            stats.failing_since = now
        stats.problem = problem

    def _requeue(self, batch: Batch) -> None:
        """Put a failed batch back in front of whatever arrived meanwhile."""
        newer, self._batch = self._batch, batch
        if len(newer):
            batch.token = ""  # other rows now: a name given to the failed rows alone would drop the new ones
        batch.events.extend(newer.events)
        batch.sessions.update(newer.sessions)
        batch.drops.update(newer.drops)
        batch.levels.update(newer.levels)
        batch.import_offset = newer.import_offset or batch.import_offset
        for fp in newer.fingerprints.values():
            self.add_fingerprint(fp)

    def _write(self, batch: Batch) -> None:
        """Runs on the writer thread: the batch goes to the sink (a child process, the store, or its spool)."""
        assert self._sink is not None, "writer not started"
        self._sink.write(batch)

    async def _run(self) -> None:
        """Flush when the count is reached or one interval after the previous flush began.

        Timed from the start of a flush, less its write time (not from its end): an accepted event is then
        committed within about one interval even when writes are slow, which bounds what kill -9 loses.
        """
        due = time.monotonic() + self.flush_interval_s
        while not self._stopping:
            try:
                await asyncio.wait_for(self._wake.wait(), timeout=max(0.0, due - time.monotonic()))
            except TimeoutError:
                pass
            began = time.monotonic()
            await self.flush()
            wrote = time.monotonic() - began
            due = began + self.flush_interval_s - min(wrote, self.flush_interval_s / 2)

    async def run_in_thread(self, fn: Callable[[], T]) -> T:
        """Run `fn()` on the writer's thread, between flushes (retention, anomaly bookkeeping): store work that
        should queue behind the flushes rather than compete with them."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, fn)

    async def stop(self) -> None:
        """Flush everything and close; nothing acknowledged is lost."""
        self._stopping = True
        self._wake.set()
        if self._task is not None:
            await asyncio.gather(self._task, return_exceptions=True)
        for _ in range(3):  # a failing disk gets a few chances before we give up
            await self.flush()
            if not len(self._batch):
                break
        loop = asyncio.get_running_loop()
        if len(self._batch) and self._sink is not None:
            try:  # the sink's last resort (a ClickHouse spool past its limit): kept for the next start
                await loop.run_in_executor(self._executor, self._sink.keep, self._batch)
                self._pending, self._batch = 0, Batch()
            except Exception as exc:
                log.error("stopping with %d queued events not written (%s)", self._pending,
                          self.stats.problem or storage_problem(exc) or exc)
        if self._sink is not None:
            await loop.run_in_executor(self._executor, self._sink.close)
            self._sink = None
        self._executor.shutdown(wait=True)
