"""`sitelens export`, `forget` and `import-json` as a user runs them: one-line errors, summaries."""

from __future__ import annotations

import csv
import time
from pathlib import Path

import orjson
import pytest

from collector.salts import keyed_hash
from db.records import SessionRecord
from db.sqlite.batch import UPSERT_SESSION
from db.sqlite.connection import connect
from sitelens_tui.cli import main
from tests.collector.export.seed import event, seed_db
from tests.engines import sqlite_store


@pytest.fixture
def db(tmp_path: Path) -> Path:
    seed_db(tmp_path / "s.db").close()
    return tmp_path / "s.db"


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_export_writes_the_file_and_a_summary(db: Path, tmp_path: Path, capsys) -> None:
    out = tmp_path / "e.csv"
    code, _, err = run(
        capsys,
        "export",
        "--db",
        str(db),
        "--format",
        "csv",
        "--what",
        "events",
        "-o",
        str(out),
        "--site",
        "b.example",
        "--from",
        "2026-01-01",
        "--to",
        "2030-12-31",
        "--bots",
        "humans",
    )
    assert code == 0
    rows = list(csv.reader(out.open(newline="")))[1:]
    assert rows and {r[2] for r in rows} == {"b.example"}
    assert err.strip() == f"exported {len(rows)} events rows ({out.stat().st_size / 1024:.1f} KB) to {out}"


def test_export_to_stdout(db: Path, capsys) -> None:
    code, out, err = run(
        capsys, "export", "--db", str(db), "--format", "ndjson", "--what", "sessions", "-o", "-"
    )
    assert code == 0
    assert [orjson.loads(line)["id"] for line in out.splitlines()] == list(range(1000, 1007))
    assert "to stdout" in err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--format", "xml"], "unknown format 'xml' (choose from csv, ndjson, parquet)"),
        (["--format", "csv", "--since", "yesterday"], "bad --since 'yesterday'"),
        (["--format", "csv", "--from", "2026-13-01"], "bad --from '2026-13-01'"),
        (["--format", "csv", "--from", "2026-02-01", "--to", "2026-01-01"], "bad range"),
        (["--format", "csv", "--what", "users"], "unknown --what 'users'"),
        (["--format", "csv", "--bots", "some"], "unknown --bots 'some'"),
    ],
)
def test_bad_arguments_are_one_line_and_nonzero(db: Path, tmp_path: Path, capsys, args, message) -> None:
    out = tmp_path / "x.out"
    code, _, err = run(capsys, "export", "--db", str(db), "-o", str(out), *args)
    assert code != 0
    assert err.count("\n") == 1 and message in err and "Traceback" not in err
    assert not out.exists()


def test_unwritable_path_is_one_line(db: Path, tmp_path: Path, capsys) -> None:
    code, _, err = run(
        capsys, "export", "--db", str(db), "--format", "csv", "-o", str(tmp_path / "no" / "x.csv")
    )
    assert code != 0 and err.count("\n") == 1 and "does not exist" in err


def test_missing_database_is_one_line(tmp_path: Path, capsys) -> None:
    code, _, err = run(capsys, "export", "--db", str(tmp_path / "none.db"), "--format", "csv", "-o", "-")
    assert code != 0 and err.count("\n") == 1 and "database not found" in err


def test_forget_visitor_removes_their_events_and_sessions(db: Path, capsys) -> None:
    conn = connect(db)
    before = conn.execute(
        "SELECT count(*) FROM events WHERE visitor_id = ?", ("v000000000000002",)
    ).fetchone()[0]
    code, out, _ = run(capsys, "forget", "--db", str(db), "--visitor", "v000000000000002")
    assert code == 0
    assert f"erased {before} events, 1 sessions" in out
    assert (
        conn.execute("SELECT count(*) FROM events WHERE visitor_id = 'v000000000000002'").fetchone()[0] == 0
    )
    assert (
        conn.execute("SELECT count(*) FROM sessions WHERE visitor_id = 'v000000000000002'").fetchone()[0] == 0
    )
    assert conn.execute("SELECT count(*) FROM events").fetchone()[0] == 300 - before


def test_forget_ip_finds_recent_visitors_through_the_daily_salt(tmp_path: Path, capsys) -> None:
    from collector.salts import SaltStore

    conn = connect(tmp_path / "s.db")
    now = time.time()
    salt = SaltStore(sqlite_store(conn)).salt(now)
    ua = "Mozilla/5.0 Test"
    mine = keyed_hash(salt, "a.example", "203.0.113.9", ua)
    other = keyed_hash(salt, "a.example", "198.51.100.1", ua)
    for sid, vid in ((1, mine), (2, other)):
        conn.execute(
            UPSERT_SESSION,
            SessionRecord(
                id=sid, site="a.example", visitor_id=vid, fingerprint="", started=now, last_seen=now, ua=ua
            ).as_row(),
        )
        from db.sqlite.batch import INSERT_EVENT

        e = event(sid, now)
        e.visitor_id, e.session_id, e.site = vid, sid, "a.example"
        conn.execute(INSERT_EVENT, e.as_row())
    code, out, _ = run(capsys, "forget", "--db", str(tmp_path / "s.db"), "--ip", "203.0.113.9")
    assert code == 0 and "erased 1 events, 1 sessions" in out and mine in out
    assert "IPs are not stored" in out
    assert [r[0] for r in conn.execute("SELECT visitor_id FROM sessions")] == [other]


def test_import_json_cli(db: Path, tmp_path: Path, capsys) -> None:
    run(capsys, "export", "--db", str(db), "--format", "ndjson", "-o", str(tmp_path / "e.ndjson"))
    code, out, _ = run(capsys, "import-json", "--db", str(tmp_path / "t.db"), str(tmp_path / "e.ndjson"))
    assert code == 0 and "imported 300 events and 0 sessions" in out
    code, _, err = run(
        capsys, "import-json", "--db", str(tmp_path / "t.db"), str(tmp_path / "missing.ndjson")
    )
    assert code != 0 and err.count("\n") == 1


def events_in(db: Path) -> int:
    conn = connect(db, readonly=True, create=False)
    try:
        return int(conn.execute("SELECT count(*) FROM events").fetchone()[0])
    finally:
        conn.close()


def test_export_never_writes_onto_its_own_database(db: Path, tmp_path: Path, capsys) -> None:
    before = events_in(db)
    link = tmp_path / "innocent.csv"
    link.symlink_to(db)
    for target in (db, Path(f"{db}-wal"), Path(f"{db}-shm"), link):
        for extra in ((), ("--force",)):
            code, _, err = run(capsys, "export", "--db", str(db), "--format", "csv", "-o", str(target), *extra)
            assert code != 0, target
            assert err.count("\n") == 1 and "refusing to" in err and "Traceback" not in err, err
    assert events_in(db) == before and link.is_symlink()


def test_export_never_overwrites_another_sqlite_database(db: Path, tmp_path: Path, capsys) -> None:
    other = tmp_path / "other.sqlite"
    seed_db(other).close()
    kept = other.read_bytes()
    code, _, err = run(capsys, "export", "--db", str(db), "-o", str(other), "--force")
    assert code != 0 and "it is a SQLite database" in err and err.count("\n") == 1
    assert other.read_bytes() == kept


def test_existing_export_file_needs_force(db: Path, tmp_path: Path, capsys) -> None:
    out = tmp_path / "e.csv"
    out.write_text("yesterday's export\n")
    code, _, err = run(capsys, "export", "--db", str(db), "-o", str(out))
    assert code != 0 and err.strip() == f"sitelens: error: {out} already exists: pass --force to overwrite it"
    assert out.read_text() == "yesterday's export\n"
    code, _, err = run(capsys, "export", "--db", str(db), "-o", str(out), "--force")
    assert code == 0, err
    assert out.read_text().startswith("id,") or "," in out.read_text().splitlines()[0]
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".part")]  # no temporary file left behind


def test_interrupted_export_leaves_the_old_file(db: Path, tmp_path: Path) -> None:
    """A failure mid-stream (the process dying is the same to the target) leaves the previous file untouched."""
    from collector.export.exporter import export_chunks

    out = tmp_path / "e.csv"
    out.write_text("yesterday's export\n")

    def chunks():
        yield [(1, "a")]
        raise KeyboardInterrupt  # Ctrl+C half-way

    with pytest.raises(KeyboardInterrupt):
        export_chunks(["id", "name"], chunks(), "csv", out)
    assert out.read_text() == "yesterday's export\n"
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".e.csv")] == []
def test_import_json_twice_adds_nothing_the_second_time(db: Path, tmp_path: Path, capsys) -> None:
    import gzip

    run(capsys, "export", "--db", str(db), "--format", "ndjson", "-o", str(tmp_path / "e.ndjson"))
    run(capsys, "export", "--db", str(db), "--format", "ndjson", "--what", "sessions", "-o", str(tmp_path / "s.ndjson"))
    target = tmp_path / "t.db"

    def counts() -> tuple[int, int, int]:
        conn = connect(target)
        try:
            return (
                conn.execute("SELECT count(*) FROM events").fetchone()[0],
                conn.execute("SELECT count(*) FROM sessions").fetchone()[0],
                conn.execute("SELECT coalesce(sum(hits), 0) FROM rollup_traffic").fetchone()[0],
            )
        finally:
            conn.close()

    for name in ("e.ndjson", "s.ndjson"):
        code, out, _ = run(capsys, "import-json", "--db", str(target), str(tmp_path / name))
        assert code == 0
    once = counts()
    assert once[:2] == (300, 7)
    # Again, and a compressed copy under another name: the same content adds nothing.
    copy = tmp_path / "renamed.ndjson.gz"
    copy.write_bytes(gzip.compress((tmp_path / "e.ndjson").read_bytes()))
    for path in (tmp_path / "e.ndjson", tmp_path / "s.ndjson", copy):
        code, out, _ = run(capsys, "import-json", "--db", str(target), str(path))
        assert code == 0 and "imported 0 events and 0 sessions" in out and "already imported" in out
    assert counts() == once
