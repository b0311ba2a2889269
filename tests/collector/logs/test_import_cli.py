"""`sitelens import` and `sitelens token` on the command line: summaries, one-line errors for bad input."""

from __future__ import annotations

import gzip
import shutil
import sqlite3
from pathlib import Path

import pytest

from sitelens_tui.cli import main

DATA = Path(__file__).parents[2] / "data" / "logs"


pytestmark = pytest.mark.usefixtures("no_user_config")


def test_import_prints_a_summary_and_is_idempotent(tmp_path, capsys):
    db = tmp_path / "s.db"
    log = tmp_path / "access.log"
    shutil.copy(DATA / "combined.log", log)
    with gzip.open(tmp_path / "access.log.1.gz", "wb") as f:
        f.write((DATA / "common.log").read_bytes())
    code = main(["import", str(log), str(tmp_path / "access.log.1.gz"), "--db", str(db), "--site", "shop.example"])
    out = capsys.readouterr()
    assert code == 1, out.err  # lines were skipped: the exit status says so
    assert "2 files, 19 lines read" in out.out
    assert "imported 13 (6 pageviews" in out.out
    assert "skipped 6 (" in out.out and "malformed 2" in out.out
    assert "5 malformed lines, first: access.log:10 (malformed), access.log:11 (bad-request)" in out.out
    assert "access.log.1.gz:5 (malformed)" in out.out
    assert main(["import", str(log), "--db", str(db), "--site", "shop.example"]) == 0
    assert "imported 0 " in capsys.readouterr().out
    conn = sqlite3.connect(db)
    assert conn.execute("SELECT count(*) FROM events").fetchone()[0] == 13
    conn.close()


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["import", "missing.log", "--site", "a.example"], "no such file"),
        (["import", "{log}"], "--site is required"),
        (["import", "{log}", "{log}", "--follow", "--site", "a.example"], "--follow takes exactly one FILE"),
        (["import", "{tmp}", "--site", "a.example"], "not a regular file"),
        (["import", "{bad_gz}", "--site", "a.example"], "cannot read"),
    ],
)
def test_bad_arguments_give_one_clear_line_and_a_nonzero_exit(tmp_path, capsys, argv, message):
    log = tmp_path / "access.log"
    shutil.copy(DATA / "combined.log", log)
    bad_gz = tmp_path / "bad.log.gz"
    bad_gz.write_bytes(b"\x1f\x8b not really gzip")
    argv = [a.format(log=log, tmp=tmp_path, bad_gz=bad_gz) for a in argv] + ["--db", str(tmp_path / "s.db")]
    code = main(argv)
    err = capsys.readouterr().err
    assert code != 0
    assert message in err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_bad_format_choice_is_an_argparse_error(tmp_path, capsys):
    with pytest.raises(SystemExit) as info:
        main(["import", "x.log", "--format", "xml"])
    assert info.value.code == 2
    assert "invalid choice" in capsys.readouterr().err


def test_token_create_list_revoke(tmp_path, capsys):
    db = str(tmp_path / "s.db")
    assert main(["token", "create", "--site", "shop.example", "--label", "api", "--db", db]) == 0
    out = capsys.readouterr().out
    token = out.strip().splitlines()[-1]
    assert token.startswith("sl_")
    assert main(["token", "list", "--db", db]) == 0
    listing = capsys.readouterr().out
    assert "#1  shop.example" in listing and "api" in listing and token not in listing
    assert main(["token", "revoke", "1", "--db", db]) == 0
    assert main(["token", "revoke", "1", "--db", db]) == 2
    assert "no working ingest token #1" in capsys.readouterr().err
    assert main(["token", "list", "--db", db]) == 0
    assert "no ingest tokens" in capsys.readouterr().out


def test_the_progress_bar_shows_lines_per_second_and_an_eta(tmp_path):
    import io

    from collector.logs.importer import ImportStats
    from sitelens_tui.commands.import_logs import ProgressBar, eta_text

    assert eta_text(0.1, 1000, 1000) == ""  # too early to tell
    assert eta_text(10.0, 1_000_000, 3_000_000) == "ETA 30s"
    assert eta_text(10.0, 1_000_000, 9_000_000) == "ETA 1m30s"
    out = io.StringIO()
    bar = ProgressBar(out)
    stats = ImportStats(lines=50_000, elapsed_s=2.0)
    bar(stats, tmp_path / "access.log", 1_000_000, 4_000_000)
    assert "access.log [######..................]  25.0%  50,000 lines  25,000 lines/s" in out.getvalue()
