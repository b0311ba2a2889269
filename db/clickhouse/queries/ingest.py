"""Ingest tokens (server-side events) and access-log import offsets on ClickHouse.

Both are ReplacingMergeTree tables read with FINAL: a change inserts a whole new row version."""

from __future__ import annotations

import time

from db.clickhouse.client import ClickHouse
from db.clickhouse.ids import new_id
from db.queries.ingest import MAX_LABEL, ImportFile, TokenRow, hash_token, new_token

__all__ = [
    "ImportFile",
    "TokenRow",
    "create_token",
    "import_file",
    "list_tokens",
    "revoke_token",
    "save_import_offset",
    "token_site",
]

_TOKEN_COLUMNS = ("id", "site", "token_hash", "label", "created", "revoked", "version")
_FILE_COLUMNS = ("id", "device", "inode", "head_hash", "path", "offset", "lines", "updated", "version")


def create_token(ch: ClickHouse, site: str, label: str = "", now: float | None = None) -> tuple[int, str]:
    """Create an ingest token for a site; returns (id, token) — the token is not retrievable later."""
    token = new_token()
    created = time.time() if now is None else now
    token_id = new_id()
    ch.insert(
        "ingest_tokens",
        [(token_id, site, hash_token(token), label[:MAX_LABEL], created, None, time.time_ns())],
        _TOKEN_COLUMNS,
    )
    return token_id, token


def token_site(ch: ClickHouse, token: str) -> str | None:
    """The site a working (not revoked) database token belongs to, or None."""
    row = ch.one(
        "SELECT site FROM ingest_tokens FINAL WHERE token_hash = ? AND revoked IS NULL LIMIT 1", (hash_token(token),)
    )
    return None if row is None else str(row[0])


def list_tokens(ch: ClickHouse, include_revoked: bool = False) -> list[TokenRow]:
    """Stored tokens, newest first."""
    where = "" if include_revoked else " WHERE revoked IS NULL"
    rows = ch.rows(f"SELECT id, site, label, created, revoked FROM ingest_tokens FINAL{where} ORDER BY id DESC")
    return [TokenRow(int(r[0]), str(r[1]), str(r[2]), float(r[3]), None if r[4] is None else float(r[4])) for r in rows]


def revoke_token(ch: ClickHouse, token_id: int, now: float | None = None) -> bool:
    """Revoke a token by id; False when there is no such working token."""
    if ch.one("SELECT 1 FROM ingest_tokens FINAL WHERE id = ? AND revoked IS NULL", (token_id,)) is None:
        return False
    ch.command(
        "INSERT INTO ingest_tokens SELECT id, site, token_hash, label, created, ?, ? "
        "FROM ingest_tokens FINAL WHERE id = ? AND revoked IS NULL",
        (time.time() if now is None else now, time.time_ns(), token_id),
    )
    return True


def import_file(ch: ClickHouse, device: int, inode: int, head_hash: str, path: str) -> ImportFile:
    """The import record of a file, created at offset 0 when new (resuming from the furthest offset known for
    the same first line, as on SQLite: a rotated log compressed to a new file)."""
    row = ch.one(
        "SELECT id, offset, lines FROM import_files FINAL WHERE device = ? AND inode = ? AND head_hash = ? "
        "ORDER BY id LIMIT 1",
        (device, inode, head_hash),
    )
    if row is not None:
        # A new version with the path only: copied server-side, so an offset saved meanwhile is kept.
        ch.command(
            "INSERT INTO import_files SELECT id, device, inode, head_hash, ?, offset, lines, updated, ? "
            "FROM import_files FINAL WHERE id = ?",
            (path, time.time_ns(), int(row[0])),
        )
        return ImportFile(int(row[0]), int(row[1]), int(row[2]))
    known = ch.one(
        "SELECT offset, lines FROM import_files FINAL WHERE head_hash = ? ORDER BY offset DESC LIMIT 1", (head_hash,)
    )
    offset, lines = (int(known[0]), int(known[1])) if known is not None else (0, 0)
    file_id = new_id()
    ch.insert(
        "import_files",
        [(file_id, device, inode, head_hash, path, offset, lines, time.time(), time.time_ns())],
        _FILE_COLUMNS,
    )
    return ImportFile(file_id, offset, lines)


def save_import_offset(ch: ClickHouse, file_id: int, offset: int, lines: int) -> None:
    """Record how far a file has been imported (never moving back, as on SQLite)."""
    ch.command(
        "INSERT INTO import_files SELECT id, device, inode, head_hash, path, greatest(offset, ?), "
        "greatest(lines, ?), ?, ? FROM import_files FINAL WHERE id = ?",
        (offset, lines, time.time(), time.time_ns(), file_id),
    )
