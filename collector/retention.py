"""The retention service: deletes raw rows past `retention.raw_days` batch by batch between writer flushes."""

from __future__ import annotations

import asyncio
import logging
import time

from aiohttp import web

from collector import keys
from db.store import EXPIRE_BATCH_ROWS

log = logging.getLogger("sitelens.retention")

INTERVAL_S = 300.0
PAUSE_S = 0.05
"""Breather between batches so queued flushes go first."""


async def enforce_retention(app: web.Application, now: float | None = None) -> dict[str, int]:
    """Delete what is due, one short batch per table at a time on the writer's thread; counts per table."""
    cfg = app[keys.CONFIG].retention
    now = time.time() if now is None else now
    store = app[keys.STORE]
    deleted: dict[str, int] = {}
    while True:
        batch = await app[keys.WRITER].run_in_thread(
            lambda: store.expire(now, cfg.raw_days, cfg.rollup_days, EXPIRE_BATCH_ROWS)
        )
        for table, n in batch.items():
            deleted[table] = deleted.get(table, 0) + n
        if not any(n >= EXPIRE_BATCH_ROWS for n in batch.values()):
            break
        await asyncio.sleep(PAUSE_S)
    if deleted:
        log.info("retention deleted %s", ", ".join(f"{n} {t}" for t, n in sorted(deleted.items())))
    return deleted


async def retention_service(app: web.Application) -> None:
    """The background service entry (collector.tasks.SERVICES)."""
    await enforce_retention(app)
