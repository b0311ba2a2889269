"""Fixtures of the access-log import tests."""

from __future__ import annotations

import pytest


@pytest.fixture
def no_user_config(tmp_path, monkeypatch):
    """Keep the machine's own config and environment out of a command-line test."""
    empty = tmp_path / "empty.toml"
    empty.write_text("")
    monkeypatch.setenv("SITELENS_CONFIG", str(empty))
    for name in ("SITELENS_DB", "SITELENS_HOST", "SITELENS_PORT"):
        monkeypatch.delenv(name, raising=False)
