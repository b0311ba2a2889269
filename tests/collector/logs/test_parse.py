"""Access-log line parsing: combined, common, Caddy and nginx JSON, and the reasons bad lines are refused."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from collector.logs.parse import LineError, clf_time, detect_format, parse_clf, parse_json

DATA = Path(__file__).parents[2] / "data" / "logs"


def lines(name: str) -> list[str]:
    return (DATA / name).read_text(encoding="utf-8").splitlines(keepends=True)


def test_a_combined_line_gives_every_field():
    rec = parse_clf(lines("combined.log")[0])
    assert rec.ip == "203.0.113.10"
    assert rec.ts == datetime(2024, 5, 1, 8, 0, 0, tzinfo=UTC).timestamp()  # +0200 applied
    assert (rec.method, rec.target, rec.status, rec.size) == (
        "GET",
        "/pricing?utm_source=newsletter&utm_medium=email",
        200,
        5120,
    )
    assert rec.referrer == "https://www.google.com/"
    assert rec.ua.startswith("Mozilla/5.0 (Windows NT 10.0")


def test_apache_escaped_quotes_and_user_fields_are_handled():
    rec = parse_clf(lines("combined.log")[8])
    assert rec.target == '/search?q="quoted"'
    assert rec.ua.startswith("Mozilla/5.0 (Macintosh")
    assert rec.referrer == ""  # "-" means none


def test_common_lines_have_no_referrer_or_user_agent():
    rec = parse_clf(lines("common.log")[3])
    assert (rec.target, rec.status, rec.size, rec.referrer, rec.ua) == ("/missing", 404, 0, "", "")


@pytest.mark.parametrize(
    ("index", "reason"),
    [(9, "malformed"), (10, "bad-request"), (11, "bad-time"), (13, "bad-status")],
)
def test_malformed_combined_lines_say_why(index, reason):
    with pytest.raises(LineError) as info:
        parse_clf(lines("combined.log")[index])
    assert info.value.reason == reason


def test_an_unquoted_request_is_malformed():
    with pytest.raises(LineError):
        parse_clf(lines("common.log")[4])


def test_clf_time_handles_zones_and_caches_per_minute():
    assert clf_time("01/May/2024:10:00:59 -0130") == datetime(2024, 5, 1, 11, 30, 59, tzinfo=UTC).timestamp()
    assert clf_time("01/May/2024:10:00:00 -0130") + 59 == clf_time("01/May/2024:10:00:59 -0130")
    for bad in ("01/May/2024:10:00:61x-0130", "01/Mai/2024:10:00:00 +0000", "", "01/May/2024:25:00:00 +0000"):
        with pytest.raises(LineError):
            clf_time(bad)


def test_caddy_json_lines_carry_headers_latency_and_host():
    rec = parse_json(lines("caddy.json")[0])
    assert (rec.ip, rec.method, rec.host) == ("203.0.113.40", "GET", "blog.example")
    assert rec.target == "/posts/hello?utm_source=mastodon"
    assert (rec.status, rec.size, rec.latency_ms, rec.ts) == (200, 10900, 12.3, 1714557600.25)
    assert rec.ua.startswith("Mozilla/5.0 (X11; Linux")
    assert (rec.referrer, rec.accept, rec.accept_language) == (
        "https://mastodon.social/@me",
        "text/html",
        "en-US",
    )


def test_nginx_json_lines_in_both_request_styles_and_time_fields():
    first, second, third = (parse_json(line) if i < 2 else line for i, line in enumerate(lines("nginx.json")))
    assert (first.method, first.target, first.status) == ("GET", "/features", 200)
    assert (first.size, first.latency_ms) == (4200, 4.0)
    assert first.ts == datetime(2024, 5, 1, 10, 0, tzinfo=UTC).timestamp()
    assert first.host == "shop.example" and first.accept is None
    assert (second.method, second.target, second.status, second.ts) == (
        "GET",
        "/checkout",
        302,
        1714557660.12,
    )
    with pytest.raises(LineError) as info:
        parse_json(third)
    assert info.value.reason == "bad-status"


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        (lines("caddy.json")[4], "bad-json"),
        (lines("caddy.json")[5], "bad-json"),
        ('{"remote_addr":"192.0.2.1","request":"GET / HTTP/1.1","status":200}', "bad-time"),
        (
            '{"time":"yesterday","remote_addr":"192.0.2.1","request":"GET / HTTP/1.1","status":200}',
            "bad-time",
        ),
        ('{"ts":1714557603,"remote_addr":"192.0.2.1","status":200}', "bad-request"),
        ('{"ts":1714557603,"request":{"method":"GET","uri":"/"},"status":true}', "bad-status"),
        ('{"ts":1714557603,"request":{"method":["GET"],"uri":{"a":1}},"status":200}', "bad-field"),
    ],
)
def test_bad_json_lines_say_why(line, reason):
    with pytest.raises(LineError) as info:
        parse_json(line)
    assert info.value.reason == reason


def test_a_json_line_without_host_parses_with_an_empty_host():
    assert parse_json(lines("caddy.json")[3]).host == ""


def test_format_detection():
    assert detect_format(lines("combined.log")) == "combined"
    assert detect_format(lines("common.log")) == "common"
    assert detect_format(lines("caddy.json")) == "json"
    assert detect_format(lines("nginx.json")) == "json"
