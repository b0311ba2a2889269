"""SQLite: ingest tokens (server-side events) and access-log import offsets."""

from __future__ import annotations

import sqlite3
import time

from db.batch import Batch
from db.queries.ingest import MAX_LABEL, ImportFile, TokenRow, hash_token, new_token


def create_token(conn: sqlite3.Connection, site: str, label: str = "", now: float | None = None) -> tuple[int, str]:
    """Create an ingest token for a site; returns (id, token) — the token is not retrievable later."""
    token = new_token()
    cur = conn.execute(
        "INSERT INTO ingest_tokens (site, token_hash, label, created) VALUES (?, ?, ?, ?)",
        (site, hash_token(token), label[:MAX_LABEL], time.time() if now is None else now),
    )
    return int(cur.lastrowid or 0), token


def token_site(conn: sqlite3.Connection, token: str) -> str | None:
    """The site a working (not revoked) database token belongs to, or None."""
    row = conn.execute(
        "SELECT site FROM ingest_tokens WHERE token_hash = ? AND revoked IS NULL", (hash_token(token),)
    ).fetchone()
    return None if row is None else str(row[0])


def list_tokens(conn: sqlite3.Connection, include_revoked: bool = False) -> list[TokenRow]:
    """Stored tokens, newest first."""
    sql = "SELECT id, site, label, created, revoked FROM ingest_tokens"
    if not include_revoked:
        sql += " WHERE revoked IS NULL"
    return [TokenRow(*row) for row in conn.execute(sql + " ORDER BY id DESC")]


def revoke_token(conn: sqlite3.Connection, token_id: int, now: float | None = None) -> bool:
    """Revoke a token by id; False when there is no such working token."""
    cur = conn.execute(
        "UPDATE ingest_tokens SET revoked = ? WHERE id = ? AND revoked IS NULL",
        (time.time() if now is None else now, token_id),
    )
    return cur.rowcount > 0


def import_file(conn: sqlite3.Connection, device: int, inode: int, head_hash: str, path: str) -> ImportFile:
    """The import record of a file, created at offset 0 when new.

    A file seen before under another inode with the same first line (a rotated log compressed to a new
    file) resumes from the furthest offset known for that content.
    """
    row = conn.execute(
        "SELECT id, offset, lines FROM import_files WHERE device = ? AND inode = ? AND head_hash = ?",
        (device, inode, head_hash),
    ).fetchone()
    if row is not None:
        conn.execute("UPDATE import_files SET path = ? WHERE id = ?", (path, row[0]))
        return ImportFile(int(row[0]), int(row[1]), int(row[2]))
    known = conn.execute(
        "SELECT offset, lines FROM import_files WHERE head_hash = ? ORDER BY offset DESC LIMIT 1",
        (head_hash,),
    ).fetchone()
    offset, lines = (int(known[0]), int(known[1])) if known is not None else (0, 0)
    cur = conn.execute(
        "INSERT INTO import_files (device, inode, head_hash, path, offset, lines, updated) "
        "VALUES (?, ?, ?, ?, ?, ?, ?)",
        (device, inode, head_hash, path, offset, lines, time.time()),
    )
    return ImportFile(int(cur.lastrowid or 0), offset, lines)


def save_import_offset(conn: sqlite3.Connection, file_id: int, offset: int, lines: int) -> None:
    """Record how far a file has been imported (called inside the writer's flush transaction)."""
    conn.execute(
        "UPDATE import_files SET offset = max(offset, ?), lines = max(lines, ?), updated = ? WHERE id = ?",
        (offset, lines, time.time(), file_id),
    )


def save_import_offset_hook(conn: sqlite3.Connection, batch: Batch) -> None:
    """Writer flush hook: a batch's import offset commits in the same transaction as its rows."""
    if batch.import_offset is not None:
        save_import_offset(conn, *batch.import_offset)
