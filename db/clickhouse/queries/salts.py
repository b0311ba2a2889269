"""Daily visitor-id salts on ClickHouse: created once per day by whichever collector comes first, shared by all."""

from __future__ import annotations

import secrets

from db.clickhouse.client import ClickHouse
from db.clickhouse.queries.settings import candidate_version


def salt_for_day(ch: ClickHouse, day: str) -> bytes:
    """The salt of `day` (YYYY-MM-DD), creating it if no process has yet.

    A stored salt is returned as it is. Otherwise the caller inserts a candidate and reads back the winner: the
    earliest candidate has the highest version (schema rule), so collectors creating the day's salt at once all
    read the same one and compute the same visitor ids. Reading first keeps a later candidate (say, from a host
    whose clock runs behind) from ever replacing a salt that is already in use."""
    stored = ch.value("SELECT salt FROM salts FINAL WHERE day = ?", (day,))
    if stored is None:
        ch.insert("salts", [(day, secrets.token_bytes(32).hex(), candidate_version())], ("day", "salt", "version"))
        stored = ch.value("SELECT salt FROM salts FINAL WHERE day = ?", (day,))
    return bytes.fromhex(str(stored))


def forget_salts_before(ch: ClickHouse, day: str) -> int:
    """Delete salts older than `day`, so old visitor ids can never be recomputed; returns how many days went."""
    n = int(ch.value("SELECT uniqExact(day) FROM salts WHERE day < ?", (day,)) or 0)
    if n:
        ch.command("DELETE FROM salts WHERE day < ?", (day,))
    return n
