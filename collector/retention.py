"""The retention service: deletes raw rows past `retention.raw_days` batch by batch between writer flushes."""

from __future__ import annotations

import asyncio
import logging
import time

from aiohttp import web

from collector import keys
from db.retention import BATCH_ROWS, RAW_TABLES, ROLLUP_TABLES, cutoffs, delete_raw_batch, delete_rollup_batch

log = logging.getLogger("sitelens.retention")

INTERVAL_S = 300.0
PAUSE_S = 0.05
"""Breather between batches so queued flushes go first."""


async def enforce_retention(app: web.Application, now: float | None = None) -> dict[str, int]:
    """Delete what is due, one short transaction per batch on the writer's thread; counts per table."""
    cfg = app[keys.CONFIG].retention
    due = cutoffs(time.time() if now is None else now, cfg.raw_days, cfg.rollup_days)
    writer = app[keys.WRITER]
    deleted: dict[str, int] = {}
    jobs = [(t, due.raw, delete_raw_batch) for t in RAW_TABLES if due.raw is not None]
    jobs += [(t, due.rollups, delete_rollup_batch) for t in ROLLUP_TABLES if due.rollups is not None]
    for table, cutoff, delete in jobs:
        while True:
            n: int = await writer.run_in_thread(
                lambda conn, t=table, c=cutoff, d=delete: d(conn, t, c, BATCH_ROWS)  # type: ignore[misc]
            )  # type: ignore[assignment]
            if n:
                deleted[table] = deleted.get(table, 0) + n
            if n < BATCH_ROWS:
                break
            await asyncio.sleep(PAUSE_S)
    if deleted:
        log.info("retention deleted %s", ", ".join(f"{n} {t}" for t, n in sorted(deleted.items())))
    return deleted


async def retention_service(app: web.Application) -> None:
    """The background service entry (collector.tasks.SERVICES)."""
    await enforce_retention(app)
