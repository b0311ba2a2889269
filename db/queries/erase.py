"""Right to erasure: find a visitor's rows and delete them in short transactions (no writer stall).

The records and rules every engine shares; the SQL is in db/sqlite/queries and db/clickhouse/queries.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

BATCH = 500


@dataclass(slots=True)
class Erased:
    """What an erasure removed."""

    visitors: list[str] = field(default_factory=list)
    events: int = 0
    sessions: int = 0
    fingerprints: int = 0


def _marks(n: int) -> str:
    return ", ".join("?" * n)


def _batches(values: list[object], size: int = BATCH) -> Iterable[list[object]]:
    for i in range(0, len(values), size):
        yield values[i : i + size]
