"""Copying one store into another (`sitelens migrate`): every table in order, in chunks, resumable.

Uses only the storage contract, so it knows no engine. A chunk's deduplication token is derived from what it
holds, and the key reached is recorded in the target after each chunk: a copy stopped anywhere and started
again resends at most one chunk, which the target then ignores."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field

from db.records import COPY_KEYS, COPY_TABLES
from db.store import Store

CHUNK_ROWS = 20_000
Progress = Callable[[str, int], None]
"""Called with (table, rows copied so far in it) after each chunk."""


@dataclass(slots=True)
class CopyReport:
    """Rows per table on each side once the copy has finished."""

    source: dict[str, int] = field(default_factory=dict)
    target: dict[str, int] = field(default_factory=dict)


def cursor_key(source: Store, table: str) -> str:
    """The target setting that remembers how far a table of this source has been copied."""
    return f"migrate:{source.url.display()}:{table}"


def _token(source: Store, table: str, first: object, last: object, n: int) -> str:
    text = f"{source.url.display()}|{table}|{first!r}|{last!r}|{n}"
    return "migrate-" + hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:32]


def copy_table(source: Store, target: Store, table: str, chunk: int = CHUNK_ROWS,
               progress: Progress | None = None) -> int:
    """Copy one table (resuming after the key the target remembers); how many rows were sent this time."""
    key = COPY_KEYS.get(table)
    if key is None:
        rows = source.copy_out(table, None, 0)
        target.copy_in(table, rows, _token(source, table, None, None, len(rows)))
        if progress is not None:
            progress(table, len(rows))
        return len(rows)
    at = COPY_TABLES[table].index(key)
    stored = target.get_setting(cursor_key(source, table))
    after: object = None if stored is None else (int(stored) if key == "id" else stored)
    sent = 0
    while True:
        rows = source.copy_out(table, after, chunk)
        if not rows:
            return sent
        first, last = rows[0][at], rows[-1][at]
        target.copy_in(table, rows, _token(source, table, first, last, len(rows)))
        target.set_setting(cursor_key(source, table), str(last))
        after = last
        sent += len(rows)
        if progress is not None:
            progress(table, sent)


def copy_store(source: Store, target: Store, chunk: int = CHUNK_ROWS, progress: Progress | None = None) -> CopyReport:
    """Copy every table, then count both sides."""
    report = CopyReport()
    for table in COPY_TABLES:
        copy_table(source, target, table, chunk, progress)
    for table in COPY_TABLES:
        report.source[table] = source.count_table(table)
        report.target[table] = target.count_table(table)
    return report
