"""Ingest tokens (server-side events) and access-log import offsets.

The records and rules every engine shares; the SQL is in db/sqlite/queries and db/clickhouse/queries.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass

TOKEN_PREFIX = "sl_"
MAX_LABEL = 200


def hash_token(token: str) -> str:
    """The stored form of an ingest token: hex SHA-256 (tokens are random, so no salt is needed)."""
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def new_token() -> str:
    """A fresh random ingest token (shown once, then only its hash is kept)."""
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


@dataclass(slots=True, frozen=True)
class TokenRow:
    """One stored ingest token (without the token itself, which is not kept)."""

    id: int
    site: str
    label: str
    created: float
    revoked: float | None


@dataclass(slots=True, frozen=True)
class ImportFile:
    """Where a previous import of a file stopped."""

    id: int
    offset: int
    lines: int
