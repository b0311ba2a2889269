"""Staging a run: its events written once to local files, one per (site, hour), plus the run's manifest."""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO
from urllib.parse import quote

import orjson

from collector.export.formats import CountingSink, FormatWriter, extension, gzip_sink, make_writer
from db.export.runs import ExportLedger, RunRow
from db.export.streams import EVENT_EXPORT_COLUMNS, event_types


@dataclass(slots=True)
class StagedObject:
    """One finished partition file and the key it is delivered under."""

    key: str
    path: Path
    rows: int
    bytes: int
    sha256: str
    first_ts: float
    last_ts: float


@dataclass(slots=True)
class StagedRun:
    """Everything a destination delivers for one run; the manifest goes last."""

    run: RunRow
    objects: list[StagedObject] = field(default_factory=list)
    manifest_key: str = ""
    manifest: bytes = b""
    covers: tuple[str, dict[str, object]] = ("event_ids", {})
    """What the run covers, as its ledger names it (ExportLedger.run_range)."""

    @property
    def rows(self) -> int:
        return sum(o.rows for o in self.objects)

    @property
    def bytes(self) -> int:
        return sum(o.bytes for o in self.objects)

    @property
    def total_bytes(self) -> int:
        """Everything a destination sends, manifest included (for progress)."""
        return self.bytes + len(self.manifest)


def _iso(ts: float | None) -> str | None:
    return None if ts is None else datetime.fromtimestamp(ts, UTC).isoformat().replace("+00:00", "Z")


def partition_key(site: str, hour_start: float, run_id: str, ext: str) -> str:
    """site=<site>/date=YYYY-MM-DD/hour=HH/events-<run>.<ext>; site percent-encoded (untrusted)."""
    moment = datetime.fromtimestamp(hour_start, UTC)
    safe_site = quote(site, safe=".-_") or "_"
    return f"site={safe_site}/date={moment:%Y-%m-%d}/hour={moment:%H}/events-{run_id}.{ext}"


def manifest_key(run_id: str) -> str:
    return f"manifests/run={run_id}.json"


class _PartitionFile:
    """One partition being written."""

    def __init__(self, path: Path, key: str, fmt: str) -> None:
        self.path = path
        self.key = key
        self._file: BinaryIO = open(path, "wb")  # noqa: SIM115  # closed in finish()
        self._sink = CountingSink(self._file, sha256=True)
        self._layer: BinaryIO = self._sink  # type: ignore[assignment]
        if fmt != "parquet":
            self._layer = gzip_sink(self._sink)  # type: ignore[assignment]
        self._writer: FormatWriter = make_writer(fmt, self._layer, EVENT_EXPORT_COLUMNS, event_types())
        self.rows = 0
        self.first_ts = float("inf")
        self.last_ts = float("-inf")

    def write(self, rows: list[tuple[object, ...]]) -> None:
        self._writer.write(rows)
        self.rows += len(rows)
        self.first_ts = min(self.first_ts, float(rows[0][1]))  # type: ignore[arg-type]
        self.last_ts = max(self.last_ts, float(rows[-1][1]))  # type: ignore[arg-type]

    def finish(self) -> StagedObject:
        self._writer.close()
        if self._layer is not self._sink:
            self._layer.close()
        self._file.close()
        return StagedObject(
            self.key, self.path, self.rows, self._sink.bytes, self._sink.sha256, self.first_ts, self.last_ts
        )


def stage_run(ledger: ExportLedger, run: RunRow, root: Path) -> StagedRun:
    """Write a run's events to files under root/<run id>/ (rebuilt from scratch on every attempt)."""
    directory = root / run.id
    shutil.rmtree(directory, ignore_errors=True)
    directory.mkdir(parents=True)
    staged = StagedRun(run, covers=ledger.run_range(run))
    ext = extension(run.format, compressed=True)
    _, first_ts, last_ts = ledger.run_bounds(run)
    if first_ts is not None and last_ts is not None:
        for site in ledger.run_sites(run):
            current: _PartitionFile | None = None
            hour = -1
            for chunk in ledger.run_events(run, site, first_ts, last_ts):
                start = 0
                for i, row in enumerate(chunk):
                    row_hour = int(float(row[1]) // 3600)  # type: ignore[arg-type]
                    if row_hour != hour:
                        if current is not None and i > start:
                            current.write(chunk[start:i])
                        if current is not None:
                            staged.objects.append(current.finish())
                        hour, start = row_hour, i
                        key = partition_key(site, hour * 3600, run.id, ext)
                        current = _PartitionFile(
                            directory / f"{len(staged.objects):06d}.part", key, run.format
                        )
                if current is not None and start < len(chunk):
                    current.write(chunk[start:])
            if current is not None:
                staged.objects.append(current.finish())
    staged.manifest_key = manifest_key(run.id)
    staged.manifest = build_manifest(staged)
    return staged


def build_manifest(staged: StagedRun) -> bytes:
    """The run's manifest: totals, first/last event time and every object with its rows, bytes and SHA-256."""
    run = staged.run
    firsts = [o.first_ts for o in staged.objects]
    lasts = [o.last_ts for o in staged.objects]
    doc = {
        "run_id": run.id,
        "created": _iso(run.created),
        "format": run.format,
        staged.covers[0]: staged.covers[1],
        "rows": staged.rows,
        "bytes": staged.bytes,
        "first_event_time": _iso(min(firsts)) if firsts else None,
        "last_event_time": _iso(max(lasts)) if lasts else None,
        "objects": [
            {
                "key": o.key,
                "rows": o.rows,
                "bytes": o.bytes,
                "sha256": o.sha256,
                "first_event_time": _iso(o.first_ts),
                "last_event_time": _iso(o.last_ts),
            }
            for o in staged.objects
        ],
    }
    return orjson.dumps(doc, option=orjson.OPT_INDENT_2 | orjson.OPT_APPEND_NEWLINE)


def discard_staging(root: Path, run_id: str) -> None:
    shutil.rmtree(root / run_id, ignore_errors=True)
