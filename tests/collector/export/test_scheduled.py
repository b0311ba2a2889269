"""Scheduled export to local directories: one file per site and hour, exactly once."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

import orjson
import pytest

from collector.config import Config, ConfigError, ExportConfig
from collector.export.destinations import LocalDestination, build_destinations
from collector.export.scheduled import LEASE_S, export_tick
from collector.export.status import ExportState, status_line
from db.sqlite.connection import connect
from tests.collector.export.readback import ids_in
from tests.collector.export.seed import T0, Seeded, add_events, seed_db

KEY = re.compile(
    r"^site=[ab]\.example/date=\d{4}-\d\d-\d\d/hour=\d\d/events-\d{8}T\d{6}Z-\d+\.(ndjson\.gz|csv\.gz|parquet)$"
)
NOW = T0 + 86400


def exported(directory: Path) -> tuple[list[int], list[dict]]:
    """(every event id found in the data files, the manifests) of a destination directory."""
    ids: list[int] = []
    for f in sorted(directory.rglob("*")):
        rel = f.relative_to(directory).as_posix()
        if f.is_file() and not rel.startswith("manifests/"):
            assert KEY.match(rel), rel
            ids += ids_in(rel, f.read_bytes())
    manifests = [orjson.loads(m.read_bytes()) for m in sorted((directory / "manifests").glob("*.json"))]
    return ids, manifests


def config(cfg: Config, fmt: str = "ndjson", **export: object) -> Config:
    cfg.export = ExportConfig(schedule_hours=1, format=fmt, **export)  # type: ignore[arg-type]
    return cfg


@pytest.mark.parametrize("fmt", ["ndjson", "csv", "parquet"])
def test_periods_survive_a_restart_without_duplicates_or_gaps(tmp_path: Path, seeded: Seeded, fmt: str) -> None:
    cfg = config(seeded.cfg, fmt, directory=str(tmp_path / "out"))
    first = export_tick(cfg, now=NOW)
    assert len(first.planned) == 1 and first.completed == first.planned
    seeded.add(300, 100, start=T0 + 20_000)
    assert export_tick(cfg, now=NOW + 1800).planned == []  # not an hour yet
    # "restart": fresh destinations and state, only the database remembers
    second = export_tick(cfg, now=NOW + 3600, state=ExportState())
    assert len(second.planned) == 1 and second.completed == second.planned
    assert export_tick(cfg, now=NOW + 7200).planned == []  # nothing new, no empty run
    ids, manifests = exported(tmp_path / "out")
    assert sorted(ids) == seeded.ids() and len(ids) == 400
    assert [m["rows"] for m in manifests] == [300, 100]
    covers = "event_ids" if seeded.conn is not None else "inserted"  # ids on SQLite, insert times on ClickHouse
    assert manifests[1][covers]["after"] == manifests[0][covers]["upto"] != manifests[0][covers]["after"]
    first_time = datetime.fromtimestamp(T0, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert manifests[0]["first_event_time"] == first_time
    for m in manifests:
        assert sum(o["rows"] for o in m["objects"]) == m["rows"]
        assert sum(o["bytes"] for o in m["objects"]) == m["bytes"]
    assert len(manifests[0]["objects"]) == 8  # 2 sites x 4 hours (300 events 37 s apart)


def test_a_failing_destination_recovers_and_the_other_is_not_duplicated(tmp_path: Path, seeded: Seeded) -> None:
    blocker = tmp_path / "blocked"
    blocker.write_text("a file where a directory should be")
    good, bad = LocalDestination(tmp_path / "good", "good"), LocalDestination(blocker / "sub", "bad")
    cfg = config(seeded.cfg)
    state = ExportState()
    report = export_tick(cfg, now=NOW, destinations=[good, bad], state=state)
    assert report.delivered == [(report.planned[0], "good")] and report.failed[0][1] == "bad"
    assert report.completed == []  # not done until every destination confirmed
    assert state.health is not None and state.health.pending_runs == 1
    assert "export to bad failing" in status_line(state.health, now=NOW)
    assert state.summary()["failing"][0]["destination"] == "bad"  # the /healthz field
    # still failing before the backoff ends: not even tried
    assert export_tick(cfg, now=NOW + 5, destinations=[good, bad]).failed == []
    blocker.unlink()
    later = export_tick(cfg, now=NOW + 31, destinations=[good, bad], state=state)
    assert later.delivered == [(report.planned[0], "bad")] and later.completed == report.planned
    good_ids, _ = exported(tmp_path / "good")
    bad_ids, _ = exported(blocker / "sub")
    assert sorted(good_ids) == sorted(bad_ids) == seeded.ids()
    assert state.health is not None and state.health.ok and state.health.pending_runs == 0


def test_a_crash_mid_delivery_is_taken_over_after_the_lease(tmp_path: Path, seeded: Seeded) -> None:
    dest = LocalDestination(tmp_path / "out", "out")
    cfg = config(seeded.cfg)
    with seeded.store.export_ledger() as ledger:
        run = ledger.plan_run(NOW, "ndjson", ["out"], 1_000_000)
        assert run is not None
        assert ledger.claim_delivery(run.id, "out", NOW, LEASE_S)  # a process that then died
        assert not ledger.claim_delivery(run.id, "out", NOW + 1, LEASE_S)  # nobody else takes it meanwhile
    assert export_tick(cfg, now=NOW + 60, destinations=[dest], plan=False).delivered == []
    report = export_tick(cfg, now=NOW + LEASE_S + 1, destinations=[dest], plan=False)
    assert report.completed == [run.id]
    assert sorted(exported(tmp_path / "out")[0]) == seeded.ids()


def test_delivering_a_run_again_overwrites_never_adds(tmp_path: Path) -> None:
    db = tmp_path / "s.db"
    seed_db(db)
    dest = LocalDestination(tmp_path / "out", "out")
    cfg = config(Config.for_tests(db))
    export_tick(cfg, now=NOW, destinations=[dest])
    # a crash after the upload, before the delivery was marked: the run is delivered again
    files = sorted(p for p in (tmp_path / "out").rglob("*") if p.is_file())
    conn = connect(db)
    conn.execute("UPDATE export_runs SET state = 'pending'")
    conn.execute("UPDATE export_deliveries SET state = 'pending'")
    export_tick(cfg, now=NOW + 2, destinations=[dest], plan=False)
    assert sorted(p for p in (tmp_path / "out").rglob("*") if p.is_file()) == files
    assert sorted(exported(tmp_path / "out")[0]) == all_ids(db)


def test_large_backlog_is_cut_into_runs(tmp_path: Path, seeded: Seeded) -> None:
    report = export_tick(config(seeded.cfg, directory=str(tmp_path / "o")), now=NOW, max_run_rows=120)
    assert len(report.planned) == 3
    ids, manifests = exported(tmp_path / "o")
    assert sorted(ids) == seeded.ids() and [m["rows"] for m in manifests] == [120, 120, 60]


def all_ids(db: Path) -> list[int]:
    return sorted(r[0] for r in connect(db).execute("SELECT id FROM events"))


def test_erasing_the_newest_events_keeps_new_ones_exportable(tmp_path: Path) -> None:
    from db.sqlite.queries.erase import erase_visitors

    db = tmp_path / "s.db"
    conn = seed_db(db, n=10)
    cfg = config(Config.for_tests(db), directory=str(tmp_path / "o"))
    export_tick(cfg, now=NOW)
    newest = conn.execute("SELECT visitor_id FROM events ORDER BY id DESC LIMIT 1").fetchone()[0]
    erase_visitors(conn, [newest])
    add_events(conn, 10, 5)  # SQLite reuses the erased ids
    export_tick(cfg, now=NOW + 3600)
    ids, _ = exported(tmp_path / "o")
    assert set(all_ids(db)) <= set(ids)


@pytest.mark.parametrize(
    ("export", "message"),
    [
        ({"schedule_hours": 1}, "no export.directory"),
        ({"format": "xml"}, "export.format: unknown format 'xml'"),
        ({"destinations": [{"type": "ftp"}]}, "type must be"),
        ({"destinations": [{"type": "s3"}]}, "needs bucket"),
        ({"destinations": [{"type": "s3", "bucket": "b", "endpoint": "x"}]}, "unknown setting 'endpoint'"),
        ({"destinations": [{"type": "s3", "bucket": "b", "access_key_id": "k"}]}, "set both"),
        ({"destinations": [{"type": "s3", "bucket": "b", "endpoint_url": "localhost:9000"}]}, "endpoint_url"),
        (
            {"destinations": [{"type": "local", "directory": "/a"}, {"type": "local", "directory": "/a"}]},
            "named",
        ),
    ],
)
def test_bad_export_config_is_a_clear_error(tmp_path: Path, export: dict, message: str) -> None:
    cfg = Config.for_tests(tmp_path / "s.db")
    cfg.export = ExportConfig(**export)
    with pytest.raises(ConfigError, match=re.escape(message)):
        build_destinations(cfg)
