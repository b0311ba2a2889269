"""The batch import gives exactly what the line-by-line (live pipeline) import gives: every table, row for row."""

from __future__ import annotations

import itertools
import shutil
import sqlite3
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

import collector.sessions as sessions_module
from collector.config import Config
from collector.logs.importer import Importer, ImportStats
from collector.salts import day_of
from db.store import open_store
from tests.collector.logs.generated import DAY, write_combined, write_json

START = datetime(2024, 5, 1, 18, 0, tzinfo=UTC).timestamp()
WALL_CLOCK = {("import_files", "updated")}
"""Columns that hold when the import ran, not what it found."""


def seeded_db(path: Path) -> None:
    """A database whose daily salts exist already, so two copies of it hash visitors alike."""
    store = open_store(f"sqlite://{path}")
    try:
        for day in range(-1, 4):
            store.salt_for_day(day_of(START + day * DAY))
    finally:
        store.close()


async def import_all(cfg: Config, logs: list[Path], json_log: Path, *, batch: bool) -> list[ImportStats]:
    """Import the combined logs into one site, then the JSON log by each line's host, as `sitelens import` would."""
    out = []
    async with Importer(cfg, site="shop.example", chunk_lines=300, batch=batch) as importer:
        for log in logs:
            await importer.import_file(log)
    assert not importer.writer.stats.errors, importer.writer.stats.last_error  # a retried flush moves boundaries
    out.append(importer.stats)
    async with Importer(cfg, site="", fmt="json", chunk_lines=300, batch=batch) as importer:
        await importer.import_file(json_log)
    assert not importer.writer.stats.errors, importer.writer.stats.last_error
    out.append(importer.stats)
    return out


BY_SESSION_ID = ("sessions", "rollup_pending_sessions")
"""Tables whose rowid is the session id, so their storage order is the ids' order."""


def session_positions(conn: sqlite3.Connection) -> dict[int, int]:
    """Each session's position in the order of its stored values. Not the order of its id: ids are random within
    a millisecond (collector/sessions.py new_session_id), and log lines have whole-second times, so two sessions
    starting in the same second can get their ids in either order on two imports of the same lines."""
    order = ", ".join(r[1] for r in conn.execute("PRAGMA table_info(sessions)") if r[1] != "id")
    positions: dict[int, int] = {}
    previous: list[Any] | None = None
    for n, (sid, *values) in enumerate(conn.execute(f"SELECT id, {order} FROM sessions ORDER BY {order}")):  # noqa: S608
        assert values != previous, "two sessions alike in every stored value: their order would be the ids'"
        positions[sid] = n
        previous = values
    return positions


def tables(db: Path) -> dict[str, list[tuple[Any, ...]]]:
    """Every table's rows in storage order, with session ids replaced by the session's position (they are random);
    tables stored in session id order come in session position order."""
    conn = sqlite3.connect(db)
    try:
        names = {
            r[0]: "without rowid" not in r[1].lower()
            for r in conn.execute("SELECT name, sql FROM sqlite_master WHERE type = 'table' ORDER BY name")
        }
        sessions = session_positions(conn)
        out: dict[str, list[tuple[Any, ...]]] = {}
        for name, has_rowid in names.items():
            # (tables without a rowid come in primary-key order)
            cur = conn.execute(f"SELECT * FROM {name}" + (" ORDER BY rowid" if has_rowid else ""))  # noqa: S608
            columns = [d[0] for d in cur.description]
            rows = []
            for row in cur:
                values = []
                for column, value in zip(columns, row, strict=True):
                    if (name, column) in WALL_CLOCK:
                        continue
                    if column == "session_id" or (name in ("sessions", "rollup_pending_sessions") and column == "id"):
                        value = sessions.get(value, value)
                    values.append(value)
                rows.append(tuple(values))
            if name in BY_SESSION_ID:
                at = columns.index("id")
                rows.sort(key=lambda row: row[at])
            out[name] = rows
        return out
    finally:
        conn.close()


@pytest.mark.parametrize("seed", [1, 2])
async def test_batch_and_streaming_imports_store_the_same_rows(
    tmp_path: Path, seed: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    logs = [tmp_path / "access.log.2.gz", tmp_path / "access.log.1", tmp_path / "access.log.0.gz"]
    write_combined(logs[0], seed, START, 9)  # 18:00 to 03:00: over midnight
    write_combined(logs[1], seed + 10, START + 9 * 3600, 6, bad=False)
    write_combined(logs[2], seed + 20, START + 15 * 3600, 6)
    whole = logs[2].read_bytes()
    logs[2].write_bytes(whole[: len(whole) * 2 // 3])  # a truncated .gz: what was readable is kept
    json_log = tmp_path / "access.json"
    write_json(json_log, seed + 30, START + 21 * 3600, 4)

    seeded_db(tmp_path / "seed.db")
    dbs = {}
    stats = {}
    for batch in (False, True):
        db = tmp_path / f"{'batch' if batch else 'streaming'}.db"
        shutil.copy(tmp_path / "seed.db", db)
        # Sessions started in the same millisecond get their ids in opposite orders on the two imports, as a
        # wrapping id counter can give them: the comparison must not depend on it (see session_positions).
        monkeypatch.setattr(sessions_module, "_id_counter", itertools.count(0xFFF, -1) if batch else itertools.count())
        stats[batch] = await import_all(Config.for_tests(db), logs, json_log, batch=batch)
        dbs[batch] = tables(db)

    streaming = stats[False][0]
    assert streaming.lines > 6000 and streaming.imported > 5000
    assert streaming.bots > 100 and streaming.skipped["corrupt-gzip"] == 1
    assert {"malformed", "bad-time", "bad-status", "bad-request", "blank"} <= set(streaming.skipped)
    for a, b in zip(stats[False], stats[True], strict=True):
        assert (a.lines, a.imported, a.pageviews, a.requests, a.assets, a.bots) == (
            b.lines, b.imported, b.pageviews, b.requests, b.assets, b.bots,
        )  # fmt: skip
        assert a.skipped == b.skipped and a.first_skipped == b.first_skipped
    assert stats[True][1].skipped["no-site"] == 1

    rows_s, rows_b = dbs[False], dbs[True]
    assert rows_s.keys() == rows_b.keys()
    sessions = rows_s["sessions"]
    assert len(sessions) > 500
    assert len(rows_s["events"]) == streaming.imported + stats[False][1].imported
    for name in rows_s:
        assert len(rows_s[name]) == len(rows_b[name]), name
        for n, (a, b) in enumerate(zip(rows_s[name], rows_b[name], strict=True)):
            assert a == b, f"{name} row {n}"


async def test_the_awkward_cases_are_in_the_generated_logs(tmp_path: Path) -> None:
    """The comparison above is only worth something if the logs hold what it claims: check they do."""
    log = tmp_path / "access.log"
    write_combined(log, 1, START, 9)
    cfg = Config.for_tests(tmp_path / "s.db")
    async with Importer(cfg, site="shop.example", chunk_lines=300) as importer:
        await importer.import_file(log)
    conn = sqlite3.connect(tmp_path / "s.db")
    try:
        midnight = (START // DAY + 1) * DAY
        across = conn.execute(
            "SELECT count(*) FROM sessions WHERE started < ? AND last_seen >= ? AND is_bot = 0", (midnight, midnight)
        ).fetchone()[0]
        assert across >= 1
        reasons = {r[0] for r in conn.execute("SELECT DISTINCT bot_reasons FROM sessions WHERE is_bot = 1")}
        assert any(r.startswith("crawler:") for r in reasons) and "tool:curl" in reasons
        assert any("probe-path" in r for r in reasons)
        scored = conn.execute("SELECT bot_signals FROM sessions WHERE is_bot = 1 AND bot_reasons = ''").fetchall()
        assert any("sequential" in r[0] for r in scored)  # the scraper: caught by behaviour alone
        # Sessions longer than a chunk of 300 lines' time span cross chunk borders.
        spans = conn.execute("SELECT max(last_seen - started) FROM sessions WHERE is_bot = 0").fetchone()[0]
        assert spans > 9 * 3600 / (importer.stats.lines / 300)
        long_referrer = "SELECT count(*) FROM events WHERE path = '/long' AND ref_source = 'x.example'"
        assert conn.execute(long_referrer).fetchone()[0] == 1
    finally:
        conn.close()


async def test_the_batch_path_writes_through_any_store(tmp_path: Path, tmp_path_factory: Any) -> None:
    """Rows go through the storage contract (the writer and its sink), so ClickHouse gets what SQLite gets."""
    pytest.importorskip("chdb")
    from db.url import parse_store_url
    from tests.engines import chdb_config

    log = tmp_path / "access.log"
    write_combined(log, 3, START, 9)
    seen = {}
    for batch in (False, True):
        cfg = chdb_config(tmp_path / str(batch), tmp_path_factory)
        async with Importer(cfg, site="shop.example", chunk_lines=300, batch=batch) as importer:
            await importer.import_file(log)
        store = open_store(parse_store_url(cfg.db.url))
        try:
            ch = store.ch  # type: ignore[attr-defined]
            seen[batch] = (
                ch.rows(
                    "SELECT ts, type, path, referrer, ref_source, browser, os, device, is_bot, bot_name, status "
                    "FROM events ORDER BY ts, path, type, is_bot"
                ),
                ch.rows(
                    "SELECT started, last_seen, pageviews, requests, entry_path, exit_path, is_bot, bot_name, "
                    "bot_reasons, bot_score, bot_signals, new_visitor FROM sessions FINAL ORDER BY started, entry_path"
                ),
            )
        finally:
            store.close()
    events, sessions = seen[True]
    assert len(events) > 3000 and len(sessions) > 300
    assert seen[True] == seen[False]
