"""The one streaming export used by the CLI, the HTTP API and the TUI: rows in, a finished file out."""

from __future__ import annotations

import itertools
import os
import sys
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, BinaryIO

from collector.export.files import atomic_output
from collector.export.formats import (
    CountingSink,
    ExportError,
    check_format,
    gzip_sink,
    infer_types,
    make_writer,
)
from db.export.streams import CHUNK_ROWS, ExportFilter, ExportQueryError
from db.store import Store

Progress = Callable[[int, int], None]
"""Called after each chunk with (rows written so far, bytes written so far)."""

Row = Sequence[object]


@dataclass(slots=True, frozen=True)
class ExportResult:
    """What an export wrote: row count, byte count (as stored, i.e. compressed), where, and its SHA-256."""

    rows: int
    bytes: int
    path: str
    sha256: str = ""


def chunked(rows: Iterable[Row], size: int = CHUNK_ROWS) -> Iterator[list[Row]]:
    """Chunks of at most `size` rows from any iterable of rows."""
    it = iter(rows)
    while chunk := list(itertools.islice(it, size)):
        yield chunk


def write_chunks(
    fmt: str,
    out: BinaryIO,
    columns: Sequence[str],
    chunks: Iterable[Sequence[Row]],
    *,
    types: Sequence[str] | None = None,
    compress: bool = False,
    progress: Progress | None = None,
) -> tuple[int, int, str]:
    """Write chunks of rows to an open binary file; returns (rows, bytes, sha256 of the bytes)."""
    check_format(fmt)
    sink = CountingSink(out, sha256=True)
    layer: BinaryIO = gzip_sink(sink) if compress and fmt != "parquet" else sink  # type: ignore[assignment]
    it = iter(chunks)
    first = next(it, [])
    if types is None:
        types = infer_types(columns, first)
    writer = make_writer(fmt, layer, columns, types)
    rows = 0
    for chunk in itertools.chain([first], it):
        if not chunk:
            continue
        writer.write(chunk)
        rows += len(chunk)
        if progress is not None:
            progress(rows, sink.bytes)
    writer.close()
    if layer is not sink:
        layer.close()
    sink.flush()
    if progress is not None:
        progress(rows, sink.bytes)
    return rows, sink.bytes, sink.sha256


def _wants_gzip(path: str, fmt: str) -> bool:
    return fmt != "parquet" and path.endswith(".gz")


def export_chunks(
    columns: Sequence[str],
    chunks: Iterable[Sequence[Row]],
    fmt: str,
    path: str | os.PathLike[str],
    *,
    types: Sequence[str] | None = None,
    progress: Progress | None = None,
    compress: bool | None = None,
) -> ExportResult:
    """Write chunks to `path` atomically ('-' is stdout); gzip when asked or when the name ends in .gz."""
    check_format(fmt)
    target = os.fspath(path)
    gz = _wants_gzip(target, fmt) if compress is None else compress
    if target == "-":
        rows, size, digest = write_chunks(
            fmt, sys.stdout.buffer, columns, chunks, types=types, compress=gz, progress=progress
        )
        sys.stdout.buffer.flush()
        return ExportResult(rows, size, "-", digest)
    with atomic_output(target) as out:
        rows, size, digest = write_chunks(
            fmt, out, columns, chunks, types=types, compress=gz, progress=progress
        )
    return ExportResult(rows, size, target, digest)


def export_rows(
    columns: Sequence[str],
    rows_iter: Iterable[Row],
    fmt: str,
    path: str | os.PathLike[str],
    progress: Progress | None = None,
    *,
    types: Sequence[str] | None = None,
) -> ExportResult:
    """Export any rows (the TUI's current view): column names plus rows, types inferred."""
    return export_chunks(columns, chunked(rows_iter), fmt, path, types=types, progress=progress)


def table_filter(
    site: str = "", span_start: float | None = None, span_end: float | None = None, bots: str = "all"
) -> ExportFilter:
    """An ExportFilter, rejecting an empty or reversed span."""
    if span_start is not None and span_end is not None and span_end <= span_start:
        raise ExportError("the range is empty: its end is not after its start")
    return ExportFilter(site=site, start=span_start, end=span_end, bots=bots)


FUNNEL_COLUMNS = (
    "funnel",
    "site",
    "step",
    "label",
    "entered",
    "converted",
    "conversion_pct",
    "dropoff_pct",
    "median_s_to_next",
)
FUNNEL_TYPES = ("str", "str", "int", "str", "int", "int", "float", "float", "float")


def funnel_rows(store: Store, flt: ExportFilter, funnels_config: Iterable[Any] = ()) -> list[Row]:
    """Funnel results (one row per step of every funnel) for the filter's site, span and bots."""
    import time

    from db.queries.common import Filters, Span

    span = Span(
        flt.start if flt.start is not None else 0.0, flt.end if flt.end is not None else time.time() + 1
    )
    filters = Filters(flt.site or None, (), flt.bots)
    rows: list[Row] = []
    for funnel in store.list_funnels(funnels_config):
        if flt.site and funnel.site and funnel.site != flt.site:
            continue
        for i, step in enumerate(store.funnel_report(funnel, span, filters), 1):
            rows.append(
                (
                    funnel.name,
                    funnel.site or flt.site,
                    i,
                    step.step.label,
                    step.entered,
                    step.converted,
                    step.conversion_pct,
                    step.dropoff_pct,
                    step.median_s_to_next,
                )
            )
    return rows


def export_table(
    store: Store,
    what: str,
    fmt: str,
    path: str | os.PathLike[str],
    site: str = "",
    span_start: float | None = None,
    span_end: float | None = None,
    bots: str = "all",
    progress: Progress | None = None,
    *,
    table: str | None = None,
    funnels_config: Iterable[Any] = (),
) -> ExportResult:
    """Export a stored table filtered by site, span and bots."""
    check_format(fmt)
    flt = table_filter(site, span_start, span_end, bots)
    if what == "funnels":
        rows = funnel_rows(store, flt, funnels_config)
        return export_chunks(FUNNEL_COLUMNS, chunked(rows), fmt, path, types=FUNNEL_TYPES, progress=progress)
    try:
        stream = store.stream_table(what, flt, table=table)
    except ExportQueryError as exc:
        raise ExportError(str(exc)) from None
    try:
        return export_chunks(stream.columns, stream.chunks, fmt, path, types=stream.types, progress=progress)
    finally:
        stream.chunks.close()  # type: ignore[attr-defined]  # a generator: closes the cursor early on errors
