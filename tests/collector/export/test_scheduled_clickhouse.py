"""Scheduled export on ClickHouse: runs cut by insert time, so late events are never skipped; the schema upgrade."""

from __future__ import annotations

from pathlib import Path

import pytest

from collector.config import ExportConfig
from collector.export.destinations import build_destinations
from collector.export.scheduled import export_tick
from db.clickhouse import migrate
from db.store import open_store
from tests.collector.export.seed import T0, Seeded, event
from tests.collector.export.test_scheduled import NOW, exported
from tests.engines import ch_write, chdb_config

pytest.importorskip("chdb")




@pytest.mark.parametrize("seeded", ["chdb"], indirect=True)
def test_events_stored_late_with_old_times_go_in_the_next_run(tmp_path: Path, seeded: Seeded) -> None:
    """A batch drained from a spool, or flushed late by another collector, has ids and times below what the
    last run covered: it is exported by the next run all the same, and nothing twice."""
    cfg = seeded.cfg
    cfg.export = ExportConfig(schedule_hours=1, directory=str(tmp_path / "out"))
    first = export_tick(cfg, now=NOW)
    assert len(first.completed) == 1
    newest_exported = max(exported(tmp_path / "out")[0])
    seeded.add(1000, 40, start=T0 - 7200)  # two hours before the first run's first event
    assert max(seeded.ids()[:40]) < newest_exported
    second = export_tick(cfg, now=NOW + 3600)
    assert len(second.completed) == 1
    ids, manifests = exported(tmp_path / "out")
    assert sorted(ids) == seeded.ids() and len(ids) == 340
    assert [m["rows"] for m in manifests] == [300, 40]


@pytest.mark.parametrize("seeded", ["chdb"], indirect=True)
def test_a_run_waits_for_inserts_to_settle(seeded: Seeded, monkeypatch: pytest.MonkeyPatch) -> None:
    """Events the server took less than SETTLE_S ago wait for a later run (an insert may still be landing)."""
    monkeypatch.setattr("db.clickhouse.export_runs.SETTLE_S", 60.0)
    with seeded.store.export_ledger() as ledger:
        assert ledger.plan_run(NOW, "ndjson", ["out"], 1_000_000) is None
    monkeypatch.setattr("db.clickhouse.export_runs.SETTLE_S", 0.0)
    with seeded.store.export_ledger() as ledger:
        run = ledger.plan_run(NOW, "ndjson", ["out"], 1_000_000)
        assert run is not None and run.rows == 300
        assert ledger.plan_run(NOW, "ndjson", ["out"], 1_000_000) is None  # nothing after it


def test_events_stored_before_the_upgrade_are_exported(
    tmp_path: Path, tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A store from before the export ledger (migration 10) with events gets the ledger by migration; the first
    run takes those events."""
    monkeypatch.setattr("db.clickhouse.export_runs.SETTLE_S", 0.0)
    cfg = chdb_config(tmp_path, tmp_path_factory)
    everything = migrate.migrations()
    before = [m for m in everything if m[0] < 10]
    monkeypatch.setattr(migrate, "migrations", lambda: before)
    old = open_store(cfg.store_url, create=True)
    assert old.schema_version() == before[-1][0]
    ch_write(old.ch, [event(i, T0 + i) for i in range(25)])  # type: ignore[attr-defined]
    old.close()
    monkeypatch.setattr(migrate, "migrations", lambda: everything)
    store = open_store(cfg.store_url)
    try:
        assert store.schema_version() == migrate.latest_version()
        cfg.export = ExportConfig(schedule_hours=1, directory=str(tmp_path / "out"))
        report = export_tick(cfg, store=store, now=NOW)
        assert len(report.completed) == 1
        assert len(exported(tmp_path / "out")[0]) == 25
    finally:
        store.close()


def test_a_migration_numbered_below_the_newest_applied_is_still_applied(
    tmp_path: Path, tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Migrations numbered apart (one in a gap below 0010 landing after 0010 was applied) are each applied once."""
    cfg = chdb_config(tmp_path, tmp_path_factory)
    store = open_store(cfg.store_url, create=True)
    gap = min(set(range(1, 10)) - {v for v, _sql in migrate.migrations()})
    try:
        assert 10 in migrate.applied_versions(store.ch)  # type: ignore[attr-defined]
        later = [*migrate.migrations(), (gap, "CREATE TABLE IF NOT EXISTS late_one (x UInt8) ENGINE = Memory;")]
        monkeypatch.setattr(migrate, "migrations", lambda: sorted(later))
        assert migrate.migrate(store.ch) == 10  # type: ignore[attr-defined]
        tables = "SELECT count() FROM system.tables WHERE database = currentDatabase() AND name = 'late_one'"
        assert store.ch.value(tables) == 1  # type: ignore[attr-defined]
        assert gap in migrate.applied_versions(store.ch)  # type: ignore[attr-defined]
    finally:
        store.close()


@pytest.mark.parametrize("seeded", ["chdb"], indirect=True)
def test_two_collectors_planning_at_once_hand_each_event_to_one_run(tmp_path: Path, seeded: Seeded) -> None:
    """Both read the cursor before either stored its run: the first run stored wins, the other stands back, and
    the events the loser saw beyond the winner's go to the next run."""
    from db.clickhouse.export_runs import ClickHouseExportLedger

    cfg = seeded.cfg
    cfg.export = ExportConfig(schedule_hours=1, directory=str(tmp_path / "out"))
    names = [d.name for d in build_destinations(cfg)]
    ch = seeded.store.ch  # type: ignore[attr-defined]
    one, two = ClickHouseExportLedger(ch, settle_s=0), ClickHouseExportLedger(ch, settle_s=0)
    early = one.candidate_run(NOW, "ndjson", names, 1_000_000)
    seeded.add(300, 20, start=T0 + 20_000)
    late = two.candidate_run(NOW + 5, "ndjson", names, 1_000_000)  # saw 20 more events, from the same cursor
    assert early is not None and late is not None and early[2] == late[2] and early[0] != late[0]
    won = one.claim_run(early)
    assert won is not None and won.rows == 300
    assert two.claim_run(late) is None
    assert [r.id for r in two.pending_runs()] == [won.id] and two.get_run(str(late[0])) is None
    rest = two.plan_run(NOW + 6, "ndjson", names, 1_000_000)
    assert rest is not None and rest.after_id == won.upto_id and rest.rows == 20
    assert len(export_tick(cfg, now=NOW + 7, plan=False).completed) == 2
    ids, _ = exported(tmp_path / "out")
    assert sorted(ids) == seeded.ids() and len(ids) == 320
