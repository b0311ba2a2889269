"""Exports read back equal the database, in every format; NDJSON imports back to the same statistics."""

from __future__ import annotations

import asyncio
import csv
import io
from pathlib import Path

import orjson
import pyarrow.parquet as pq
import pytest

from collector.export import ExportError, export_rows, export_table
from db.export.streams import EVENT_EXPORT_COLUMNS
from db.records import SESSION_COLUMNS
from db.sqlite.connection import connect
from sitelens_tui.commands.import_json import import_file
from tests.collector.export.seed import T0, seed_db, table_rows
from tests.engines import sqlite_store

EVENT_SQL = f"SELECT {', '.join(EVENT_EXPORT_COLUMNS)} FROM events"
SESSION_SQL = f"SELECT {', '.join(SESSION_COLUMNS)} FROM sessions"


def read_back(
    path: Path, fmt: str, columns: list[str], like: list[tuple[object, ...]]
) -> list[tuple[object, ...]]:
    """Rows from an exported file, converted to the database's Python types (CSV cells are text)."""
    if fmt == "parquet":
        table = pq.read_table(path)
        assert table.column_names == columns
        return [tuple(r[c] for c in columns) for r in table.to_pylist()]
    if fmt == "ndjson":
        rows = [orjson.loads(line) for line in path.read_bytes().splitlines()]
        assert all(list(r) == columns for r in rows)
        return [tuple(r[c] for c in columns) for r in rows]
    reader = csv.reader(io.StringIO(path.read_text(encoding="utf-8"), newline=""))
    assert next(reader) == columns
    kinds = [type(v) for v in like[0]]
    return [tuple(k(cell) for k, cell in zip(kinds, row, strict=True)) for row in reader]


@pytest.mark.parametrize("fmt", ["csv", "ndjson", "parquet"])
def test_events_and_sessions_round_trip_in_every_format(tmp_path: Path, fmt: str) -> None:
    conn = seed_db(tmp_path / "s.db")
    for what, sql, order in (
        ("events", EVENT_SQL, " ORDER BY ts, id"),
        ("sessions", SESSION_SQL, " ORDER BY id"),
    ):
        out = tmp_path / f"{what}.{fmt}"
        result = export_table(sqlite_store(conn), what, fmt, out)
        expected = table_rows(conn, sql + order)
        assert result.rows == len(expected) > 0
        assert result.bytes == out.stat().st_size
        columns = list(EVENT_EXPORT_COLUMNS if what == "events" else SESSION_COLUMNS)
        if fmt == "csv":  # text a spreadsheet would run as a formula comes out behind a quote (see test below)
            expected = [tuple(neutralised(v) for v in row) for row in expected]
        assert read_back(out, fmt, columns, expected) == expected


def neutralised(value: object) -> object:
    return "'" + value if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r") else value


def test_filters_by_site_span_and_bots(tmp_path: Path) -> None:
    conn = seed_db(tmp_path / "s.db")
    out = tmp_path / "e.ndjson"
    start, end = T0 + 3600, T0 + 7200
    result = export_table(
        sqlite_store(conn), "events", "ndjson", out, site="a.example", span_start=start, span_end=end, bots="humans"
    )
    expected = table_rows(
        conn,
        "SELECT id FROM events WHERE site = 'a.example' AND ts >= ? AND ts < ? "
        "AND is_bot = 0 ORDER BY ts, id",
        (start, end),
    )
    got = [orjson.loads(line)["id"] for line in out.read_bytes().splitlines()]
    assert result.rows == len(got) == len(expected) > 0
    assert got == [r[0] for r in expected]
    bots = export_table(sqlite_store(conn), "events", "csv", tmp_path / "b.csv", bots="bots")
    assert bots.rows == conn.execute("SELECT count(*) FROM events WHERE is_bot = 1").fetchone()[0]


def test_gzip_by_file_name(tmp_path: Path) -> None:
    import gzip

    conn = seed_db(tmp_path / "s.db")
    result = export_table(sqlite_store(conn), "events", "ndjson", tmp_path / "e.ndjson.gz")
    lines = gzip.decompress((tmp_path / "e.ndjson.gz").read_bytes()).splitlines()
    assert len(lines) == result.rows == 300


def test_current_view_rows_with_inferred_types(tmp_path: Path) -> None:
    rows = [("/a", 10, 0.5, None), ("/b, c", 3, 1, "x")]
    result = export_rows(["path", "visitors", "rate", "note"], iter(rows), "parquet", tmp_path / "v.parquet")
    assert result.rows == 2
    table = pq.read_table(tmp_path / "v.parquet")
    assert table.to_pylist() == [
        {"path": "/a", "visitors": 10, "rate": 0.5, "note": None},
        {"path": "/b, c", "visitors": 3, "rate": 1.0, "note": "x"},
    ]
    assert str(table.schema.field("visitors").type) == "int64"


def test_failed_export_leaves_the_old_file_untouched(tmp_path: Path) -> None:
    out = tmp_path / "v.csv"
    out.write_text("old\n")

    def rows():
        yield ("a",)
        raise RuntimeError("reader died")

    with pytest.raises(RuntimeError):
        export_rows(["x"], rows(), "csv", out)
    assert out.read_text() == "old\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["v.csv"]  # no temporary left behind


def test_unknown_table_and_format_are_clear_errors(tmp_path: Path) -> None:
    conn = seed_db(tmp_path / "s.db", n=3)
    with pytest.raises(ExportError, match="unknown export 'nope'"):
        export_table(sqlite_store(conn), "nope", "csv", tmp_path / "x.csv")
    with pytest.raises(ExportError, match="unknown format 'xml'"):
        export_table(sqlite_store(conn), "events", "xml", tmp_path / "x.xml")
    assert not (tmp_path / "x.csv").exists()


def stats(conn) -> list[tuple[object, ...]]:
    return table_rows(
        conn,
        "SELECT type, site, path, count(*), sum(engaged_ms), sum(is_bot), round(sum(cost_usd), 9) "
        "FROM events GROUP BY type, site, path ORDER BY type, site, path",
    )


def test_ndjson_export_imports_back_to_the_same_statistics(tmp_path: Path) -> None:
    source = seed_db(tmp_path / "s.db")
    export_table(sqlite_store(source), "events", "ndjson", tmp_path / "e.ndjson")
    export_table(sqlite_store(source), "sessions", "ndjson", tmp_path / "s.ndjson")
    target = tmp_path / "t.db"
    first = asyncio.run(import_file(tmp_path / "e.ndjson", sqlite_store(target)))
    second = asyncio.run(import_file(tmp_path / "s.ndjson", sqlite_store(target)))
    assert (first.events, first.bad, second.sessions, second.bad) == (300, 0, 7, 0)
    copy = connect(target)
    assert stats(copy) == stats(source)
    cols = ", ".join(c for c in EVENT_EXPORT_COLUMNS if c != "id")
    assert table_rows(copy, f"SELECT {cols} FROM events ORDER BY ts") == table_rows(
        source, f"SELECT {cols} FROM events ORDER BY ts"
    )
    assert table_rows(copy, SESSION_SQL + " ORDER BY id") == table_rows(source, SESSION_SQL + " ORDER BY id")


def test_import_skips_bad_lines_and_says_which(tmp_path: Path) -> None:
    f = tmp_path / "bad.ndjson"
    f.write_bytes(
        b'{"ts": 1.5, "site": "s", "type": "pageview", "path": "/x"}\nnot json\n'
        b'{"ts": "yesterday", "site": "s", "type": "pageview"}\n[1]\n'
    )
    result = asyncio.run(import_file(f, sqlite_store(tmp_path / "t.db")))
    assert (result.events, result.bad) == (1, 3)
    assert result.first_error.startswith("line 2: not JSON")


def test_daily_rollups_export_after_import(tmp_path: Path) -> None:
    """Rows imported through the writer are rolled up; the daily traffic export sums them per site and day."""
    source = seed_db(tmp_path / "s.db")
    export_table(sqlite_store(source), "events", "ndjson", tmp_path / "e.ndjson")
    asyncio.run(import_file(tmp_path / "e.ndjson", sqlite_store(tmp_path / "t.db")))
    copy = connect(tmp_path / "t.db")
    result = export_table(sqlite_store(copy), "rollups", "ndjson", tmp_path / "r.ndjson")
    rows = [orjson.loads(line) for line in (tmp_path / "r.ndjson").read_bytes().splitlines()]
    assert result.rows == len(rows) > 0
    assert sum(r["hits"] for r in rows) == 300
    assert {r["day"] % 86400 for r in rows} == {0}
    expected = table_rows(source, "SELECT site, count(*) FROM events GROUP BY site ORDER BY site")
    got: dict[str, int] = {}
    for r in rows:
        got[r["site"]] = got.get(r["site"], 0) + r["hits"]
    assert sorted(got.items()) == expected
    with pytest.raises(ExportError, match="unknown rollup"):
        export_table(sqlite_store(copy), "rollups", "csv", tmp_path / "x.csv", table="nope")
    pages = export_table(sqlite_store(copy), "rollups", "parquet", tmp_path / "p.parquet", table="pages", bots="humans")
    assert pages.rows == pq.read_table(tmp_path / "p.parquet").num_rows > 0


def test_funnel_results_export(tmp_path: Path) -> None:
    """One row per funnel step with entered/converted counts, for funnels in config and in the database."""
    from collector.config import FunnelConfig

    conn = seed_db(tmp_path / "s.db")
    funnel = FunnelConfig(name="p0 then p1", steps=[{"path": "/p/0"}, {"path": "/p/1"}], window_s=86400)
    result = export_table(sqlite_store(conn), "funnels", "csv", tmp_path / "f.csv", bots="all", funnels_config=[funnel])
    rows = list(csv.DictReader((tmp_path / "f.csv").open(newline="")))
    assert result.rows == 2 == len(rows)
    assert [r["label"] for r in rows] == ["page /p/0", "page /p/1"]
    first = conn.execute(
        "SELECT count(DISTINCT visitor_id) FROM events WHERE path = '/p/0' "
        "AND type IN ('pageview', 'request')"
    ).fetchone()[0]
    assert int(rows[0]["entered"]) == first > 0
