"""The base of every error whose message is meant for the user (shown as one line, no traceback)."""

from __future__ import annotations


class UserError(Exception):
    """Something the user can fix: bad configuration, a missing file, a bad argument."""


class StorageUnavailable(Exception):
    """The database cannot take a write the request needs (disk full, read-only, busy); answered with 503."""
