"""The terminal UI attached to a ClickHouse store shows what it shows on SQLite: the same dataset copied over
(`sitelens migrate`'s code), every view's tables compared cell by cell."""

from __future__ import annotations

import pytest

from collector.config import Config
from db.copy import copy_store
from db.store import open_store
from sitelens_tui.app import build_app
from sitelens_tui.views import ALL_VIEWS
from sitelens_tui.widgets.view_table import ViewTable
from tests.engines import chdb_url
from tests.tui.conftest import open_view
from tests.tui.dataset import FROZEN_NOW, Dataset, make_dataset

pytest.importorskip("chdb")


def tables(app) -> dict[str, list[list[str]]]:  # type: ignore[no-untyped-def]
    """Every table of the active view, as the cells' text."""
    return {
        str(t.id): [[c.plain for c in row.cells] for row in t.rows_shown]
        for t in app.active_view.query(ViewTable)
    }


@pytest.fixture(scope="module")
def copied(tmp_path_factory: pytest.TempPathFactory) -> tuple[Dataset, str]:
    """The fixed dataset on SQLite and its copy on ClickHouse, made once: every view only reads them."""
    dataset = make_dataset(tmp_path_factory.mktemp("tui-ch") / "sitelens.db")
    url = chdb_url(tmp_path_factory)
    target = open_store(url)
    copy_store(open_store(f"sqlite:///{dataset.path}", readonly=True), target)
    target.close()
    return dataset, url


@pytest.mark.parametrize("view", [v.key() for v in ALL_VIEWS])
async def test_every_view_shows_the_same_rows_on_clickhouse(copied: tuple[Dataset, str], view: str) -> None:
    dataset, url = copied
    on_ch = Config.for_tests(dataset.path)
    on_ch.db.path, on_ch.db.url = "", url
    seen = []
    for cfg in (Config.for_tests(dataset.path), on_ch):
        # The Server view's percentiles: exact on both engines up to two days (SQLite's longer spans read latency
        # histograms, within 2.2 %), so it is compared at 24h.
        app = build_app(cfg, embedded=False, now=lambda: FROZEN_NOW, initial_range="24h" if view == "server" else "7d")
        async with app.run_test(size=(160, 45)) as pilot:
            await open_view(pilot, view)
            seen.append(tables(app))
    assert seen[0] == seen[1]
    assert any(rows for rows in seen[1].values()) or view in ("engagement", "requests")
