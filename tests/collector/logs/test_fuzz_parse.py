"""Property tests for the access-log parsers: any line is a LogLine or a LineError with a reason, nothing else."""

from __future__ import annotations

import json

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from collector.logs.parse import LineError, LogLine, detect_format, parse_clf, parse_json

FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck), database=None)
any_text = st.text(st.characters(codec=None, exclude_categories=()), max_size=60)
digits = st.text(st.characters(categories=("Nd", "No")), min_size=1, max_size=4)  # ² and ٣ are "digits" too
stamps = st.one_of(
    any_text,
    st.builds(lambda d, s: f"10/Oct/2000:13:55:{s} {d}", st.sampled_from(["-0700", "+0000", "x0700", "+07a0"]),
              st.one_of(digits, st.just("36"))),
    st.builds(lambda d: f"{d}/Oct/2000:13:55:36 -0700", digits),
)
fields = st.one_of(any_text, st.sampled_from(["-", "", "GET / HTTP/1.1", '\\"', "\\\\"]))


@st.composite
def clf_lines(draw: st.DrawFn) -> str:
    """Lines shaped like combined/common log lines with any piece replaced by anything."""
    ip, request, referrer, ua = draw(fields), draw(fields), draw(fields), draw(fields)
    status = draw(st.one_of(digits, st.sampled_from(["200", "999", "-", "0"])))
    size = draw(st.one_of(digits, st.sampled_from(["512", "-", "-5"])))
    line = f'{ip} - - [{draw(stamps)}] "{request}" {status} {size} "{referrer}" "{ua}"'
    if draw(st.booleans()):
        cut = draw(st.integers(0, len(line)))
        line = line[:cut]
    return line


json_scalars = st.one_of(st.none(), st.booleans(), st.integers(-(2**63), 2**64 - 1),
                         st.floats(allow_nan=False), any_text, digits,
                         st.sampled_from(["inf", "-inf", "nan", "1e400", "0001-01-01T00:00:00+01:00",
                                          "9999-12-31T23:59:59-12:00", "2024-05-01T10:00:00Z", "1714557600.5"]))
json_values = st.recursive(json_scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=3), st.dictionaries(any_text, inner, max_size=3)), max_leaves=8)
JSON_KEYS = ["request", "remote_addr", "client_ip", "host", "request_method", "method", "request_uri", "uri", "ts",
             "time", "msec", "status", "body_bytes_sent", "size", "http_user_agent", "http_referer", "latency_ms",
             "request_time", "duration", "headers"]


@st.composite
def json_lines(draw: st.DrawFn) -> str:
    obj = draw(st.dictionaries(st.sampled_from(JSON_KEYS), json_values, max_size=10))
    if draw(st.booleans()):
        obj["request"] = draw(st.dictionaries(st.sampled_from(JSON_KEYS + ["headers"]), json_values, max_size=6))
    return json.dumps(obj)  # lone surrogates go out as \\ud800 escapes, as a broken logger might write them


def parses_or_says_why(parser, line: str) -> None:
    try:
        parsed = parser(line)
    except LineError as exc:
        assert exc.reason and " " not in exc.reason  # a short code the import summary counts
        return
    assert isinstance(parsed, LogLine)
    assert 100 <= parsed.status <= 599 and parsed.size >= 0 and 0 < parsed.ts < 7.3e9


@FUZZ
@given(line=st.one_of(clf_lines(), any_text))
@example(line='1.2.3.4 - - [10/Oct/2000:13:55:3² -0700] "GET / HTTP/1.1" 200 5 "-" "-"')
@example(line='1.2.3.4 - - [10/Oct/2000:13:55:36 -0700] "GET / HTTP/1.1" 2²0 5 "-" "-"')
def test_clf_lines_parse_or_fail_with_a_reason(line: str) -> None:
    parses_or_says_why(parse_clf, line)


@FUZZ
@given(line=st.one_of(json_lines(), any_text))
@example(line='{"request": "GET / HTTP/1.1", "time": "inf", "status": 200}')
@example(line='{"request": "GET / HTTP/1.1", "time": "0001-01-01T00:00:00+01:00", "status": 200}')
@example(line='{"request": "GET / HTTP/1.1", "time": 1714557600, "status": "2²0"}')
def test_json_lines_parse_or_fail_with_a_reason(line: str) -> None:
    parses_or_says_why(parse_json, line)


@settings(max_examples=100, deadline=None, database=None)
@given(sample=st.lists(st.one_of(clf_lines(), json_lines(), any_text), max_size=8))
def test_format_detection_always_names_a_format(sample: list[str]) -> None:
    assert detect_format(sample) in ("combined", "common", "json")
