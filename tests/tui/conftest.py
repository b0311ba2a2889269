"""TUI test fixtures: a fixed dataset at a frozen clock, apps built exactly as production builds them."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from textual.widgets import DataTable, Input
from textual.worker import WorkerCancelled, WorkerFailed

from collector.config import Config
from db.sqlite.connection import connect
from sitelens_tui.app import SiteLensApp, build_app
from tests.tui.dataset import FROZEN_NOW, Dataset, make_dataset


@pytest.fixture(autouse=True)
def no_cursor_blink(monkeypatch: pytest.MonkeyPatch) -> None:
    """A blinking cursor would make snapshots and timings flaky."""
    monkeypatch.setattr(Input, "cursor_blink", False)


@pytest.fixture
def dataset(tmp_path: Path) -> Dataset:
    return make_dataset(tmp_path / "sitelens.db")


@pytest.fixture
def attach_app(dataset: Dataset) -> Callable[..., SiteLensApp]:
    """Build the attach-mode app on the fixed dataset with the frozen clock."""

    def factory(**kwargs: object) -> SiteLensApp:
        cfg = Config.for_tests(dataset.path)
        return build_app(cfg, embedded=False, now=lambda: FROZEN_NOW, **kwargs)  # type: ignore[arg-type]

    return factory


@pytest.fixture
def empty_app(tmp_path: Path) -> Callable[..., SiteLensApp]:
    """Build the attach-mode app on a new database with no events (what a first start looks like)."""
    path = tmp_path / "empty" / "sitelens.db"
    path.parent.mkdir()
    connect(path).close()  # the schema, no rows

    def factory(**kwargs: object) -> SiteLensApp:
        return build_app(Config.for_tests(path), embedded=False, now=lambda: FROZEN_NOW, **kwargs)  # type: ignore[arg-type]

    return factory


def screen_lines(app: SiteLensApp) -> list[str]:
    """The text of the screen as the terminal shows it, one string per line (from the compositor's strips: Textual
    exports a screen only as SVG)."""
    return [strip.text for strip in app.screen._compositor.render_strips()]


async def settle(pilot: object, view: str | None = None) -> None:
    """Wait until queries finished and their results were rendered."""
    app = pilot.app  # type: ignore[attr-defined]
    for _ in range(200):
        pending = [w for w in app.workers if w.group != "demo"]  # the demo generator runs until quit
        try:
            if pending:  # an empty list would mean "every worker" to wait_for_complete
                await app.workers.wait_for_complete(pending)
        except (WorkerCancelled, WorkerFailed):
            pass  # a stale fetch dropped by a newer one, or a failure the view shows
        await pilot.pause()  # type: ignore[attr-defined]
        target = app.active_view if view is None else app.view(view)
        if target is not None and target.loads and app.status_updates and not any(
            w.is_running for w in app.workers if w.group in ("queries", "status", "session", "actions", "sites")
        ):
            await pilot.pause()  # type: ignore[attr-defined]  # let the last results render
            return
    target = app.active_view if view is None else app.view(view)
    errors = [str(w.content) for w in app.query(".view-error")]
    raise AssertionError(f"{target} never finished loading {errors}")


async def open_view(pilot: object, key: str) -> None:
    """Switch to a tab once the app has finished starting, and wait for its data."""
    app = pilot.app  # type: ignore[attr-defined]
    await settle(pilot)
    app.action_show_view(key)
    await pilot.pause()  # type: ignore[attr-defined]
    await settle(pilot, key)
    # A table's column widths follow its rows when the table is next idle; on a busy machine a fixed number of pauses
    # can miss that, so wait until no table has widths left to measure.
    for _ in range(100):
        await pilot.pause()  # type: ignore[attr-defined]
        if not any(t._require_update_dimensions or t._updated_cells for t in app.query(DataTable)):
            break
    await pilot.pause()  # type: ignore[attr-defined]  # let the last measured widths render
