"""Streaming access-log import: lines → hits → the live pipeline, with resumable offsets and `--follow`.

Imported hits go through the same Pipeline as live traffic (sessions, enrichment, bot scoring) with the log
line's time as `now`. Memory stays flat: files are read line by line, the writer is flushed every chunk,
and sessions idle for longer than the session timeout (in log time) are forgotten as the import advances.
Offsets are saved inside the writer's flush transaction, so a file's position and its rows commit together.
"""

from __future__ import annotations

import asyncio
import gzip
import hashlib
import io
import os
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO, Final

from collector.config import Config
from collector.enrich.geo import AsnLookup, GeoLookup
from collector.logs.batch import ChunkImporter
from collector.logs.hits import HitCounts, hit_type, line_site, log_client, log_hit, page_url
from collector.logs.parse import LineError, LogLine, detect_format, format_problem, parser_for
from collector.pipeline import Pipeline
from collector.salts import SaltStore
from db.batch import Batch
from db.queries.ingest import ImportFile
from db.records import EVENT_COLUMNS
from db.store import open_store
from db.writer import Writer

CHUNK_LINES: Final = 2_500
"""Lines between writer flushes: big enough for fast transactions, small enough for flat memory (each flush's
rows exist three times at once: queued, pickled to the writer process and unpickled there; 5,000 cost ~15 MB
more at peak for ~10 % less writer CPU). Both paths flush at the same lines, so a file's rows and offsets come out
the same whichever path imported it."""
BATCH_SLICE: Final = 1_000
"""Parsed lines the batch path holds at once before running them through the pipeline."""
FIRST_SKIPPED: Final = 5
"""Skipped lines the summary shows by file and line number."""
FOLLOW_POLL_S: Final = 0.25
GZIP_BUFFER: Final = 64 * 1024
"""Decompressed read-ahead: a truncated .gz loses at most this much of what was readable."""
HEAD_MAX: Final = 64 * 1024
"""Bytes hashed at most for a file's identity (its first line, or this much of it)."""
WRITER_CACHE_KIB: Final = 4000
"""The writer's SQLite page cache: the import appends and hardly reads back, so a small one costs little."""

_IS_BOT: Final = EVENT_COLUMNS.index("is_bot")


class ImportError_(Exception):
    """An import that cannot go on (a file missing or unreadable, the database refusing writes); worded for the user."""


class UnreadableFile(ImportError_):
    """One file that cannot be imported at all (missing, unreadable, not a log in the format); others may be."""


@dataclass(slots=True)
class ImportStats(HitCounts):
    """What an import did, for the summary line and the tests."""

    files: int = 0
    lines: int = 0
    already: int = 0
    """Lines skipped because an earlier import of the same file had them."""
    skipped: Counter[str] = field(default_factory=Counter)
    first_skipped: list[tuple[str, int, str]] = field(default_factory=list)
    """The first few skipped lines: (file name, line number, reason)."""
    unreadable: list[str] = field(default_factory=list)
    """Files that could not be imported at all, each with the reason."""
    bytes_read: int = 0
    elapsed_s: float = 0.0

    def summary(self) -> str:
        """Human summary: counts, skip reasons and speed."""
        rate = self.lines / self.elapsed_s if self.elapsed_s > 0 else 0.0
        parts = [
            f"{self.files} file{'s' if self.files != 1 else ''}, {self.lines:,} lines read "
            f"in {self.elapsed_s:.1f}s "
            f"({rate:,.0f} lines/s)",
            f"imported {self.imported:,} ({self.pageviews:,} pageviews, {self.requests:,} requests of which "
            f"{self.assets:,} static assets); {self.bots:,} from bots",
        ]
        skipped = sum(self.skipped.values())
        reasons = ", ".join(f"{reason} {n:,}" for reason, n in self.skipped.most_common())
        parts.append(f"skipped {skipped:,}" + (f" ({reasons})" if reasons else ""))
        if self.first_skipped:
            shown = ", ".join(f"{name}:{number} ({reason})" for name, number, reason in self.first_skipped)
            more = ", …" if self.malformed > len(self.first_skipped) else ""
            plural = "s" if self.malformed != 1 else ""
            parts.append(f"{self.malformed:,} malformed line{plural}, first: {shown}{more}")
        parts.extend(f"not imported: {problem}" for problem in self.unreadable)
        if self.already:
            parts.append(f"{self.already:,} lines already imported earlier (not added again)")
        return "\n".join(parts)

    @property
    def malformed(self) -> int:
        """Lines skipped for what they hold (blank lines aside)."""
        return sum(self.skipped.values()) - self.skipped["blank"]

    @property
    def incomplete(self) -> bool:
        """Whether anything was left out: a malformed line, or a file that could not be read."""
        return bool(self.malformed or self.unreadable)


@contextmanager
def open_log(path: Path, buffer_size: int = GZIP_BUFFER) -> Iterator[tuple[BinaryIO, BinaryIO]]:
    """(lines, raw) of a log file: a buffered reader of its text, and the file on disk (for progress)."""
    raw = open(path, "rb")  # noqa: SIM115 - closed below
    try:
        gzipped = raw.read(2) == b"\x1f\x8b"  # by its magic bytes, whatever its name
        raw.seek(0)
        reader: BinaryIO = raw
        if gzipped:
            reader = io.BufferedReader(gzip.GzipFile(fileobj=raw, mode="rb"), buffer_size=buffer_size)  # type: ignore[arg-type]
        yield reader, raw
    finally:
        raw.close()


def read_head(path: Path) -> bytes | None:
    """The first complete line of a file (decompressed), capped; None while the file has no complete line."""
    try:
        with open_log(path, buffer_size=8192) as (reader, _raw):
            head = reader.readline(HEAD_MAX)
    except FileNotFoundError:
        raise
    except (OSError, EOFError) as exc:  # gzip.BadGzipFile is an OSError
        raise UnreadableFile(f"{path}: cannot read: {getattr(exc, 'strerror', None) or exc}") from None
    if not head.endswith(b"\n") and len(head) < HEAD_MAX:
        return None
    return head


def sample_lines(path: Path, n: int = 20) -> list[str]:
    """The first few lines of a file as text, for format detection."""
    out: list[str] = []
    try:
        with open_log(path, buffer_size=8192) as (reader, _raw):
            for raw in reader:
                out.append(raw.decode("utf-8", "replace"))
                if len(out) >= n:
                    break
    except (OSError, EOFError) as exc:  # gzip.BadGzipFile is an OSError
        if out:
            return out  # a truncated .gz: what came before the damage is a fine sample
        raise UnreadableFile(f"{path}: cannot read: {getattr(exc, 'strerror', None) or exc}") from None
    return out


Progress = Callable[[ImportStats, Path, int, int], None]
"""Called about every chunk with (stats, file, bytes done, total bytes) to draw a progress bar."""


class Importer:
    """Imports access logs into one database through the live pipeline; use `async with`."""

    def __init__(
        self,
        cfg: Config,
        *,
        site: str = "",
        fmt: str = "auto",
        progress: Progress | None = None,
        chunk_lines: int = CHUNK_LINES,
        batch: bool = True,
    ) -> None:
        self.cfg = cfg
        self.site = site.strip().lower()
        self.fmt = fmt
        self.progress = progress
        self.chunk_lines = chunk_lines
        self.batch = batch
        """Import finished files a chunk at a time (collector/logs/batch.py); `follow` always goes line by line."""
        self._path_name = ""
        self._batching = False
        self.stats = ImportStats()
        self._mark: tuple[int, int, int] | None = None  # (file id, offset, lines) the next flush commits
        self._committed: tuple[int, int, int] | None = None
        self._flushing: asyncio.Task[None] | None = None
        self._started = time.perf_counter()
        self.writer: Writer
        self.pipeline: Pipeline

    async def __aenter__(self) -> Importer:
        cfg = self.cfg
        self._db = open_store(cfg.store_url)  # salts and import offsets
        self._geo = GeoLookup(cfg.geoip.path or None)
        self._asn = AsnLookup(cfg.geoip.asn_path) if cfg.geoip.asn_path else None
        # The importer drives every flush (see _checkpoint): the writer's own timer and count never fire.
        # Rows are written by a child process while this one parses and runs the pipeline on the next chunk.
        self.writer = Writer(
            self._db,
            flush_interval_s=3600.0,
            flush_count=1 << 40,
            queue_max=1 << 40,
            process=True,
            cache_kib=WRITER_CACHE_KIB,  # small page caches: the import appends, it hardly reads back
            spool_dir=str(cfg.spool_dir),
            spool_max_bytes=cfg.db.spool_max_mb * 1024 * 1024,
        )
        await self.writer.start()
        self.pipeline = Pipeline(cfg, self.writer, SaltStore(self._db), self._geo, self._asn)
        self._chunks = ChunkImporter(self.pipeline)
        self.writer.add_source(self._add_offset)
        return self

    async def __aexit__(self, *exc: object) -> None:
        try:
            try:
                await self._checkpoint(None)
                if self._flushing is not None:
                    await self._flushing
            finally:
                await self.writer.stop()  # flushes whatever is left, even after an error
        finally:
            self._db.close()
            self._geo.close()
            if self._asn is not None:
                self._asn.close()
            self.stats.elapsed_s = time.perf_counter() - self._started

    def _add_offset(self, batch: Batch) -> None:
        """Writer batch source: the offset reached so far commits with the rows parsed before it."""
        if self._mark is not None and self._mark != self._committed:
            batch.import_offset = self._mark

    async def _flush(self, mark: tuple[int, int, int] | None) -> None:
        """Flush the writer, committing `mark` (the file's offset after these rows) with the rows."""
        self._mark = mark
        await self.writer.flush()
        if not self.writer.stats.last_error:
            self._committed = mark

    async def _checkpoint(self, mark: tuple[int, int, int] | None) -> None:
        """Start flushing everything processed so far (committing `mark` with it) while parsing goes on."""
        if self._flushing is not None:
            await self._flushing
            self._flushing = None
        if self.writer.stats.last_error:
            raise ImportError_(f"cannot write to the database: {self.writer.stats.last_error}")
        self._flushing = asyncio.create_task(self._flush(mark))
        await asyncio.sleep(0)  # let flush() swap its batch now, before more lines are queued

    def _identity(self, path: Path) -> ImportFile | None:
        """The import record for a file (None while it has no complete first line yet)."""
        head = read_head(path)
        if head is None:
            return None
        st = path.stat()
        return self._db.import_file(st.st_dev, st.st_ino, hashlib.sha256(head).hexdigest(), str(path))

    def _format_of(self, path: Path, *, check: bool) -> str:
        """The file's format (given, or detected from its first lines); with `check`, refuse a file none of whose
        first lines parse in it before anything is imported, naming the format they do parse in if any."""
        sample = sample_lines(path)
        fmt = self.fmt if self.fmt != "auto" else detect_format(sample)
        if check:
            problem = format_problem(sample, fmt)
            if problem:
                raise UnreadableFile(f"{path}: {problem}")
        return fmt

    async def import_file(self, path: Path) -> None:
        """Import one file from where the last import of it stopped (a finished file: read to its end)."""
        await self._run(path, follow=False, stop=None)

    async def follow(self, path: Path, stop: asyncio.Event) -> None:
        """Import a file, then keep importing appended lines, across rotation, until `stop` is set."""
        await self._run(path, follow=True, stop=stop)

    async def _run(self, path: Path, *, follow: bool, stop: asyncio.Event | None) -> None:
        """Import `path`; with `follow`, poll for new lines, reopening the file when rotated or truncated."""
        self.stats.files += 1
        while True:
            try:
                record = self._identity(path)
            except FileNotFoundError:
                if not follow:
                    raise UnreadableFile(f"{path}: no such file") from None
                record = None
            except (PermissionError, IsADirectoryError) as exc:
                raise UnreadableFile(f"{path}: cannot read: {exc.strerror or exc}") from None
            if record is None:
                if not follow:
                    return  # empty file (or no complete line yet): nothing to import
                if await _wait(stop, FOLLOW_POLL_S):
                    return
                continue
            if not await self._import_open(path, record, follow=follow, stop=stop):
                return

    async def _import_open(self, path: Path, record: ImportFile, *, follow: bool, stop: asyncio.Event | None) -> bool:
        """Import one file from its saved offset; True when (following) the path now names a new file."""
        parse = parser_for(self._format_of(path, check=record.offset == 0))
        self._path_name = path.name
        self._batching = self.batch and not follow
        with open_log(path) as (reader, raw):
            gz = reader is not raw
            ident = os.fstat(raw.fileno())
            total = ident.st_size
            offset = self._skip_to(reader, raw, record.offset, gz)
            self.stats.already += record.lines
            cursor = _Cursor(record.id, offset, record.lines)
            last_report = 0.0
            while True:
                more = self._consume(reader, parse, cursor, take_partial=gz and not follow)
                await self._checkpoint((cursor.file_id, cursor.offset, cursor.lines))
                if time.monotonic() - last_report >= 0.2 or not more:
                    last_report = time.monotonic()
                    self._report(path, raw.tell() if gz else cursor.offset, total)
                if more:
                    continue
                if not follow:
                    return False
                # At the end of what is written so far: watch for rotation, then wait for more.
                try:
                    st = path.stat()
                except FileNotFoundError:
                    st = None
                if st is not None and (st.st_ino != ident.st_ino or st.st_dev != ident.st_dev):
                    # Rotated: drain what reached the old file before the rename, then switch to the new one.
                    while self._consume(reader, parse, cursor, take_partial=True):
                        await self._checkpoint((cursor.file_id, cursor.offset, cursor.lines))
                    await self._checkpoint((cursor.file_id, cursor.offset, cursor.lines))
                    return True
                if st is not None and st.st_size < cursor.offset:
                    return True  # truncated in place (copytruncate): start over on the new content
                if st is not None:
                    total = max(total, st.st_size)
                if await _wait(stop, FOLLOW_POLL_S):
                    return False

    def _skip_to(self, reader: BinaryIO, raw: BinaryIO, offset: int, gz: bool) -> int:
        """Position a reader at a saved offset (decompressing up to it for gzip files); returns it."""
        if not offset:
            return 0
        if not gz:
            raw.seek(offset)
            return offset
        left = offset
        while left:
            chunk = reader.read(min(left, 1 << 20))
            if not chunk:
                break
            left -= len(chunk)
        return offset - left

    def _consume(
        self, reader: BinaryIO, parse: Callable[[str], LogLine], cursor: _Cursor, *, take_partial: bool
    ) -> bool:
        """Import up to one chunk of the complete lines available now; True when the chunk filled up.

        A last line without a newline may still be being written, so it is kept in the cursor for later,
        unless `take_partial` (a finished gzip file, or the old file after rotation).
        """
        first = cursor.lines + 1
        raws, full = self._read(reader, cursor, take_partial=take_partial)
        parsed: list[LogLine] = []
        last_ts = 0.0
        for number, raw_line in enumerate(raws, first):
            if len(raw_line) <= 2 and not raw_line.strip():
                self._skip("blank", number)
                continue
            try:
                rec = parse(raw_line.decode("utf-8", "replace"))
                if not self._batching:
                    last_ts = self._import_line(rec, self.site, self.pipeline.accept)
                    continue
                line_site(rec, self.site)
            except LineError as exc:
                self._skip(exc.reason, number)
                continue
            parsed.append(rec)
            if len(parsed) == BATCH_SLICE:  # (a few short lists, not one long one: flat memory)
                last_ts = self._chunks.run(parsed, self.site, self.stats)
                parsed = []
        if parsed:
            last_ts = self._chunks.run(parsed, self.site, self.stats)
        if last_ts:
            self.pipeline.expire(last_ts)  # in log time: memory stays flat on long files
        return full

    def _read(self, reader: BinaryIO, cursor: _Cursor, *, take_partial: bool) -> tuple[list[bytes], bool]:
        """Up to a chunk of complete lines from the reader, advancing the cursor; True when the chunk filled up."""
        left = self.chunk_lines
        offset, lines, pending = cursor.offset, cursor.lines, cursor.pending
        out: list[bytes] = []
        full = False
        try:
            for raw_line in reader:
                if pending:
                    raw_line, pending = pending + raw_line, b""
                if raw_line[-1:] != b"\n":
                    pending = raw_line
                    break
                offset += len(raw_line)
                lines += 1
                out.append(raw_line)
                left -= 1
                if not left:
                    full = True
                    break
            if pending and take_partial and not full:
                offset += len(pending)
                lines += 1
                out.append(pending)
                pending = b""
        except (OSError, EOFError, gzip.BadGzipFile):
            # A truncated or corrupt .gz: keep what was read, count the rest as one unreadable remainder.
            self._skip("corrupt-gzip", lines + 1)
            full = False
        self.stats.lines += lines - cursor.lines
        self.stats.bytes_read += offset - cursor.offset
        cursor.offset, cursor.lines, cursor.pending = offset, lines, pending
        return out, full

    def _skip(self, reason: str, number: int) -> None:
        """Count a line that could not be imported, remembering the first few by file and line number."""
        self.stats.skipped[reason] += 1
        if reason != "blank" and len(self.stats.first_skipped) < FIRST_SKIPPED:
            self.stats.first_skipped.append((self._path_name, number, reason))

    def _import_line(self, rec: LogLine, site: str, accept: Callable[..., tuple[Any, ...]]) -> float:
        """Turn one parsed line into a hit and run it through the pipeline; returns the line's time."""
        site = line_site(rec, site)
        kind, asset = hit_type(rec.method, rec.target, rec.status)
        row = accept(log_hit(rec, site, kind, asset, page_url(site, rec.target)), log_client(rec), rec.ts)
        self.stats.count(kind, asset, bool(row[_IS_BOT]))
        return rec.ts

    def _report(self, path: Path, done: int, total: int) -> None:
        if self.progress is not None:
            self.stats.elapsed_s = time.perf_counter() - self._started
            self.progress(self.stats, path, done, total)


@dataclass(slots=True)
class _Cursor:
    """Where reading one open file stands: its import record, byte offset, line count, unfinished tail."""

    file_id: int
    offset: int
    lines: int
    pending: bytes = b""


async def _wait(stop: asyncio.Event | None, seconds: float) -> bool:
    """Sleep up to `seconds`; True when `stop` was set meanwhile."""
    if stop is None:
        await asyncio.sleep(seconds)
        return False
    try:
        await asyncio.wait_for(stop.wait(), timeout=seconds)
    except TimeoutError:
        return False
    return True
