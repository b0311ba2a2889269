"""What one writer flush writes: the batch every engine's writer takes (db/sqlite/batch.py and
db/clickhouse/writer.py write it)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from db.records import FingerprintRecord


@dataclass(slots=True)
class Batch:
    """Everything one flush writes in one transaction."""

    events: list[tuple[object, ...]] = field(default_factory=list)
    sessions: dict[int, tuple[object, ...]] = field(default_factory=dict)
    fingerprints: dict[str, FingerprintRecord] = field(default_factory=dict)
    drops: Counter[tuple[int, str, str]] = field(default_factory=Counter)
    levels: dict[str, str] = field(default_factory=dict)
    """Throttle level changes of fingerprints that may no longer reach the pipeline (blocked clients)."""
    import_offset: tuple[int, int, int] | None = None
    """(import file id, byte offset, lines) committed with these rows: a log import resumes exactly here."""
    token: str = ""
    """A name for exactly these rows, given by a writer process's parent so that sending the batch again (to a new
    child, after one died mid-write) deduplicates where the engine can (ClickHouse insert tokens); empty: the sink
    makes one."""
    remarked: list[int] = field(default_factory=list)
    """Set by `write_batch`: ids of stored events it re-marked as bots' (their session was judged a bot in this
    batch), so the rollup hook moves what it had counted for them from humans to bots."""

    def __len__(self) -> int:
        return (
            len(self.events)
            + len(self.sessions)
            + len(self.fingerprints)
            + len(self.drops)
            + len(self.levels)
            + (self.import_offset is not None)
        )
