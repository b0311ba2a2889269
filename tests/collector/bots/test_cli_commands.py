"""`sitelens ua` and `sitelens throttle`: what a user types and what they read back."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from sitelens_tui.cli import main

CHROME = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/124.0.0.0 Safari/537.36"
)
FIELDS = ["ua", "browser", "browser_version", "os", "os_version", "device", "is_bot", "bot_name", "reason"]


def lines(out: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in out.splitlines()]


def test_ua_prints_one_json_object_per_argument(capsys: pytest.CaptureFixture[str]) -> None:
    assert (
        main(
            [
                "ua",
                CHROME,
                "curl/8.4.0",
                "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)",
            ]
        )
        == 0
    )
    chrome, curl, bing = lines(capsys.readouterr().out)
    assert list(chrome) == FIELDS
    assert chrome["os_version"] == "Windows 10"
    assert (chrome["browser"], chrome["os"], chrome["device"], chrome["is_bot"]) == (
        "Chrome",
        "Windows",
        "desktop",
        False,
    )
    assert chrome["reason"] == "" and chrome["bot_name"] == ""
    assert (curl["is_bot"], curl["bot_name"], curl["device"]) == (True, "curl", "bot")
    assert bing["is_bot"] and bing["bot_name"].lower() == "bingbot" and bing["reason"].startswith("crawler:")


def test_ua_reads_standard_input_and_skips_blank_lines(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO(f"{CHROME}\n\npython-requests/2.31.0\r\n"))
    assert main(["ua"]) == 0
    got = lines(capsys.readouterr().out)
    assert [g["is_bot"] for g in got] == [False, True]
    assert got[1]["ua"] == "python-requests/2.31.0"


def test_ua_keeps_terminal_escapes_out_of_the_output(capsys: pytest.CaptureFixture[str]) -> None:
    main(["ua", "evil\x1b[2J\x07agent"])
    out = capsys.readouterr().out
    assert "\x1b" not in out and "\x07" not in out
    assert lines(out)[0]["ua"] == "evil\x1b[2J\x07agent"


def test_throttle_set_list_clear_round_trip(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = str(tmp_path / "s.db")
    assert (
        main(
            [
                "throttle",
                "set",
                "--ip",
                "203.0.113.9",
                "--level",
                "Blocked",
                "--for",
                "2h",
                "--reason",
                "flood",
                "--db",
                db,
            ]
        )
        == 0
    )
    assert "override #1: ip 203.0.113.9 → blocked" in capsys.readouterr().out
    assert main(["throttle", "--db", db, "set", "--cidr", "198.51.100.200/24", "--level", "severe"]) == 0
    capsys.readouterr()
    assert main(["throttle", "list", "--db", db]) == 0
    table = capsys.readouterr().out.splitlines()
    assert table[0].split() == ["ID", "KIND", "TARGET", "LEVEL", "EXPIRES", "REASON"]
    assert table[1].split()[:4] == ["1", "ip", "203.0.113.9", "blocked"] and "(in 1h59m" in table[1]
    assert table[1].endswith("flood")
    assert table[2].split()[:5] == ["2", "cidr", "198.51.100.0/24", "severe", "never"]
    assert main(["throttle", "clear", "--id", "1", "--db", db]) == 0
    assert main(["throttle", "clear", "--target", "198.51.100.0/24", "--db", db]) == 0
    capsys.readouterr()
    main(["throttle", "list", "--db", db])
    assert capsys.readouterr().out.strip() == "no active throttle overrides"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["set", "--ip", "300.1.1.1", "--level", "blocked"], "is not an IP address"),
        (["set", "--cidr", "x/y", "--level", "blocked"], "is not a network"),
        (["set", "--fingerprint", "abc", "--level", "blocked", "--for", "soon"], "bad duration 'soon'"),
        (["clear", "--id", "42"], "no active override #42"),
    ],
)
def test_throttle_mistakes_are_one_clear_line_and_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    db = str(tmp_path / "s.db")
    assert main(["throttle", "set", "--fingerprint", "other", "--level", "warning", "--db", db]) == 0
    capsys.readouterr()
    assert main(["throttle", *args, "--db", db]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1


def test_throttle_list_on_a_missing_database_says_so(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["throttle", "list", "--db", str(tmp_path / "nope.db")]) == 2
    assert "database not found" in capsys.readouterr().err
    assert not (tmp_path / "nope.db").exists()


def test_ids_are_given_the_same_way_to_throttle_clear_and_token_revoke(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = str(tmp_path / "s.db")
    for ip in ("203.0.113.1", "203.0.113.2"):
        assert main(["throttle", "set", "--ip", ip, "--level", "blocked", "--db", db]) == 0
    for site in ("a.example", "b.example"):
        assert main(["token", "create", "--site", site, "--db", db]) == 0
    capsys.readouterr()
    # Positional (the documented form) and --id (accepted too), for both commands.
    assert main(["throttle", "clear", "1", "--db", db]) == 0
    assert main(["throttle", "clear", "--id", "2", "--db", db]) == 0
    assert main(["token", "revoke", "1", "--db", db]) == 0
    assert main(["token", "revoke", "--id", "2", "--db", db]) == 0
    out = capsys.readouterr().out
    assert out.count("override cleared") == 2 and "revoked ingest token #1" in out and "#2" in out
    for argv, message in (
        (["throttle", "clear"], "give the override ID or --target"),
        (["token", "revoke"], "give the token id"),
        (["token", "revoke", "1", "--id", "2"], "two different ids"),
    ):
        assert main([*argv, "--db", db]) == 2
        err = capsys.readouterr().err
        assert message in err and len(err.strip().splitlines()) == 1
    for command in (["throttle", "clear", "--help"], ["token", "revoke", "--help"]):
        with pytest.raises(SystemExit):
            main(command)
        usage = capsys.readouterr().out
        assert "[ID]" in usage and "--id" not in usage  # one style shown
