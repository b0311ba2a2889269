"""Daily visitor-id salts on ClickHouse: created once per day by whichever collector comes first, shared by all."""

from __future__ import annotations

import secrets

from db.clickhouse.client import ClickHouse
from db.clickhouse.queries.settings import candidate_version


def salt_for_day(ch: ClickHouse, day: str) -> bytes:
    """The salt of `day` (YYYY-MM-DD), creating it if no process has yet.

    Every caller inserts a candidate; the earliest has the highest version (schema rule) and is the one every
    caller reads back, so two collectors starting at once compute the same visitor ids."""
    ch.insert("salts", [(day, secrets.token_bytes(32).hex(), candidate_version())], ("day", "salt", "version"))
    return bytes.fromhex(str(ch.value("SELECT salt FROM salts FINAL WHERE day = ?", (day,))))


def forget_salts_before(ch: ClickHouse, day: str) -> int:
    """Delete salts older than `day`, so old visitor ids can never be recomputed; returns how many days went."""
    n = int(ch.value("SELECT uniqExact(day) FROM salts WHERE day < ?", (day,)) or 0)
    if n:
        ch.command("DELETE FROM salts WHERE day < ?", (day,))
    return n
