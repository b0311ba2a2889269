"""Versioned ClickHouse schema: migrations/NNNN_*.sql applied in order, recorded in `schema_migrations`."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from importlib import resources

from db.clickhouse import engaged, funnel_steps, rank, rollups
from db.clickhouse.client import ClickHouse
from db.errors import SchemaTooNew

_MIGRATION_NAME = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")
BACKFILLS: dict[int, Callable[[ClickHouse], object]] = {
    4: rollups.rebuild, 5: engaged.rebuild, 6: funnel_steps.backfill, 7: rank.rebuild
}
"""What a version computes in Python from the rows already stored, after its statements ran."""
_TRACKING = (
    "CREATE TABLE IF NOT EXISTS schema_migrations (version UInt32, applied Float64) "
    "ENGINE = ReplacingMergeTree ORDER BY version"
)


def migrations() -> list[tuple[int, str]]:
    """All (version, sql) pairs shipped with the package, oldest first."""
    root = resources.files("db.clickhouse") / "migrations"
    found = []
    for entry in root.iterdir():
        match = _MIGRATION_NAME.match(entry.name)
        if match:
            found.append((int(match.group(1)), entry.read_text(encoding="utf-8")))
    return sorted(found)


def latest_version() -> int:
    return migrations()[-1][0]


def statements(sql: str) -> list[str]:
    """A migration's statements: comment lines dropped, split at semicolons that end a line."""
    body = "\n".join(line for line in sql.splitlines() if not line.lstrip().startswith("--"))
    return [s.strip() for s in re.split(r";\s*$", body, flags=re.MULTILINE) if s.strip()]


def applied_versions(ch: ClickHouse) -> set[int]:
    """Every migration version recorded in the store."""
    ch.command(_TRACKING)
    return {int(r[0]) for r in ch.rows("SELECT DISTINCT version FROM schema_migrations")}


def schema_version(ch: ClickHouse) -> int:
    """The version the store is at (0 before the first migration)."""
    return max(applied_versions(ch), default=0)


def migrate(ch: ClickHouse) -> int:
    """Bring the store to the newest schema version; every statement is idempotent, so two collectors starting
    at once both succeed. Numbers may leave gaps, and a migration numbered below one already applied (written on
    another branch at the same time) is still applied: each version is applied unless recorded, not only those
    above the newest recorded."""
    applied = applied_versions(ch)
    current = max(applied, default=0)
    newest = latest_version()
    if current > newest:
        raise SchemaTooNew(
            f"the store {ch.url.display()} has schema version {current}, newer than this SiteLens knows ({newest}): "
            "upgrade SiteLens"
        )
    for version, sql in migrations():
        if version in applied:
            continue
        for statement in statements(sql):
            ch.command(statement)
        if version in BACKFILLS:
            BACKFILLS[version](ch)
        ch.insert("schema_migrations", [(version, time.time())], ("version", "applied"))
        current = max(current, version)
    return current
