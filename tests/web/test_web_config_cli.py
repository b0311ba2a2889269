"""The [web] section of the config and the `sitelens web` command line: users, roles, hashes, clear errors."""

from __future__ import annotations

import io
import tomllib
from pathlib import Path

import pytest

from collector.config import ConfigError, config_from_mapping, validate
from sitelens_tui.cli import main
from sitelens_tui.web.passwords import hash_password, verify_password

HASH = hash_password("a-good-password")


def web_config(**web: object) -> dict[str, object]:
    users = web.pop("users", [{"name": "ann", "password_hash": HASH}])
    return {"web": {**web, "users": users}}


def test_web_section_with_users_and_default_role() -> None:
    cfg = config_from_mapping(web_config(port=9000, max_sessions=2, idle_timeout_s=60,
                                         users=[{"name": "ann", "password_hash": HASH},
                                                {"name": "bob", "password_hash": HASH, "role": "admin"}]))
    validate(cfg)
    assert (cfg.web.port, cfg.web.max_sessions, cfg.web.idle_timeout_s) == (9000, 2, 60.0)
    assert [(u.name, u.role) for u in cfg.web.users] == [("ann", "viewer"), ("bob", "admin")]


@pytest.mark.parametrize(("web", "message"), [
    ({"users": [{"name": "ann", "password_hash": HASH, "role": "root"}]}, "role must be one of viewer, admin"),
    ({"users": [{"name": "ann", "password_hash": "hunter2"}]}, "sitelens web passwd NAME"),
    ({"users": [{"name": "ann", "password_hash": HASH}] * 2}, "each user name must appear once"),
    ({"users": [{"name": "ann"}]}, "web.users"),
    ({"max_sessions": 0}, "must be positive"),
    ({"public_url": "stats.example.com"}, "must start with http:// or https://"),
    ({"public_url": "https://example.com/dashboard"}, "must be the root of a host"),
    ({"colour": "red"}, "unknown setting 'colour'"),
    ({"port": "80"}, "web.port: expected int"),
])
def test_bad_web_settings_are_named(web: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        validate(config_from_mapping(web_config(**web)))


def test_passwd_prints_a_user_entry_whose_hash_verifies(monkeypatch, capsys) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO("correct horse battery\n"))
    assert main(["web", "passwd", "carol", "--role", "admin"]) == 0
    entry = tomllib.loads(capsys.readouterr().out)["web"]["users"][0]
    assert (entry["name"], entry["role"]) == ("carol", "admin")
    assert verify_password(entry["password_hash"], "correct horse battery")
    assert not verify_password(entry["password_hash"], "correct horse")


def test_passwd_refuses_a_short_password(monkeypatch, capsys) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO("short\n"))
    assert main(["web", "passwd", "carol"]) == 2
    assert "at least 8 characters" in capsys.readouterr().err


def test_web_without_users_says_how_to_add_one(tmp_path: Path, capsys) -> None:
    config = tmp_path / "c.toml"
    config.write_text(f'[db]\npath = "{tmp_path / "x.db"}"\n')
    assert main(["--config", str(config), "web"]) == 2
    assert "add [[web.users]]" in capsys.readouterr().err
