"""The writer's SQLite work in a child process, so flushes and rollups never take the collector's GIL.

The child (db/sink_process.py) owns the connection, writes each batch and runs the flush hooks in one
transaction, and checkpoints when it closes.
"""

from __future__ import annotations

from pathlib import Path

from db.sink_process import SinkProcess, WriterProcessDied
from db.sqlite.batch import FlushHook, SqliteSink


def open_sink(path: str, hooks: list[FlushHook], pragmas: tuple[str, ...]) -> SqliteSink:
    """In the child: the connection the flushes write through (migrating the file first)."""
    return SqliteSink(Path(path), pragmas, hooks)


class WriterProcess(SinkProcess):
    """The SQLite writer process, as the parent sees it."""

    def __init__(self, path: Path, hooks: list[FlushHook], pragmas: tuple[str, ...] = ()) -> None:
        super().__init__(open_sink, (str(path), hooks, pragmas))


__all__ = ["WriterProcess", "WriterProcessDied"]
