"""The scheduled export: every N hours hand new events to a run, stage it, deliver it to every destination.

Exactly once: the cursor advances in the transaction that records the run, a run's objects are named by
its run id (a retry overwrites, never adds), and a run is done only after every destination confirmed it.
"""

from __future__ import annotations

import asyncio
import logging
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

from aiohttp import web

from collector import keys
from collector.config import Config
from collector.export.destinations import Destination, DestinationError, build_destinations
from collector.export.staging import StagedRun, discard_staging, stage_run
from collector.export.status import ExportState
from db.export.runs import ExportLedger
from db.store import Store, open_store

log = logging.getLogger("sitelens.export")

LEASE_S = 1800.0
"""A claimed delivery belongs to its process this long; after a crash another process may take it over."""
MAX_RUN_ROWS = 1_000_000
"""A large backlog is cut into runs of at most this many events."""
TICK_S = 60.0
"""How often the service checks for due runs and retries."""


def backoff(attempts: int) -> float:
    """Seconds before the next try after `attempts` failures: 30 s doubling, at most an hour."""
    return float(min(3600, 30 * 2 ** max(0, attempts - 1)))


@dataclass(slots=True)
class TickReport:
    """What one tick did."""

    planned: list[str] = field(default_factory=list)
    delivered: list[tuple[str, str]] = field(default_factory=list)
    failed: list[tuple[str, str, str]] = field(default_factory=list)
    completed: list[str] = field(default_factory=list)


def is_due(last_created: float | None, now: float, hours: float) -> bool:
    return hours > 0 and (last_created is None or now - last_created >= hours * 3600 - 1)


def plan_due_runs(
    ledger: ExportLedger,
    cfg: Config,
    destinations: list[Destination],
    now: float,
    max_run_rows: int = MAX_RUN_ROWS,
) -> list[str]:
    """If a period has passed, hand every new event to runs (several if the backlog is large)."""
    planned: list[str] = []
    if not destinations or not is_due(ledger.last_run_created(), now, cfg.export.schedule_hours):
        return planned
    names = [d.name for d in destinations]
    while (run := ledger.plan_run(now, cfg.export.format, names, max_run_rows)) is not None:
        log.info("export run %s planned: %d events (%s)", run.id, run.rows, ledger.run_range_text(run))
        planned.append(run.id)
    return planned


def _deliver_one(dest: Destination, staged: StagedRun, state: ExportState) -> str | None:
    """Deliver to one destination on a worker thread; returns an error message or None."""
    progress = state.for_destination(dest.name)
    progress.state, progress.run_id, progress.sent, progress.total = (
        "sending",
        staged.run.id,
        0,
        staged.total_bytes,
    )

    def sent(n: int) -> None:
        progress.sent += n

    try:
        dest.deliver(staged, sent)
    except DestinationError as exc:
        return str(exc) or "delivery failed"
    except Exception as exc:  # a destination bug must not stop the others or lose the run
        log.exception("export destination %s crashed", dest.name)
        return f"{type(exc).__name__}: {exc}"
    return None


def deliver_pending(
    ledger: ExportLedger, destinations: list[Destination], root: Path, state: ExportState, now: float
) -> TickReport:
    """Deliver every due (run, destination) pair; mark runs done once all their destinations confirmed."""
    report = TickReport()
    by_name = {d.name: d for d in destinations}
    failing: set[str] = set()
    for run in ledger.pending_runs():
        todo: list[Destination] = []
        for delivery in ledger.deliveries(run.id):
            if delivery.state in ("done", "dropped"):
                continue
            dest = by_name.get(delivery.destination)
            if dest is None:
                log.warning(
                    "export run %s: destination %s is no longer configured; dropping it",
                    run.id,
                    delivery.destination,
                )
                ledger.drop_delivery(
                    run.id, delivery.destination, now, "destination no longer configured"
                )
                continue
            if dest.name in failing:
                continue
            if ledger.claim_delivery(run.id, dest.name, now, LEASE_S):
                todo.append(dest)
        if todo:
            try:
                staged = stage_run(ledger, run, root)
            except Exception as exc:
                error = f"staging failed: {type(exc).__name__}: {exc}"
                log.error("export run %s: %s", run.id, error)
                for dest in todo:
                    _failed(ledger, run.id, dest.name, error, now, report, failing, state)
                continue
            ledger.set_run_size(run.id, staged.rows, staged.bytes)
            with ThreadPoolExecutor(max_workers=len(todo), thread_name_prefix="sitelens-export") as pool:
                errors = list(pool.map(partial(_deliver_one, staged=staged, state=state), todo))
            done_at = time.time()
            for dest, problem in zip(todo, errors, strict=True):
                if problem is None:
                    ledger.finish_delivery(run.id, dest.name, done_at)
                    progress = state.for_destination(dest.name)
                    progress.state, progress.last_ok, progress.last_error, progress.attempts = (
                        "ok",
                        done_at,
                        "",
                        0,
                    )
                    report.delivered.append((run.id, dest.name))
                    log.info(
                        "export run %s delivered to %s: %d rows, %d bytes",
                        run.id,
                        dest.name,
                        staged.rows,
                        staged.bytes,
                    )
                else:
                    _failed(ledger, run.id, dest.name, problem, now, report, failing, state)
        if ledger.complete_run_if_delivered(run.id, time.time()):
            discard_staging(root, run.id)
            report.completed.append(run.id)
    return report


def _failed(
    ledger: ExportLedger,
    run_id: str,
    dest: str,
    error: str,
    now: float,
    report: TickReport,
    failing: set[str],
    state: ExportState,
) -> None:
    attempts = next((d.attempts for d in ledger.deliveries(run_id) if d.destination == dest), 0) + 1
    wait = backoff(attempts)
    ledger.fail_delivery(run_id, dest, now, error, now + wait)
    failing.add(dest)
    progress = state.for_destination(dest)
    progress.state, progress.last_error, progress.attempts = "failing", error, attempts
    report.failed.append((run_id, dest, error))
    log.warning(
        "export run %s to %s failed (attempt %d, retry in %.0fs): %s", run_id, dest, attempts, wait, error
    )


def export_tick(
    cfg: Config,
    *,
    store: Store | None = None,
    now: float | None = None,
    destinations: list[Destination] | None = None,
    state: ExportState | None = None,
    plan: bool = True,
    max_run_rows: int = MAX_RUN_ROWS,
) -> TickReport:
    """One pass of the scheduled export (the service, tests and `export-runs retry`), on `store` or on the
    configured store opened for the pass."""
    now = time.time() if now is None else now
    dests = build_destinations(cfg) if destinations is None else destinations
    state = state or ExportState(dests, cfg.export.schedule_hours)
    own = store is None
    store = open_store(cfg.store_url) if store is None else store
    try:
        with state.lock, store.export_ledger() as ledger:
            planned = plan_due_runs(ledger, cfg, dests, now, max_run_rows) if plan else []
            report = deliver_pending(ledger, dests, cfg.export_staging_dir, state, now)
            report.planned = planned
            state.health = ledger.health()
    finally:
        if own:
            store.close()
    return report


async def scheduled_export_service(app: web.Application) -> None:
    """Service body: run a tick on a worker thread (never blocks the event loop)."""
    state = app[keys.EXPORT]
    if state.schedule_hours <= 0 and not state.destinations:
        return
    cfg = app[keys.CONFIG]
    await asyncio.to_thread(
        export_tick,
        cfg,
        store=app[keys.STORE],
        destinations=state.destinations,
        state=state,
        plan=state.schedule_hours > 0,
    )


def service_interval(app: web.Application) -> float:
    """Tick every minute while scheduled export is on (retries need it), else check hourly for nothing."""
    state = app.get(keys.EXPORT)
    if state is None or state.schedule_hours <= 0:
        return 3600.0
    return min(TICK_S, state.schedule_hours * 3600)


def setup_scheduled_export(app: web.Application) -> None:
    """Build and check the destinations at start-up (ConfigError stops the collector with one line)."""
    cfg = app[keys.CONFIG]
    app[keys.EXPORT] = ExportState(build_destinations(cfg), cfg.export.schedule_hours)
