"""Background services of the collector: small periodic jobs started and stopped with the app."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass

from aiohttp import web

from collector import keys
from collector.anomalies import anomaly_service
from collector.export.scheduled import scheduled_export_service, service_interval
from collector.retention import INTERVAL_S as RETENTION_INTERVAL_S
from collector.retention import retention_service
from collector.throttle import override_from_row

log = logging.getLogger("sitelens.tasks")


@dataclass(slots=True, frozen=True)
class Service:
    """A job run every `interval_s` seconds for as long as the collector runs."""

    name: str
    interval_s: Callable[[web.Application], float]
    run: Callable[[web.Application], Awaitable[None]]


async def expire_sessions(app: web.Application) -> None:
    """Forget sessions that ended (30 min idle) so memory stays flat."""
    app[keys.PIPELINE].expire(time.time())


async def forget_old_salts(app: web.Application) -> None:
    """Delete salts older than yesterday: yesterday's visitors can no longer be recognised."""
    app[keys.PIPELINE].salts.forget_old()


async def sync_throttle(app: web.Application) -> None:
    """Reload manual overrides (another process may have written one) and queue drop counts."""
    throttle = app[keys.PIPELINE].throttle
    if throttle is None:
        return
    rows = await asyncio.to_thread(app[keys.STORE].active_overrides)
    throttle.set_overrides([o for o in map(override_from_row, rows) if o is not None])
    drops = throttle.take_drops()
    if drops:
        app[keys.WRITER].add_drops(drops, time.time())
    changes = throttle.take_level_changes()
    if changes:
        app[keys.WRITER].add_level_changes({fp: level.label for fp, level in changes.items()})


SPLIT_VISITS_WINDOW_S = 1800.0


async def warn_split_visits(app: web.Application) -> None:
    """Say so when visits are split between collectors (a load balancer not routing clients by address)."""
    n = await asyncio.to_thread(app[keys.STORE].split_visits, time.time() - SPLIT_VISITS_WINDOW_S)
    if n:
        log.warning(
            "%d visitors in the last 30 minutes had two sessions at once: their visits reached more than one "
            "collector. Route clients to collectors by address (nginx `hash $remote_addr consistent;`, Caddy "
            "`lb_policy ip_hash`); see README, Outgrowing one server", n,
        )


SERVICES: list[Service] = [
    Service("expire-sessions", lambda app: 30.0, expire_sessions),
    Service("forget-salts", lambda app: 3600.0, forget_old_salts),
    Service("throttle-sync", lambda app: 1.0, sync_throttle),
    Service("scheduled-export", service_interval, scheduled_export_service),
    Service("anomalies", lambda app: app[keys.CONFIG].anomalies.interval_s, anomaly_service),
    Service("retention", lambda app: RETENTION_INTERVAL_S, retention_service),
    Service("split-visits", lambda app: 300.0, warn_split_visits),
]
"""Every background service; each feature adds its own here."""


async def _loop(app: web.Application, service: Service) -> None:
    """Run one service forever; an error is logged and the service goes on at its next tick."""
    while True:
        await asyncio.sleep(service.interval_s(app))
        try:
            await service.run(app)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("background service %s failed", service.name)


async def background_ctx(app: web.Application) -> AsyncIterator[None]:
    """cleanup_ctx: start every service after storage is open, cancel them before it closes."""
    tasks = [asyncio.create_task(_loop(app, s), name=f"sitelens-{s.name}") for s in SERVICES]
    yield
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
