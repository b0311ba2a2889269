"""Small persistent settings on ClickHouse (the generated admin token, export cursors).

Versions follow the schema's rule: an explicit set is 2^62 + its time, so it beats any "set if absent"
candidate, which is 2^62 minus its time, so that the earliest candidate wins and every collector that raced to
generate a value ends up reading the same one."""

from __future__ import annotations

import time

from db.clickhouse.client import ClickHouse

VERSION_BASE = 1 << 62
_COLUMNS = ("key", "value", "version")


def explicit_version() -> int:
    """The version of a deliberate change: newer than every candidate and every earlier change."""
    return VERSION_BASE + time.time_ns()


def candidate_version() -> int:
    """The version of a first-come candidate: below every explicit change, the earliest highest."""
    return VERSION_BASE - time.time_ns()


def get_setting(ch: ClickHouse, key: str) -> str | None:
    row = ch.one("SELECT value FROM settings FINAL WHERE key = ?", (key,))
    return None if row is None else str(row[0])


def set_setting(ch: ClickHouse, key: str, value: str) -> None:
    ch.insert("settings", [(key, value, explicit_version())], _COLUMNS)


def set_setting_if_absent(ch: ClickHouse, key: str, value: str) -> str:
    """Store `value` unless another value is there already; returns the stored one (a stored value is never
    replaced by a later candidate, whatever the candidate's clock says)."""
    stored = get_setting(ch, key)
    if stored is None:
        ch.insert("settings", [(key, value, candidate_version())], _COLUMNS)
        stored = get_setting(ch, key)
    return value if stored is None else stored
