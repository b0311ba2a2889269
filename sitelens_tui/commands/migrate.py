"""`sitelens migrate --from URL --to URL`: copy a SQLite store into ClickHouse, resumable, counting both sides."""

from __future__ import annotations

import argparse
import sys

from collector.errors import UserError
from db.copy import copy_store
from db.records import COPY_TABLES
from db.store import open_store
from db.url import StoreUrlError, parse_store_url
from sitelens_tui.commands.export import ProgressBar


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "migrate",
        help="copy every event, session, fingerprint and control row from one store into another "
        "(e.g. SQLite into ClickHouse); run it again to resume",
    )
    p.add_argument("--from", dest="source", required=True, metavar="URL", help="the store to copy (sqlite://PATH)")
    p.add_argument(
        "--to",
        dest="target",
        required=True,
        metavar="URL",
        help="the store to fill (clickhouse://…, clickhouses://… or chdb://PATH)",
    )
    p.add_argument("--create", action="store_true", help="create the target ClickHouse database if it is missing")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    try:
        source_url, target_url = parse_store_url(args.source), parse_store_url(args.target)
    except StoreUrlError as exc:
        raise UserError(str(exc)) from None
    if source_url == target_url:
        raise UserError("--from and --to name the same store")
    source = open_store(source_url, readonly=True, create=False)
    target = open_store(target_url, create=args.create or None)
    bars: dict[str, ProgressBar] = {}

    def progress(table: str, rows: int) -> None:
        bar = bars.get(table)
        if bar is None:
            for done in bars.values():
                done.done()
            bar = bars[table] = ProgressBar(source.count_table(table) or None, label=f"{table:<18} ")
        bar.update(rows, 0, force=True)

    try:
        report = copy_store(source, target, progress=progress)
    finally:
        for bar in bars.values():
            bar.done()
        source.close()
        target.close()
    print(f"{'table':<20}{'source':>14}{'target':>14}")
    for table in COPY_TABLES:
        print(f"{table:<20}{report.source[table]:>14,}{report.target[table]:>14,}")
    short = [t for t in COPY_TABLES if report.target[t] < report.source[t]]
    if short:
        print(
            f"fewer rows in the target for: {', '.join(short)} (run the same command again to resume)", file=sys.stderr
        )
        return 1
    print(f"copied {source_url.display()} into {target_url.display()}")
    return 0
