"""`sitelens migrate`: a SQLite store copied into ClickHouse answers the same, and a stopped copy resumes."""

from __future__ import annotations

import pytest

from db.copy import copy_store, copy_table, cursor_key
from db.queries.common import Filters, span_for
from db.records import COPY_TABLES
from db.store import open_store
from sitelens_tui.cli import main
from tests.engines import chdb_url
from tests.factories import SITE, T0, new_db, server_event, visit, write, write_visits

pytest.importorskip("chdb")


def seeded(path):
    conn = new_db(path)
    visits = [
        visit(T0 + i * 3700, [(0, "/"), (30, f"/p{i % 4}")], visitor=f"v{i}", country=("DE", "US")[i % 2],
              custom=[(40, "signup", {"plan": "pro"})] if i % 3 == 0 else ())
        for i in range(60)
    ]
    write_visits(conn, visits)
    write(conn, [server_event(T0 + 100, "api_request", method="GET", path="/api/x", status=200, latency_ms=12.0)])
    conn.execute("INSERT INTO salts (day, salt) VALUES ('2023-11-15', x'00112233')")
    conn.execute("INSERT INTO fingerprints (fingerprint, first_seen, last_seen, sessions, requests, max_score, flags, "
                 "level, ua, bot_name) VALUES ('fp1', ?, ?, 3, 40, 70, '[\"webdriver\"]', 'severe', 'curl/8', 'curl')",
                 (T0, T0 + 500))
    conn.execute("INSERT INTO settings (key, value) VALUES ('admin_token', 'secret')")
    conn.close()
    return open_store(f"sqlite:///{path}")


def test_a_copied_store_has_every_row_and_answers_the_same(tmp_path, tmp_path_factory):
    source = seeded(tmp_path / "s.db")
    target = open_store(chdb_url(tmp_path_factory))
    report = copy_store(source, target, chunk=50)
    assert report.source == report.target
    assert report.target["events"] == source.count_table("events") > 100
    now = T0 + 3 * 86400
    for range_name in ("24h", "7d"):
        span = span_for(range_name, now)
        assert source.kpis_with_change(span, Filters(SITE)) == target.kpis_with_change(span, Filters(SITE))
        assert source.top(span, Filters(SITE), "pages") == target.top(span, Filters(SITE), "pages")
    assert target.get_setting("admin_token") == "secret"
    assert target.salt_for_day("2023-11-15") == bytes.fromhex("00112233")
    fp = target.get_fingerprint("fp1")
    assert fp is not None and (fp.sessions, fp.requests, fp.max_score, fp.level) == (3, 40, 70, "severe")


def test_a_stopped_copy_resumes_without_copying_anything_twice(tmp_path, tmp_path_factory):
    source = seeded(tmp_path / "s.db")
    target = open_store(chdb_url(tmp_path_factory))

    class Stop(Exception):
        pass

    def stop_after_two_chunks(table: str, rows: int) -> None:
        if rows >= 60:
            raise Stop

    with pytest.raises(Stop):
        copy_table(source, target, "events", chunk=30, progress=stop_after_two_chunks)
    assert target.count_table("events") == 60 and target.get_setting(cursor_key(source, "events"))
    target.set_setting(cursor_key(source, "events"), "0")  # as if it stopped before recording the key: all resent
    copy_table(source, target, "events", chunk=30)
    assert target.count_table("events") == source.count_table("events")


def test_the_command_prints_both_sides_and_refuses_a_sqlite_target(tmp_path, tmp_path_factory, capsys):
    seeded(tmp_path / "s.db").close()
    url = chdb_url(tmp_path_factory)
    assert main(["migrate", "--from", f"sqlite:///{tmp_path / 's.db'}", "--to", url]) == 0
    out = capsys.readouterr().out
    assert all(table in out for table in COPY_TABLES) and "copied" in out
    assert main(["migrate", "--from", url, "--to", f"sqlite:///{tmp_path / 't.db'}"]) == 2
    assert "sitelens migrate copies" in capsys.readouterr().err
