"""The base of every error whose message is meant for the user (shown as one line, no traceback)."""

from __future__ import annotations


class UserError(Exception):
    """Something the user can fix: bad configuration, a missing file, a bad argument."""
