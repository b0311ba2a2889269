"""A bounded spool on local disk: batches acknowledged while ClickHouse is away wait here, in order.

One file per batch (pickled, fsynced, named by a sequence number). A batch leaves the spool only after
ClickHouse has taken it; each carries its deduplication tokens, so a batch sent again after a crash between
the insert and the unlink is not stored twice."""

from __future__ import annotations

import os
import pickle
from collections.abc import Iterator
from pathlib import Path
from typing import Any

SUFFIX = ".batch"


class SpoolFull(Exception):
    """The spool has reached its size limit: the writer keeps the batch queued (the collector answers 503)."""


class Spool:
    """Files `NNNNNNNNNNNN.batch` in `directory`, at most `max_bytes` together."""

    def __init__(self, directory: str | Path, max_bytes: int) -> None:
        self.directory = Path(directory)
        self.max_bytes = max_bytes
        self.directory.mkdir(parents=True, exist_ok=True)
        files = self._files()
        self._next = int(files[-1].stem) + 1 if files else 0
        self._bytes = sum(f.stat().st_size for f in files)
        self._count = len(files)
        self.events = sum(self._events(f) for f in files) if files else 0

    def _files(self) -> list[Path]:
        return sorted(p for p in self.directory.glob(f"*{SUFFIX}") if p.stem.isdigit())

    @staticmethod
    def _events(path: Path) -> int:
        try:
            return len(pickle.loads(path.read_bytes()).events)
        except Exception:
            return 0

    def __len__(self) -> int:
        return self._count

    @property
    def size_bytes(self) -> int:
        return self._bytes

    def append(self, item: Any, *, force: bool = False) -> None:
        """Write one batch durably at the end (SpoolFull past the limit, unless `force`: nothing is written then)."""
        data = pickle.dumps(item, protocol=pickle.HIGHEST_PROTOCOL)
        if self._bytes + len(data) > self.max_bytes and not force:
            raise SpoolFull(f"spool full ({self._bytes} of {self.max_bytes} bytes) in {self.directory}")
        final = self.directory / f"{self._next:012d}{SUFFIX}"
        tmp = final.with_suffix(".tmp")
        with open(tmp, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, final)
        _fsync_dir(self.directory)
        self._next += 1
        self._bytes += len(data)
        self._count += 1
        self.events += len(getattr(item, "events", ()))

    def oldest(self) -> Iterator[tuple[Path, Any]]:
        """The spooled batches, oldest first (a file that cannot be read is moved aside, not lost silently)."""
        for path in self._files():
            try:
                yield path, pickle.loads(path.read_bytes())
            except Exception:
                path.rename(path.with_suffix(".unreadable"))
                self._forget(path)

    def remove(self, path: Path, item: Any) -> None:
        """Drop a batch ClickHouse has taken."""
        self._forget(path)
        self.events -= len(getattr(item, "events", ()))
        path.unlink(missing_ok=True)

    def _forget(self, path: Path) -> None:
        try:
            self._bytes -= path.stat().st_size
        except OSError:
            pass
        self._count -= 1


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
