"""Snapshots of every view at 80×24 (over SSH) and 160×45, on the fixed dataset and on an empty store, at the
frozen clock."""

from __future__ import annotations

import pytest

from sitelens_tui.database import Database
from sitelens_tui.views import ALL_VIEWS
from tests.tui.conftest import open_view

SIZES = [(80, 24), (160, 45)]


@pytest.fixture(autouse=True)
def fixed_database_size(monkeypatch: pytest.MonkeyPatch) -> None:
    """The file size moves with every schema migration; the snapshots are about the views."""
    monkeypatch.setattr(Database, "size_bytes", lambda self: 1_234_567)


@pytest.mark.parametrize("store", ["data", "empty"])
@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
@pytest.mark.parametrize("view", [v.key() for v in ALL_VIEWS])
def test_view_snapshot(snap_compare, request, view: str, size: tuple[int, int], store: str) -> None:
    factory = request.getfixturevalue("attach_app" if store == "data" else "empty_app")
    app = factory(initial_range="7d" if view in ("events", "anomalies", "funnels") else "24h")

    async def run_before(pilot) -> None:
        await open_view(pilot, view)

    assert snap_compare(app, terminal_size=size, run_before=run_before)


def test_session_screen_snapshot(snap_compare, attach_app) -> None:
    app = attach_app()

    async def run_before(pilot) -> None:
        await open_view(pilot, "live")
        await pilot.press("enter")
        for _ in range(50):
            await pilot.pause()
            if getattr(app.screen, "data", None) is not None:
                break

    assert snap_compare(app, terminal_size=(120, 40), run_before=run_before)
