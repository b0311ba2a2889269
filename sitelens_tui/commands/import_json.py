"""`sitelens import-json FILE`: load an NDJSON export back through the batching writer."""

from __future__ import annotations

import argparse
import asyncio
import gzip
import sys
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import IO, Any, cast

import orjson

from collector.errors import UserError
from db.records import EventRecord, SessionRecord
from db.store import Store, open_store
from db.writer import Writer
from sitelens_tui.commands.export import ProgressBar

FLUSH_EVERY = 5000


def _field_kinds(cls: type) -> dict[str, type]:
    kinds = {"int": int, "float": float, "str": str}
    return {f.name: kinds[str(f.type)] for f in fields(cls)}


EVENT_KINDS = _field_kinds(EventRecord)
SESSION_KINDS = _field_kinds(SessionRecord)
EVENT_REQUIRED = ("ts", "site", "type")
SESSION_REQUIRED = ("id", "site", "visitor_id", "fingerprint", "started", "last_seen")


class BadLine(ValueError):
    """One line of the file is not an exported event or session."""


def _value(name: str, value: Any, kind: type) -> object:
    """A JSON value checked against the column's type (ints may stand for floats, bools for ints)."""
    if kind is str and isinstance(value, str):
        return value
    if kind is int and isinstance(value, (bool, int)):
        return int(value)
    if kind is float and isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    raise BadLine(f"{name}: expected {kind.__name__}, got {type(value).__name__}")


def parse_line(line: bytes) -> tuple[str, tuple[object, ...]]:
    """('event' | 'session', row in column order) from one NDJSON line of an export."""
    try:
        obj = orjson.loads(line)
    except orjson.JSONDecodeError as exc:
        raise BadLine(f"not JSON ({exc})") from None
    if not isinstance(obj, dict):
        raise BadLine("not a JSON object")
    is_session = "started" in obj and "last_seen" in obj
    kinds, required, cls = (
        (SESSION_KINDS, SESSION_REQUIRED, SessionRecord)
        if is_session
        else (EVENT_KINDS, EVENT_REQUIRED, EventRecord)
    )
    missing = [k for k in required if k not in obj]
    if missing:
        raise BadLine(f"missing {', '.join(missing)}")
    values = {k: _value(k, v, kinds[k]) for k, v in obj.items() if k in kinds and v is not None}
    record = cls(**values)  # type: ignore[arg-type]  # each value was checked against its field's type
    return ("session" if is_session else "event"), record.as_row()


@dataclass(slots=True)
class ImportResult:
    events: int = 0
    sessions: int = 0
    bad: int = 0
    first_error: str = ""
    errors: list[str] = field(default_factory=list)


def _open(path: Path) -> IO[bytes]:
    try:
        with open(path, "rb") as probe:
            magic = probe.read(2)
        if magic == b"\x1f\x8b":
            return cast(IO[bytes], gzip.open(path, "rb"))
        return open(path, "rb")  # noqa: SIM115  # closed by the caller's with
    except OSError as exc:
        raise UserError(f"cannot read {path}: {exc.strerror or exc}") from None


async def import_file(path: Path, store: Store, progress: ProgressBar | None = None) -> ImportResult:
    """Insert every valid line through the writer (which keeps any rollups current); count bad ones."""
    result = ImportResult()
    source = _open(path)
    writer = Writer(store, flush_interval_s=1.0, flush_count=FLUSH_EVERY, queue_max=FLUSH_EVERY * 4)
    await writer.start()
    try:
        with source:
            for number, line in enumerate(source, 1):
                if not line.strip():
                    continue
                try:
                    kind, row = parse_line(line)
                except (BadLine, TypeError) as exc:
                    result.bad += 1
                    if not result.first_error:
                        result.first_error = f"line {number}: {exc}"
                    continue
                if kind == "session":
                    writer.add_session(int(row[0]), row)  # type: ignore[call-overload]
                    result.sessions += 1
                else:
                    if not writer.has_room():
                        await writer.flush()
                    writer.add_event(row)
                    result.events += 1
                if (result.events + result.sessions) % FLUSH_EVERY == 0:
                    await writer.flush()
                    if progress is not None:
                        progress.update(result.events + result.sessions, 0)
    except (OSError, EOFError, gzip.BadGzipFile) as exc:
        raise UserError(f"cannot read {path}: {exc}") from None
    finally:
        await writer.stop()
    if writer.stats.last_error and writer.queue_depth:
        raise UserError(f"could not write to the database: {writer.stats.last_error}")
    return result


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "import-json", help="load an NDJSON export of events or sessions back into the database"
    )
    p.add_argument("file", help="an NDJSON file written by `sitelens export --format ndjson` (.gz too)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    path = Path(args.file)
    if not path.is_file():
        raise UserError(f"no such file: {path}")
    bar = ProgressBar(None, label="importing ")
    store = open_store(args.config_obj.store_url)
    try:
        result = asyncio.run(import_file(path, store, bar))
    finally:
        store.close()
    bar.done()
    print(f"imported {result.events:,} events and {result.sessions:,} sessions from {path}")
    if result.bad:
        print(f"skipped {result.bad:,} bad line(s); first: {result.first_error}", file=sys.stderr)
        return 1 if not (result.events or result.sessions) else 0
    return 0
