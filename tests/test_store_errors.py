"""Choosing a store: every way of getting it wrong is one clear line and a non-zero exit, never a traceback."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from sitelens_tui.cli import main
from tests.engines import chdb_url

ROOT = Path(__file__).resolve().parents[1]


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def one_line_error(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err.strip()
    assert err.startswith("sitelens: error:") and "\n" not in err and "Traceback" not in err
    return err


def test_an_unknown_scheme_is_named(capsys):
    assert main(["check", "--store", "postgres://localhost/x"]) == 2
    assert "unknown store scheme 'postgres'" in one_line_error(capsys)


def test_db_and_store_naming_different_places_is_refused(tmp_path, capsys):
    assert main(["check", "--db", str(tmp_path / "a.db"), "--store", f"sqlite:///{tmp_path / 'b.db'}"]) == 2
    assert "name different places" in one_line_error(capsys)
    assert main(["check", "--db", str(tmp_path / "a.db"), "--store", f"sqlite:///{tmp_path / 'a.db'}"]) == 0


def test_an_unreachable_server_is_said_in_words(capsys):
    url = f"clickhouse://default:pw@127.0.0.1:{closed_port()}/sitelens"
    assert main(["check", "--store", url]) == 1
    out = capsys.readouterr()
    assert "FAIL store: cannot open ClickHouse store" in out.out and "connection refused" in out.out
    assert "pw" not in out.out and "Traceback" not in out.out + out.err
    assert main(["token", "list", "--store", url]) == 2
    assert "connection refused" in one_line_error(capsys)


@pytest.fixture
def http_endpoint(tmp_path: Path) -> Iterator[int]:
    """A ClickHouse HTTP endpoint with the password "s3cr3t" (bench/ch_standin.py: chDB behind ClickHouse's HTTP
    interface, in a process of its own), so the words a `clickhouse://` user gets come through the HTTP client."""
    pytest.importorskip("chdb")
    cmd = [sys.executable, "-m", "bench.ch_standin", "--path", str(tmp_path / "ch"), "--password", "s3cr3t"]
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        yield int(json.loads(proc.stdout.readline())["port"])
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def test_a_wrong_password_and_a_missing_database_are_said_in_words(http_endpoint, capsys):
    wrong = f"clickhouse://default:guess@127.0.0.1:{http_endpoint}/sitelens"
    assert main(["check", "--store", wrong]) == 1
    out = capsys.readouterr().out
    assert "FAIL store:" in out and "authentication failed: check the user and password in the store URL" in out
    assert "guess" not in out
    missing = f"clickhouse://default:s3cr3t@127.0.0.1:{http_endpoint}/nowhere"
    assert main(["token", "list", "--store", missing]) == 2
    assert "the database does not exist: create it with `sitelens check --store URL --create`" in one_line_error(capsys)


def test_a_schema_newer_than_this_version_is_refused(tmp_path_factory, capsys):
    pytest.importorskip("chdb")
    url = chdb_url(tmp_path_factory)
    from db.clickhouse.migrate import latest_version
    from db.store import open_store

    assert main(["check", "--store", url]) == 0
    assert f"schema v{latest_version()}/{latest_version()}" in capsys.readouterr().out

    store = open_store(url)
    store.ch.insert("schema_migrations", [(99, 0.0)], ("version", "applied"))  # type: ignore[attr-defined]
    assert main(["check", "--store", url]) == 1
    assert "schema version 99, newer than this SiteLens knows" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("text", "engine", "path"),
    [
        ("sqlite:///var/lib/sitelens/site.db", "sqlite", "/var/lib/sitelens/site.db"),
        ("sqlite:////var/lib/sitelens/site.db", "sqlite", "/var/lib/sitelens/site.db"),  # SQLAlchemy's spelling
        ("sqlite://site.db", "sqlite", "site.db"),
        ("chdb:///tmp/ch?database=web", "clickhouse", "/tmp/ch"),
        ("chdb://ch", "clickhouse", "ch"),
    ],
)
def test_a_file_store_url_holds_the_path_as_written(text, engine, path):
    from db.url import parse_store_url

    url = parse_store_url(text)
    assert (url.engine, url.path) == (engine, path)
    assert parse_store_url(url.display()) == url


def test_a_server_url_keeps_its_parts_and_hides_the_password():
    from db.url import parse_store_url

    url = parse_store_url("clickhouses://web:s3cret@ch.internal/analytics")
    assert (url.host, url.port, url.user, url.password, url.database, url.secure) == (
        "ch.internal", 8443, "web", "s3cret", "analytics", True)
    assert "s3cret" not in url.display()
