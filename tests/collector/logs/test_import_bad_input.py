"""`sitelens import` on bad input: a clear message, the good lines kept, an exit status that says what happened."""

from __future__ import annotations

import gzip
import shutil
import sqlite3
from pathlib import Path

import orjson
import pytest

from sitelens_tui.cli import main

DATA = Path(__file__).parents[2] / "data" / "logs"
GOOD = (DATA / "combined.log").read_bytes()
GOOD_EVENTS = 9
"""Events the committed combined.log gives (its other lines are malformed on purpose)."""
PATHS = ["", "--streaming"]


pytestmark = pytest.mark.usefixtures("no_user_config")


def run(tmp_path: Path, *args: str) -> int:
    argv = ["import", *args, "--db", str(tmp_path / "s.db"), "--site", "shop.example"]
    return main([a for a in argv if a])


def events(tmp_path: Path) -> int:
    if not (tmp_path / "s.db").exists():
        return 0
    conn = sqlite3.connect(tmp_path / "s.db")
    try:
        return conn.execute("SELECT count(*) FROM events").fetchone()[0]
    finally:
        conn.close()


def test_a_clean_log_exits_zero(tmp_path, capsys):
    log = tmp_path / "clean.log"
    log.write_bytes(b"".join(line + b"\n" for line in GOOD.splitlines()[:4]))
    assert run(tmp_path, str(log)) == 0
    assert "malformed" not in capsys.readouterr().out


def test_a_wrong_format_is_refused_before_anything_is_imported(tmp_path, capsys):
    log = tmp_path / "caddy.log"
    obj = {"ts": 1714564800, "request": {"client_ip": "192.0.2.1", "method": "GET", "uri": "/", "host": "a"},
           "status": 200}  # fmt: skip
    log.write_bytes(orjson.dumps(obj) + b"\n")
    assert run(tmp_path, str(log), "--format", "combined") == 2
    err = capsys.readouterr().err
    assert "its first line is not in combined format but in json: try --format json" in err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert events(tmp_path) == 0


def test_a_binary_file_is_not_a_log(tmp_path, capsys):
    blob = tmp_path / "image.log"
    blob.write_bytes(bytes(range(256)) * 64)
    assert run(tmp_path, str(blob)) == 2
    err = capsys.readouterr().err
    assert "is an access-log line (binary data" in err and "Traceback" not in err


@pytest.mark.parametrize("path", PATHS)
def test_garbage_and_a_1mb_line_inside_a_log_are_skipped_and_counted(tmp_path, capsys, path):
    log = tmp_path / "access.log"
    lines = GOOD.splitlines(keepends=True)
    log.write_bytes(
        b"".join(lines[:3]) + b"\x00\xff\xfe\x16\x03 garbage\n" + b"x" * (1 << 20) + b"\n" + b"".join(lines[3:])
    )
    assert run(tmp_path, str(log), path) == 1  # imported, but not everything: the status says so
    out = capsys.readouterr().out
    assert events(tmp_path) == GOOD_EVENTS
    assert "6 malformed lines, first: access.log:4 (malformed), access.log:5 (malformed), access.log:12" in out


@pytest.mark.parametrize("path", PATHS)
def test_a_truncated_gzip_keeps_what_was_readable(tmp_path, capsys, path):
    log = tmp_path / "access.log.1.gz"
    body = b"".join(GOOD.splitlines(keepends=True)[:5]) * 400
    whole = gzip.compress(body)
    log.write_bytes(whole[: len(whole) // 2])
    assert run(tmp_path, str(log), path) == 1
    out = capsys.readouterr().out
    assert "corrupt-gzip 1" in out
    assert 0 < events(tmp_path) < 400 * 4


def test_an_unreadable_file_does_not_stop_the_others(tmp_path, capsys):
    good, bad = tmp_path / "access.log", tmp_path / "access.log.2.gz"
    shutil.copy(DATA / "combined.log", good)
    bad.write_bytes(b"\x1f\x8b not really gzip")
    assert run(tmp_path, str(bad), str(good)) == 1
    out = capsys.readouterr().out
    assert events(tmp_path) == GOOD_EVENTS
    assert f"not imported: {bad}: cannot read" in out
