"""The `sitelens` command line: help, snippet, check and clear one-line errors."""

from __future__ import annotations

import subprocess
import sys

from sitelens_tui.cli import build_parser, main, split_common

COMMANDS = {"run", "collect", "tui", "import", "export", "demo", "snippet", "check", "ua", "throttle", "web"}


def test_every_documented_command_is_registered():
    sub = next(a for a in build_parser()._actions if a.dest == "command")
    assert COMMANDS <= set(sub.choices)


def test_common_options_anywhere(tmp_path):
    argv, common = split_common(["throttle", "set", "--db", "x.db", "--ip", "1.2.3.4", "--config=c.toml"])
    assert argv == ["throttle", "set", "--ip", "1.2.3.4"]
    assert common == {"--db": "x.db", "--config": "c.toml"}


def test_snippet_prints_tag_and_pixel(capsys):
    assert main(["snippet", "--site", "example.com", "--url", "https://stats.example.com"]) == 0
    out = capsys.readouterr().out
    assert '<script defer src="https://stats.example.com/sl.js" data-site="example.com"></script>' in out
    assert "https://stats.example.com/p.gif?site=example.com" in out


def test_snippet_bad_url_is_one_line(capsys):
    assert main(["snippet", "--site", "example.com", "--url", "ftp://nope"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("sitelens: error:") and "\n" not in err


def test_check_reports_problems_and_fixes(tmp_path, capsys):
    db = tmp_path / "c.db"
    assert main(["check", "--db", str(db)]) == 0
    assert "ok   store" in capsys.readouterr().out
    cfg = tmp_path / "c.toml"
    cfg.write_text(f"[geoip]\npath = '{tmp_path / 'missing.mmdb'}'\n")
    assert main(["check", "--db", str(db), "--config", str(cfg)]) == 1
    out = capsys.readouterr().out
    assert "FAIL geoip" in out and "missing.mmdb" in out


def test_help_runs_without_a_terminal():
    result = subprocess.run([sys.executable, "-m", "sitelens_tui", "--help"], capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 0
    for command in COMMANDS:
        assert command in result.stdout
