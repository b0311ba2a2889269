"""`sitelens export`: stream a table to CSV, NDJSON or Parquet with a progress bar and a one-line summary."""

from __future__ import annotations

import argparse
import sys
import time
from typing import TextIO

from collector.export.exporter import export_table, table_filter
from collector.export.files import check_target
from collector.export.formats import FORMATS, ExportError, check_format
from collector.export.spans import resolve_span
from db.export.streams import BOTS, WHATS, ExportQueryError
from db.store import open_store


def human_bytes(n: float) -> str:
    """1536 → '1.5 KB'."""
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} GB"


class ProgressBar:
    """A one-line progress bar on a terminal (stderr); silent when stderr is not a terminal."""

    def __init__(self, total: int | None, label: str = "", stream: TextIO | None = None) -> None:
        self.stream = stream or sys.stderr
        self.total = total
        self.label = label
        self.enabled = self.stream.isatty()
        self._last = 0.0

    def update(self, rows: int, size: int, *, force: bool = False) -> None:
        """Redraw at most ten times a second."""
        now = time.monotonic()
        if not self.enabled or (not force and now - self._last < 0.1):
            return
        self._last = now
        if self.total:
            frac = min(1.0, rows / self.total)
            bar = "#" * int(frac * 30)
            text = f"[{bar:<30}] {frac:4.0%} {rows:,}/{self.total:,} rows, {human_bytes(size)}"
        else:
            text = f"{rows:,} rows, {human_bytes(size)}"
        self.stream.write(f"\r{self.label}{text}\x1b[K")
        self.stream.flush()

    def done(self) -> None:
        if self.enabled:
            self.stream.write("\r\x1b[K")
            self.stream.flush()


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("export", help="export events, sessions, rollups, anomalies or funnels (CSV, NDJSON, Parquet)")
    p.add_argument("--format", default="csv", metavar="FMT", help=f"{' | '.join(FORMATS)} (default csv)")
    p.add_argument("--what", default="events", metavar="TABLE", help=f"{' | '.join(WHATS)} (default events)")
    p.add_argument(
        "-o",
        "--output",
        required=True,
        metavar="FILE",
        help="output file ('-' for stdout; .gz compresses); written to a temporary file beside it and renamed "
        "when complete; never a SQLite database or its -wal/-shm files",
    )
    p.add_argument("--force", action="store_true", help="overwrite an existing export file (never a database)")
    p.add_argument("--site", default="", help="only this site")
    p.add_argument("--since", metavar="AGO", help="only the last 30m, 24h, 7d, 2w ...")
    p.add_argument("--from", dest="date_from", metavar="DATE", help="from this ISO date/datetime (UTC)")
    p.add_argument("--to", dest="date_to", metavar="DATE", help="up to and including this ISO date (UTC)")
    p.add_argument("--bots", default="all", metavar="WHO", help=f"{' | '.join(BOTS)} (default all)")
    p.add_argument("--table", help="which daily rollup: traffic (default), pages, events or dims")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Validate everything before touching the output, then stream the export."""
    check_format(args.format)
    if args.what not in WHATS:
        raise ExportError(f"unknown --what {args.what!r} (choose from {', '.join(WHATS)})")
    if args.bots not in BOTS:
        raise ExportError(f"unknown --bots {args.bots!r} (choose from {', '.join(BOTS)})")
    start, end = resolve_span(args.since, args.date_from, args.date_to, time.time())
    check_target(args.output, databases=[args.config_obj.db_path], force=args.force)
    store = open_store(args.config_obj.store_url, readonly=True, create=False)
    try:
        flt = table_filter(args.site, start, end, args.bots)
        bar = ProgressBar(None, label="exporting ")
        if bar.enabled and args.what != "funnels":
            try:
                bar.total = store.count_rows(args.what, flt, args.table)
            except ExportQueryError as exc:
                raise ExportError(str(exc)) from None
        result = export_table(
            store,
            args.what,
            args.format,
            args.output,
            args.site,
            start,
            end,
            args.bots,
            progress=bar.update,
            table=args.table,
            funnels_config=args.config_obj.funnels,
        )
        bar.update(result.rows, result.bytes, force=True)
        bar.done()
    finally:
        store.close()
    where = "stdout" if result.path == "-" else result.path
    print(f"exported {result.rows:,} {args.what} rows ({human_bytes(result.bytes)}) to {where}", file=sys.stderr)
    return 0
