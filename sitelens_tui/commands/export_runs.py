"""`sitelens export-runs [list|retry [RUN]]`: scheduled export runs and errors; retry now."""

from __future__ import annotations

import argparse
import sys
import time

from collector.errors import UserError
from collector.export.status import ExportState, status_line
from db.store import open_store
from sitelens_tui.commands.export import human_bytes


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "export-runs", help="list scheduled export runs and their errors; retry failed deliveries"
    )
    actions = p.add_subparsers(dest="runs_action", metavar="ACTION")
    ls = actions.add_parser("list", help="show recent runs (the default)")
    ls.add_argument("--limit", type=int, default=20, help="how many runs (default 20)")
    retry = actions.add_parser("retry", help="deliver failed or pending runs now")
    retry.add_argument("run_id", nargs="?", help="only this run")
    p.set_defaults(func=run, runs_action="list", limit=20)


def _when(ts: float | None) -> str:
    return "-" if ts is None else time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(ts))


def list_runs(args: argparse.Namespace) -> int:
    store = open_store(args.config_obj.store_url, create=False)
    try:
        with store.export_ledger() as ledger:
            runs = ledger.recent_runs(max(1, args.limit))
            if not runs:
                print("no export runs yet (set [export] schedule_hours and a directory or destinations)")
                return 0
            print(status_line(ledger.health()))
            for run in runs:
                print(
                    f"{run.id}  {run.state:<7}  {run.rows:>9,} rows  {human_bytes(run.bytes):>9}  "
                    f"{ledger.run_range_text(run)}  created {_when(run.created)}"
                )
                for d in ledger.deliveries(run.id):
                    line = f"    {d.destination}: {d.state}, {d.attempts} attempt(s)"
                    if d.state == "failed":
                        line += f", next try {_when(d.next_try)}"
                    if d.error:
                        line += f" — {d.error}"
                    print(line)
    finally:
        store.close()
    return 0


def retry_runs(args: argparse.Namespace) -> int:
    cfg = args.config_obj
    from collector.export.scheduled import export_tick  # here, not at the top: it brings aiohttp

    store = open_store(cfg.store_url, create=False)
    try:
        with store.export_ledger() as ledger:
            if args.run_id and ledger.get_run(args.run_id) is None:
                raise UserError(f"no export run {args.run_id!r} (see `sitelens export-runs`)")
            ledger.make_due(args.run_id)
        state = ExportState()
        report = export_tick(cfg, store=store, state=state, plan=False)
    finally:
        store.close()
    for run_id, dest in report.delivered:
        print(f"delivered {run_id} to {dest}")
    for run_id, dest, error in report.failed:
        print(f"failed {run_id} to {dest}: {error}", file=sys.stderr)
    if not report.delivered and not report.failed:
        print("nothing to retry")
    print(status_line(state.health) if state.health else "")
    return 1 if report.failed else 0


def run(args: argparse.Namespace) -> int:
    if args.runs_action == "retry":
        return retry_runs(args)
    return list_runs(args)
