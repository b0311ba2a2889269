"""Password hashes for dashboard users (Argon2id from argon2-cffi): made by `sitelens web passwd`, checked at login."""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

_HASHER = PasswordHasher()

DUMMY_HASH = _HASHER.hash("not a password of anyone")
"""Checked for unknown user names, so a login takes as long whether or not the name exists."""


def hash_password(password: str) -> str:
    """An Argon2id hash of `password` with a fresh salt, for `[[web.users]] password_hash`."""
    return _HASHER.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    """Whether `password` matches the stored hash (a malformed hash never matches)."""
    try:
        return _HASHER.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False
