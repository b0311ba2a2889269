"""Every command that takes --db works with --store on ClickHouse (chDB): import, export, forget, token,
throttle, check, as a user would run them."""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

import pytest

from db.store import open_store
from sitelens_tui.cli import main
from tests.engines import chdb_url

pytest.importorskip("chdb")
DATA = Path(__file__).parent / "data" / "logs"


@pytest.fixture(autouse=True)
def no_user_config(tmp_path, monkeypatch):
    empty = tmp_path / "empty.toml"
    empty.write_text(f'[db]\nspool_dir = "{tmp_path / "spool"}"\n')
    monkeypatch.setenv("SITELENS_CONFIG", str(empty))
    for name in ("SITELENS_DB", "SITELENS_STORE", "SITELENS_HOST", "SITELENS_PORT"):
        monkeypatch.delenv(name, raising=False)


def test_import_export_and_forget_on_clickhouse(tmp_path, tmp_path_factory, capsys):
    url = chdb_url(tmp_path_factory)
    log = tmp_path / "access.log"
    shutil.copy(DATA / "combined.log", log)
    # combined.log has malformed lines on purpose: exit status 1 says some were skipped
    assert main(["import", str(log), "--db", str(tmp_path / "s.db"), "--site", "shop.example"]) == 1
    on_sqlite = capsys.readouterr().out.splitlines()[1:]  # the first line has the timing
    assert main(["import", str(log), "--store", url, "--site", "shop.example"]) == 1
    assert capsys.readouterr().out.splitlines()[1:] == on_sqlite
    assert on_sqlite[0].startswith("imported 9 (4 pageviews")
    imported = open_store(url).count_table("events")
    assert imported > 0
    assert main(["import", str(log), "--store", url, "--site", "shop.example"]) == 0  # resumes: adds nothing
    assert "imported 0 " in capsys.readouterr().out and open_store(url).count_table("events") == imported
    target = tmp_path / "events.csv"
    assert main(["export", "--store", url, "--what", "events", "--format", "csv", "-o", str(target)]) == 0
    with open(target, newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == imported and {r["site"] for r in rows} == {"shop.example"}
    visitor = next(r["visitor_id"] for r in rows if r["visitor_id"])
    assert main(["forget", "--store", url, "--visitor", visitor]) == 0
    store = open_store(url)
    assert store.ch.value("SELECT count() FROM events WHERE visitor_id = ?", (visitor,)) == 0  # type: ignore[attr-defined]
    assert store.ch.value("SELECT count() FROM sessions FINAL WHERE visitor_id = ?", (visitor,)) == 0  # type: ignore[attr-defined]


def test_tokens_throttle_and_check_on_clickhouse(tmp_path_factory, capsys):
    url = chdb_url(tmp_path_factory)
    assert main(["token", "create", "--site", "example.com", "--label", "api", "--store", url]) == 0
    token = capsys.readouterr().out.split()[-1]
    assert open_store(url).token_site(token) == "example.com"
    assert main(["token", "list", "--store", url]) == 0
    token_id = capsys.readouterr().out.split()[0].lstrip("#")
    assert main(["token", "revoke", token_id, "--store", url]) == 0
    assert open_store(url).token_site(token) is None
    assert main(["throttle", "set", "--ip", "203.0.113.5", "--level", "blocked", "--reason", "scraper",
                 "--store", url]) == 0
    capsys.readouterr()
    assert main(["throttle", "list", "--store", url]) == 0
    assert "203.0.113.5" in capsys.readouterr().out
    assert main(["check", "--store", url]) == 0
    assert "ClickHouse" in capsys.readouterr().out
