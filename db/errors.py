"""Errors every storage engine raises in the same words, so callers above db/ never see an engine's own."""

from __future__ import annotations


class DatabaseError(Exception):
    """The store cannot be opened or used; the message says which store and why."""


class SchemaTooNew(DatabaseError):
    """The store was migrated by a newer SiteLens than this one."""
