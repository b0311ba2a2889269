"""What every tab has in common: fetch in a thread worker, render on the main thread, then schedule the next
fetch — never overlapping, skipped while paused, under a modal or hidden."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from rich.text import Text
from textual.containers import VerticalScroll
from textual.widgets import DataTable, Static
from textual.worker import Worker, WorkerState

from db.store import Store
from sitelens_tui.messages import FilterRequested, ViewLoaded
from sitelens_tui.sanitize import clean
from sitelens_tui.scope import Scope
from sitelens_tui.widgets.empty_hint import EmptyHint
from sitelens_tui.widgets.view_table import ViewTable

if TYPE_CHECKING:
    from sitelens_tui.app import SiteLensApp


@dataclass(slots=True, frozen=True)
class Selection:
    """What the highlighted row offers to the app's actions: a filter, a throttle target, a session."""

    filter: tuple[str, str] | None = None
    throttle: tuple[str, str] | None = None  # (kind, target)
    session_id: int | None = None


@dataclass(slots=True, frozen=True)
class TableData:
    """A view's data as columns and rows, for export."""

    columns: tuple[str, ...]
    rows: Sequence[Sequence[Any]]


class View(VerticalScroll):
    """A tab. Subclasses implement `fetch` (worker thread, SQL only) and `show` (main thread, widgets only)."""

    TITLE: ClassVar[str] = ""
    REFRESH_S: ClassVar[float] = 5.0

    def __init__(self) -> None:
        super().__init__(id=f"view-{self.key()}", classes="view")
        self.loaded_scope: Scope | None = None
        self.loads = 0
        self._fetch_started = 0.0
        self._timer: Any = None

    @classmethod
    def key(cls) -> str:
        return cls.__name__.removesuffix("View").lower()

    @property
    def sl_app(self) -> SiteLensApp:
        return self.app  # type: ignore[return-value]

    # -- to implement ----------------------------------------------------------------------------------

    def fetch(self, store: Store, scope: Scope) -> Any:
        """Query everything the view shows (runs in a worker thread)."""
        raise NotImplementedError

    def show(self, data: Any) -> None:
        """Put fetched data on screen (main thread)."""
        raise NotImplementedError

    def export(self, store: Store, scope: Scope) -> TableData:
        """The view's main data for export (runs in a worker thread)."""
        raise NotImplementedError

    def selection(self) -> Selection:
        """What the highlighted row offers to filter/throttle/open (default: the focused table's filter)."""
        focused = self.app.focused
        if isinstance(focused, ViewTable) and focused.dimension and focused.selected is not None:
            return Selection(filter=(focused.dimension, focused.selected.value))
        return Selection()

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        """Enter on a row of a filterable table filters every view by the row's value."""
        table = event.data_table
        if isinstance(table, ViewTable) and table.dimension and table.selected is not None:
            event.stop()
            self.post_message(FilterRequested(table.dimension, table.selected.value))

    def scope_changed(self) -> None:
        """Called before a fetch for a new scope (views with incremental state reset it here)."""

    def focus_content(self) -> None:
        """Focus the view's first table, so its keys (Enter, view bindings) work right after switching."""
        for widget in self.query("DataTable"):
            if widget.focusable:
                widget.focus(scroll_visible=False)  # the top of the view (KPIs) stays in sight
                return

    def on_mount(self) -> None:
        self.call_after_refresh(self.sl_app.view_mounted, self)

    # -- the refresh cycle -----------------------------------------------------------------------------

    @property
    def is_active(self) -> bool:
        return self.sl_app.active_view is self

    def due(self) -> bool:
        """A periodic refresh runs only when someone can see it and live updates are not paused."""
        app = self.sl_app
        if not app.screen_stack or len(app.screen_stack) > 1:  # shutting down, or a modal/screen on top
            return False
        return self.is_active and not app.paused and app.db_ready

    def reload(self) -> None:
        """Fetch now for the app's current scope, dropping any fetch still in flight."""
        if self._timer is not None:
            self._timer.stop()
            self._timer = None
        app = self.sl_app
        if not app.db_ready:
            return
        scope = app.current_scope()
        if scope.without_now() != (self.loaded_scope.without_now() if self.loaded_scope else None):
            self.scope_changed()
        self._fetch_started = time.perf_counter()

        def timed_fetch() -> tuple[Scope, Any, float, bool]:
            started = time.perf_counter()
            data = app.db.read(lambda store: self.fetch(store, scope))
            query_s = time.perf_counter() - started
            # Asked until the first event shows up: an empty store gets the "no data yet" hint in every view.
            empty = not app.store_has_data and app.db.read(lambda store: store.first_event_ts()) is None
            return scope, data, query_s, empty

        self.run_worker(
            timed_fetch,
            name=f"fetch-{self.key()}",
            group="queries",
            description=f"refresh {self.TITLE}",
            thread=True,
            exclusive=True,
            exit_on_error=False,
        )

    def _schedule(self) -> None:
        if self._timer is not None:
            self._timer.stop()
        self._timer = self.set_timer(self.REFRESH_S, self._tick, name=f"refresh-{self.key()}")

    def _tick(self) -> None:
        self._timer = None
        if self.due():
            self.reload()
        else:
            self._schedule()

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        """The one place a fetch ends: show data, or the error, then schedule the next fetch."""
        if event.worker.group != "queries":
            return
        event.stop()
        if event.state == WorkerState.SUCCESS:
            scope, data, query_s, empty = event.worker.result  # type: ignore[misc]
            self.loaded_scope = scope
            self.show(data)
            self.set_error(None)
            self.sl_app.store_has_data = self.sl_app.store_has_data or not empty
            self.set_empty_hint(empty)
            self.loads += 1
            self.post_message(ViewLoaded(self.key(), time.perf_counter() - self._fetch_started, query_s))
            self._schedule()
        elif event.state == WorkerState.ERROR:
            self.set_error(f"query failed: {event.worker.error}")
            self._schedule()

    def set_empty_hint(self, shown: bool) -> None:
        """Show the "no data yet" hint at the top of the view while the store is empty, remove it after."""
        hints = self.query(EmptyHint)
        if shown and not hints:
            site = self.sl_app.cfg.sites[0].name if self.sl_app.cfg.sites else None
            self.mount(EmptyHint(site), before=0)
        elif not shown:
            hints.remove()

    def set_error(self, message: str | None) -> None:
        """Show or hide the view's error line."""
        for widget in self.query(".view-error"):
            widget.remove()
        if message:
            self.mount(Static(Text(clean(message, 300), style="bold red"), classes="view-error"), before=0)
