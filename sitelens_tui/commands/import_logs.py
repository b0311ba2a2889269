"""`sitelens import FILE…`: import nginx/Apache/Caddy access logs (gzip too), optionally following one."""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
import time
from pathlib import Path
from typing import TextIO

from collector.config import Config
from collector.errors import UserError
from collector.logs.importer import Importer, ImportError_, ImportStats, UnreadableFile, sample_lines
from collector.logs.parse import FORMATS, detect_format

BAR_WIDTH = 24


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "import",
        help="import web-server access logs (combined, common, JSON lines; .gz too)",
        description="Import web-server access logs. Exit status: 0 when every line was imported (blank lines "
        "aside), 1 when some lines or files were skipped (the summary says which), 2 on an error.",
    )
    p.add_argument("files", nargs="+", metavar="FILE", help="access log files, oldest first (.gz allowed)")
    p.add_argument(
        "--format",
        choices=FORMATS,
        default="auto",
        help="log format (default: detected from the first lines)",
    )
    p.add_argument(
        "--site",
        default="",
        help="site the log belongs to (default: the only configured site, or the host field of JSON logs)",
    )
    p.add_argument("--follow", action="store_true", help="keep importing lines appended to FILE, across rotation")
    p.add_argument(
        "--streaming",
        action="store_true",
        help="import line by line, as --follow does, instead of a chunk at a time (same result, slower)",
    )
    p.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")
    p.set_defaults(func=run)


def choose_site(cfg: Config, site: str, fmt: str) -> str:
    """The site to import into: --site, the only configured site, or (JSON logs) each line's host."""
    site = site.strip().lower()
    names = sorted(cfg.site_names)
    if site:
        if names and site not in names:
            raise UserError(f"--site {site!r} is not a configured site (configured: {', '.join(names)})")
        return site
    if len(names) == 1:
        return names[0]
    if fmt == "json":
        return ""
    raise UserError("--site is required: which site does this log belong to? (e.g. --site example.com)")


def check_files(files: list[str], follow: bool) -> list[Path]:
    """The files as paths, refusing what cannot work before anything is imported."""
    paths = [Path(f).expanduser() for f in files]
    if follow and len(paths) != 1:
        raise UserError("--follow takes exactly one FILE (the live log, e.g. /var/log/nginx/access.log)")
    for path in paths:
        if follow and path.suffix == ".gz":
            raise UserError(f"--follow cannot tail a compressed file: {path}")
        if not follow and not path.exists():
            raise UserError(f"no such file: {path}")
        if path.exists() and not path.is_file():
            raise UserError(f"not a regular file: {path}")
    return paths


def eta_text(elapsed_s: float, done: int, left: int) -> str:
    """`ETA 1m05s` from the bytes done in `elapsed_s` and the bytes left ("" until there is a rate to go by)."""
    if elapsed_s < 0.5 or done <= 0:
        return ""
    seconds = round(left * elapsed_s / done)
    return f"ETA {seconds // 60}m{seconds % 60:02d}s" if seconds >= 60 else f"ETA {seconds}s"


class ProgressBar:
    """A one-line progress bar with lines/s on a terminal (redrawn in place, at most 5 times a second)."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.shown = False
        self._file: tuple[Path, float, int] | None = None  # the file being drawn, when it started, bytes then

    def __call__(self, stats: ImportStats, path: Path, done: int, total: int) -> None:
        rate = stats.lines / stats.elapsed_s if stats.elapsed_s > 0 else 0.0
        frac = min(1.0, done / total) if total > 0 else 1.0
        now = time.monotonic()
        if self._file is None or self._file[0] != path:
            self._file = (path, now, done)
        eta = eta_text(now - self._file[1], done - self._file[2], total - done)
        filled = int(frac * BAR_WIDTH)
        name = path.name if len(path.name) <= 30 else "…" + path.name[-29:]
        self.stream.write(
            f"\r{name} [{'#' * filled}{'.' * (BAR_WIDTH - filled)}] {frac * 100:5.1f}%  "
            f"{stats.lines:,} lines  "
            f"{rate:,.0f} lines/s  {eta}\x1b[K"
        )
        self.stream.flush()
        self.shown = True

    def close(self) -> None:
        """End the bar's line, if one was drawn."""
        if self.shown:
            self.stream.write("\n")
            self.stream.flush()


async def _import(
    cfg: Config, paths: list[Path], site: str, fmt: str, follow: bool, bar: ProgressBar | None, batch: bool
) -> ImportStats:
    """Run the import (and the follow loop until Ctrl-C or SIGTERM)."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    if follow:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
    importer = Importer(cfg, site=site, fmt=fmt, progress=bar, batch=batch)
    async with importer:
        if follow:
            await importer.follow(paths[0], stop)
        else:
            for path in sorted(paths, key=_age_key):
                try:
                    await importer.import_file(path)
                except UnreadableFile as exc:  # the other files are still worth importing
                    importer.stats.unreadable.append(str(exc))
    return importer.stats


def _age_key(path: Path) -> float:
    """Oldest file first, so sessions and bot scores see traffic in time order."""
    try:
        return path.stat().st_mtime
    except OSError:
        return time.time()


def run(args: argparse.Namespace) -> int:
    cfg: Config = args.config_obj
    paths = check_files(args.files, args.follow)
    fmt = args.format
    if fmt == "auto" and not args.site and paths[0].exists():
        try:
            fmt = detect_format(sample_lines(paths[0]))  # JSON logs may name their site per line (host)
        except ImportError_ as exc:
            raise UserError(str(exc)) from None
    site = choose_site(cfg, args.site, fmt)
    bar = None if args.no_progress or not sys.stderr.isatty() else ProgressBar(sys.stderr)
    try:
        stats = asyncio.run(_import(cfg, paths, site, args.format, args.follow, bar, not args.streaming))
    except ImportError_ as exc:
        raise UserError(str(exc)) from None
    finally:
        if bar is not None:
            bar.close()
    if stats.unreadable and len(stats.unreadable) == len(paths):
        raise UserError("; ".join(stats.unreadable))  # nothing could be imported: an error, not a summary
    print(stats.summary())
    return 1 if stats.incomplete else 0
