"""A full disk under a real `sitelens collect`: acknowledged events stay queued (bounded, then 503), /healthz says
"disk full", and once space is back every acknowledged event is stored exactly once."""

from __future__ import annotations

import pytest

from bench.durability import disk_full_run, small_fs_available

pytestmark = pytest.mark.skipif(
    not small_fs_available(), reason="needs `unshare -Urm` to mount a small tmpfs for the database"
)


async def test_disk_full_loses_nothing_acknowledged(tmp_path):
    r = await disk_full_run(queue_max=300, before=100, during=500, after=50, workdir=tmp_path)
    assert r.acked_before == 100 and r.acked_after == 50
    assert r.acked_during == 300, "the queue's bound is what was acknowledged while the disk was full"
    assert r.refused_during == 200  # then 503, never a 500 nor a silent drop
    assert r.health_during == "503 disk full"
    assert (r.lost, r.duplicated, r.stored) == (0, 0, 450)
    assert r.exit_code == 0
    log = (tmp_path / "collector.log").read_text()
    assert "cannot rollback" not in log
    assert log.count("flush failed (disk full)") == 1, log  # said once, not once per retry
    assert "writes resumed" in log
