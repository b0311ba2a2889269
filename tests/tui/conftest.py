"""TUI test fixtures: a fixed dataset at a frozen clock, apps built exactly as production builds them."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from textual.widgets import Input
from textual.worker import WorkerCancelled, WorkerFailed

from collector.config import Config
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
    # A table's header widths follow its rows one refresh later; on a busy machine that can miss the snapshot.
    for _ in range(2):
        await pilot.pause()  # type: ignore[attr-defined]
