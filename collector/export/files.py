"""Export targets: atomic output files (a temporary name beside the target, renamed when complete) and the guard
that never lets an export replace a database."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

from collector.export.formats import ExportError

SQLITE_MAGIC = b"SQLite format 3\x00"
"""The first 16 bytes of every SQLite database file."""
WAL_MAGICS = (b"\x37\x7f\x06\x82", b"\x37\x7f\x06\x83")
"""The first 4 bytes of a SQLite write-ahead log (big- and little-endian checksums)."""
SIDE_FILES = ("-wal", "-shm", "-journal")
"""Files SQLite keeps beside a database; the -shm file has no magic of its own, so it is known by its name."""


class TargetExists(ExportError):
    """The export file exists already; replacing it needs the user's say-so (`--force`)."""


def is_sqlite_file(path: str | os.PathLike[str]) -> bool:
    """True for a SQLite database or write-ahead log, known by its header (not its name)."""
    try:
        with open(path, "rb") as f:
            head = f.read(16)
    except OSError:
        return False
    return head == SQLITE_MAGIC or head[:4] in WAL_MAGICS


def check_target(
    path: str | os.PathLike[str], *, databases: Iterable[str | os.PathLike[str]] = (), force: bool = False
) -> None:
    """Refuse an export target that would destroy data: the database being read, any SQLite database or its
    -wal/-shm/-journal file (also through symbolic links), never allowed; an existing file only with `force`."""
    target = os.fspath(path)
    if target == "-":
        return
    real = Path(os.path.realpath(target))
    for db in databases:
        db_real = os.path.realpath(db)
        if str(real) in {db_real, *(db_real + side for side in SIDE_FILES)}:
            raise ExportError(f"refusing to write {target}: it is the database being exported ({db})")
    if is_sqlite_file(real):
        raise ExportError(f"refusing to overwrite {target}: it is a SQLite database")
    for side in SIDE_FILES:
        if real.name.endswith(side) and is_sqlite_file(real.with_name(real.name[: -len(side)])):
            raise ExportError(f"refusing to overwrite {target}: it belongs to a SQLite database")
    if real.is_file() and not force:
        raise TargetExists(f"{target} already exists: pass --force to overwrite it")


def _reason(exc: OSError) -> str:
    return exc.strerror or type(exc).__name__


@contextmanager
def atomic_output(path: str | os.PathLike[str]) -> Iterator[BinaryIO]:
    """A binary file that appears at `path` only if the block finishes; a failure leaves nothing behind."""
    target = Path(path)
    if target.is_dir():
        raise ExportError(f"cannot write {target}: it is a directory")
    directory = target.parent
    if not directory.is_dir():
        raise ExportError(f"cannot write {target}: directory {directory} does not exist")
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part", dir=directory)
    except OSError as exc:
        raise ExportError(f"cannot write {target}: {_reason(exc)}") from None
    ok = False
    try:
        with os.fdopen(fd, "wb", buffering=1 << 20) as out:
            yield out
            out.flush()
            os.fsync(out.fileno())
        os.chmod(tmp, 0o644 & ~_umask())
        if is_sqlite_file(os.path.realpath(target)):  # checked again at the last moment, for every caller
            raise ExportError(f"refusing to overwrite {target}: it is a SQLite database")
        os.replace(tmp, target)
        ok = True
    except OSError as exc:
        raise ExportError(f"cannot write {target}: {_reason(exc)}") from None
    finally:
        if not ok:
            try:
                os.unlink(tmp)
            except OSError:
                pass


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
