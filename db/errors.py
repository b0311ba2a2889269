"""Errors every storage engine raises in the same words, so callers above db/ never see an engine's own, and
why a write failed in words a person acts on: disk full, database read-only, database busy."""

from __future__ import annotations

import sqlite3


class DatabaseError(Exception):
    """The store cannot be opened or used; the message says which store and why."""


class SchemaTooNew(DatabaseError):
    """The store was migrated by a newer SiteLens than this one."""


STORE_ERRORS: tuple[type[BaseException], ...] = (DatabaseError, sqlite3.Error)
"""What a Store method may raise when the store itself fails (catch these, not an engine's own classes)."""

DISK_FULL = "disk full"
READ_ONLY = "database read-only"
BUSY = "database busy"
SPOOL_FULL = "store unreachable and the local spool full"

_BY_CODE = {
    13: DISK_FULL,  # SQLITE_FULL
    8: READ_ONLY,  # SQLITE_READONLY
    5: BUSY,  # SQLITE_BUSY
    6: BUSY,  # SQLITE_LOCKED
}
_BY_TEXT = (
    ("database or disk is full", DISK_FULL),
    ("no space left", DISK_FULL),
    ("not_enough_space", DISK_FULL),
    ("spool full", SPOOL_FULL),
    ("readonly database", READ_ONLY),
    ("read-only", READ_ONLY),
    ("database is locked", BUSY),
    ("database table is locked", BUSY),
)


def storage_problem(exc: BaseException) -> str:
    """'disk full', 'database read-only', 'database busy', or '' for anything else.

    By SQLite's primary result code when the exception carries it, else by the message (an error that
    crossed the writer process's pipe is pickled without its code; ClickHouse says it in words)."""
    code = getattr(exc, "sqlite_errorcode", None)
    if isinstance(exc, sqlite3.Error) and isinstance(code, int) and code & 0xFF in _BY_CODE:
        return _BY_CODE[code & 0xFF]
    text = str(exc).lower()
    return next((problem for needle, problem in _BY_TEXT if needle in text), "")
