"""SQLite: which property keys a custom event carries, so the Events view can break each one down."""

from __future__ import annotations

import sqlite3

from db.queries.common import Filters, Span
from db.sqlite.queries.events import event_property_keys


def property_keys(conn: sqlite3.Connection, span: Span, filters: Filters, event: str, limit: int = 5) -> list[str]:
    """The most used property keys of custom event `event` in the span (rollups for long spans)."""
    return event_property_keys(conn, span, filters, event, limit)
