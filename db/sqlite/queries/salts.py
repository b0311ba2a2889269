"""SQLite: daily visitor-id salts: created once per day, shared by every process on the database."""

from __future__ import annotations

import secrets
import sqlite3


def salt_for_day(conn: sqlite3.Connection, day: str) -> bytes:
    """The salt of `day` (YYYY-MM-DD), creating it if no process has yet (a read when it exists: no write lock)."""
    row = conn.execute("SELECT salt FROM salts WHERE day = ?", (day,)).fetchone()
    if row is None:
        conn.execute("INSERT OR IGNORE INTO salts (day, salt) VALUES (?, ?)", (day, secrets.token_bytes(32)))
        row = conn.execute("SELECT salt FROM salts WHERE day = ?", (day,)).fetchone()
    return bytes(row[0])


def forget_salts_before(conn: sqlite3.Connection, day: str) -> int:
    """Delete salts older than `day`, so old visitor ids can never be recomputed."""
    return conn.execute("DELETE FROM salts WHERE day < ?", (day,)).rowcount
