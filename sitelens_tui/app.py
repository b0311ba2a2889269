"""The SiteLens terminal UI: tabs of views over one database, optionally with the collector in the same loop."""

from __future__ import annotations

import logging
import tempfile
import time
from collections.abc import Callable, Iterable
from dataclasses import replace
from functools import partial
from pathlib import Path
from typing import Any

from rich.text import Text
from textual import work
from textual.app import App, ComposeResult, SystemCommand
from textual.binding import Binding
from textual.reactive import reactive
from textual.screen import Screen
from textual.widgets import Footer, TabbedContent, TabPane
from textual.worker import Worker, WorkerState

from collector.config import Config
from db.url import StoreUrl
from sitelens_tui.database import Database
from sitelens_tui.dialogs.export_dialog import ExportDialog, ExportRequest
from sitelens_tui.dialogs.filter_dialog import FilterDialog
from sitelens_tui.dialogs.help_screen import HelpScreen
from sitelens_tui.dialogs.picker import Picker
from sitelens_tui.dialogs.session_screen import SessionScreen
from sitelens_tui.dialogs.throttle_dialog import ThrottleDialog, ThrottleRequest
from sitelens_tui.embedded import EmbeddedCollector
from sitelens_tui.messages import FilterRemoved, FilterRequested, SessionRequested
from sitelens_tui.roles import ADMIN, allowed, refusal
from sitelens_tui.sanitize import clean
from sitelens_tui.scope import RANGE_NAMES, Scope, label_for_range
from sitelens_tui.views import ALL_VIEWS
from sitelens_tui.views.base import View
from sitelens_tui.widgets.filter_bar import FilterBar
from sitelens_tui.widgets.status_bar import Status, StatusBar

log = logging.getLogger("sitelens.tui")

STATUS_REFRESH_S = 2.0
RATE_WINDOW_S = 60.0


def store_label(url: StoreUrl) -> str:
    """How the status bar names an attached store: a SQLite file by name, a ClickHouse store by its URL."""
    return Path(url.path).name if url.engine == "sqlite" else url.display()


class SiteLensApp(App[None]):
    """Views of one database; in embedded mode it also owns the collector (started on mount, flushed on quit)."""

    CSS_PATH = "app.tcss"
    TITLE = "SiteLens"
    ENABLE_COMMAND_PALETTE = True
    # Classes on the screen for app.tcss: at 80×24 (-short, -narrow) data rows come first and charts shrink; below
    # 22 lines (-tiny) charts fold away.
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (100, "-wide")]
    VERTICAL_BREAKPOINTS = [(0, "-tiny"), (22, "-short"), (32, "-tall")]
    BINDINGS = [
        Binding("q", "quit", "Quit", id="quit"),
        Binding("question_mark", "help", "Help", id="help"),
        Binding("e", "export", "Export", id="export"),
        Binding("t", "throttle", "Throttle", id="throttle"),
        Binding("f", "filter_selected", "Filter", id="filter"),
        Binding("slash", "filter_dialog", "Filter by…", id="filter-dialog", show=False),
        Binding("backspace", "remove_filter", "Remove filter", id="remove-filter", show=False),
        Binding("r", "pick_range", "Range", id="range"),
        Binding("s", "pick_site", "Site", id="site"),
        Binding("p", "toggle_pause", "Pause", id="pause"),
        *(
            Binding(str(i + 1), f"show_view('{view.key()}')", f"{view.TITLE} view", show=False, id=f"view-{i + 1}")
            for i, view in enumerate(ALL_VIEWS)
        ),
    ]

    range_name: reactive[str] = reactive("24h")
    site: reactive[str | None] = reactive(None)
    dims: reactive[tuple[tuple[str, str], ...]] = reactive(())
    paused: reactive[bool] = reactive(False)

    def __init__(
        self,
        cfg: Config,
        *,
        embedded: bool,
        demo: bool = False,
        demo_rate: float = 5.0,
        now: Callable[[], float] | None = None,
        initial_range: str = "24h",
        role: str = ADMIN,
    ) -> None:
        super().__init__()
        self.role = role
        """viewer or admin: a viewer (a read-only dashboard login) cannot change throttling, funnels or data."""
        self.cfg = cfg
        self.embedded = embedded
        self.demo = demo
        self.demo_rate = demo_rate
        self.now = now or time.time
        self.db = Database(cfg.store_url)
        self.db_ready = False
        self.collector: EmbeddedCollector | None = EmbeddedCollector(cfg) if embedded else None
        self.source = "" if embedded else f"attached to {store_label(cfg.store_url)}"
        self.set_reactive(SiteLensApp.range_name, initial_range)
        self.last_export: Path | None = None
        self.last_override_id: int | None = None
        self._demo_stop: Any = None
        self._web_exports: tempfile.TemporaryDirectory[str] | None = None
        self._status_timer: Any = None
        self.status_updates = 0
        """How many times the status bar was refreshed (tests wait for the first)."""
        self.store_has_data = False
        """Whether a view saw any stored event yet (until then views show the "no data yet" hint)."""

    # -- layout and lifetime ---------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        yield FilterBar(id="filter-bar")
        # Only the first view is built now; the others on first visit (a smaller DOM paints and lays out faster).
        with TabbedContent(id="tabs"):
            for i, view_cls in enumerate(ALL_VIEWS):
                with TabPane(view_cls.TITLE, id=f"tab-{view_cls.key()}"):
                    if i == 0:
                        yield view_cls()
        yield StatusBar(id="status-bar")
        yield Footer()

    async def on_mount(self) -> None:
        self.query_one(FilterBar).show(self.current_scope())
        if self.collector is not None:
            try:
                url = await self.collector.start()
            except OSError as exc:
                # Text: the message is printed after exit and a str would be read as markup.
                self.exit(message=Text(f"cannot listen on {self.cfg.server.host}:{self.cfg.server.port}: "
                                       f"{exc.strerror or exc}"), return_code=2)
                return
            self.source = f"listening on {url}"
            if self.demo:
                self.start_demo(url)
        self.db_ready = True
        self.update_status()
        active = self.active_view
        if active is not None:
            active.focus_content()
            active.reload()

    async def on_unmount(self) -> None:
        await self.stop_collector()
        if self._web_exports is not None:
            self._web_exports.cleanup()

    async def stop_collector(self) -> None:
        """Stop the demo, then flush and close the collector (idempotent)."""
        if self._demo_stop is not None:
            self._demo_stop.set()
        if self.collector is not None:
            await self.collector.stop()
        self.db.close()

    async def action_quit(self) -> None:
        """Quit after the collector has flushed everything it accepted."""
        await self.stop_collector()
        self.exit()

    def start_demo(self, url: str) -> None:
        """Run the demo traffic generator against the embedded collector, as a worker of this loop."""
        import asyncio

        from collector.demo import run_demo
        from sitelens_tui.commands.demo import default_ingest_token

        self._demo_stop = asyncio.Event()
        self.run_worker(
            run_demo(url, self.demo_rate, None, stop=self._demo_stop, ingest_token=default_ingest_token(self.cfg)),
            name="demo", group="demo", description="demo traffic", exit_on_error=False,
        )

    # -- scope -----------------------------------------------------------------------------------------

    def current_scope(self) -> Scope:
        return Scope(self.range_name, self.now(), self.site, self.dims)

    def _scope_changed(self) -> None:
        bars = list(self.query(FilterBar).results(FilterBar)) if self.is_running else []
        if not bars:  # not composed yet: on_mount shows the first scope
            return
        bars[0].show(self.current_scope())
        active = self.active_view
        if active is not None and self.db_ready:
            active.reload()

    def watch_range_name(self) -> None:
        self._scope_changed()

    def watch_site(self) -> None:
        self._scope_changed()

    def watch_dims(self) -> None:
        self._scope_changed()

    def watch_paused(self) -> None:
        self.update_status()

    def add_filter(self, dimension: str, value: str) -> None:
        """Filter every view by one value (a filter on the same dimension is replaced)."""
        self.dims = Scope(dims=self.dims).with_dim(dimension, value).dims

    def remove_filter(self, dimension: str, value: str | None = None) -> None:
        """Drop the filters on a dimension (only the one with `value` when given)."""
        self.dims = Scope(dims=self.dims).without_dim(dimension, value).dims

    def on_filter_requested(self, message: FilterRequested) -> None:
        self.add_filter(message.dimension, message.value)

    def on_filter_removed(self, message: FilterRemoved) -> None:
        self.remove_filter(message.dimension, message.value)

    def on_session_requested(self, message: SessionRequested) -> None:
        self.push_screen(SessionScreen(message.session_id))

    # -- views -----------------------------------------------------------------------------------------

    @property
    def active_view(self) -> View | None:
        try:
            tabs = self.query_one("#tabs", TabbedContent)
        except Exception:
            return None
        pane = tabs.active
        if not pane:
            return None
        found = self.query(f"#view-{pane.removeprefix('tab-')}").results(View)
        return next(iter(found), None)

    def view(self, key: str) -> View:
        return self.query_one(f"#view-{key}", View)

    def on_tabbed_content_tab_activated(self, event: TabbedContent.TabActivated) -> None:
        """Refresh the view (hidden views do not refresh on their own); build it on its first visit."""
        pane = event.pane
        if pane is not None and not pane.query(View):
            key = str(pane.id).removeprefix("tab-")
            # Drop focus first: focus coming back to the hidden view's table would switch the tab back to it.
            self.set_focus(None)
            pane.mount(next(v for v in ALL_VIEWS if v.key() == key)())  # it calls view_mounted when ready
            return
        active = self.active_view
        if active is not None:
            self.view_mounted(active)

    def view_mounted(self, view: View) -> None:
        """Focus and load a view that became visible."""
        if view is self.active_view:
            view.focus_content()
            if self.db_ready:
                view.reload()

    def action_show_view(self, key: str) -> None:
        self.query_one("#tabs", TabbedContent).active = f"tab-{key}"

    # -- status bar ------------------------------------------------------------------------------------

    def update_status(self) -> None:
        """Fetch the status numbers in a worker; the next update is scheduled when it ends."""
        if self._status_timer is not None:
            self._status_timer.stop()
            self._status_timer = None
        if not self.db_ready:
            return
        since = self.now() - RATE_WINDOW_S
        self.run_worker(
            lambda: self.db.read(lambda store: (store.events_since(since), store.size_bytes())),
            name="status", group="status", description="status bar numbers", thread=True, exclusive=True,
            exit_on_error=False,
        )

    def _status_done(self, worker: Worker[Any]) -> None:
        if worker.state == WorkerState.SUCCESS:
            count, size = worker.result  # type: ignore[misc]
            queue = self.collector.queue_depth if self.collector is not None else None
            problem = self.collector.problem if self.collector is not None else ""
            self.query_one(StatusBar).show(
                Status(self.source, count / RATE_WINDOW_S, queue, size, self.paused, problem)
            )
            self.status_updates += 1
        self._status_timer = self.set_timer(STATUS_REFRESH_S, self._status_tick, name="status")

    def _status_tick(self) -> None:
        self._status_timer = None
        if not self.screen_stack:  # shutting down
            return
        if self.paused or len(self.screen_stack) > 1:
            self._status_timer = self.set_timer(STATUS_REFRESH_S, self._status_tick, name="status")
            return
        self.update_status()

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        worker = event.worker
        if worker.group == "status" and event.state in (WorkerState.SUCCESS, WorkerState.ERROR):
            self._status_done(worker)
        elif event.state == WorkerState.ERROR and worker.group in ("demo", "actions"):
            log.error("%s failed: %s", worker.description, worker.error)
            self.notify(f"{worker.description} failed: {clean(str(worker.error), 300)}", severity="error", markup=False)

    # -- actions ---------------------------------------------------------------------------------------

    def may(self, action: str) -> bool:
        """Whether this user's role allows `action`; if not, say so in a notification."""
        if allowed(self.role, action):
            return True
        self.notify(refusal(self.role, action), title="Not allowed", severity="warning", markup=False)
        return False

    def action_toggle_pause(self) -> None:
        """Pause or resume periodic refreshes (explicit changes still requery)."""
        self.paused = not self.paused
        self.notify("live updates paused" if self.paused else "live updates resumed", timeout=2)

    def action_pick_range(self) -> None:
        options = [(label_for_range(name), name) for name in RANGE_NAMES]
        self.push_screen(Picker("Range", options, self.range_name), self._set_range)

    def _set_range(self, name: str | None) -> None:
        if name in RANGE_NAMES:
            self.range_name = name

    def action_pick_site(self) -> None:
        self._load_sites()

    @work(thread=True, exclusive=True, group="sites", exit_on_error=False, description="list sites")
    def _load_sites(self) -> None:
        names = self.db.read(lambda store: store.sites())
        self.call_from_thread(self._show_site_picker, [str(n) for n in names])

    def _show_site_picker(self, names: list[str]) -> None:
        options: list[tuple[str, str | None]] = [("all sites", None), *((n, n) for n in names)]
        self.push_screen(Picker("Site", options, self.site), self._set_site)

    def _set_site(self, name: str | None) -> None:
        self.site = name

    def action_filter_selected(self) -> None:
        """Filter every view by the highlighted row's value, or ask for one when the row has none."""
        view = self.active_view
        selection = view.selection() if view is not None else None
        if selection is not None and selection.filter is not None:
            self.add_filter(*selection.filter)
        else:
            self.action_filter_dialog()

    def action_filter_dialog(self) -> None:
        from db.queries.common import DIMENSIONS

        self.push_screen(FilterDialog(list(DIMENSIONS)), self._filter_chosen)

    def _filter_chosen(self, result: tuple[str, str] | None) -> None:
        if result is not None:
            self.add_filter(*result)

    def action_remove_filter(self) -> None:
        if self.dims:
            self.dims = self.dims[:-1]

    def action_help(self) -> None:
        view = self.active_view
        bindings = [*self.BINDINGS, *(view.BINDINGS if view is not None else [])]
        self.push_screen(HelpScreen([b for b in bindings if isinstance(b, Binding)]))

    def get_system_commands(self, screen: Screen[Any]) -> Iterable[SystemCommand]:
        """Every key binding is also a command in the palette."""
        yield from super().get_system_commands(screen)
        for binding in self.BINDINGS:
            if isinstance(binding, Binding) and binding.action != "quit":
                yield SystemCommand(binding.description, f"key: {binding.key}",
                                    partial(self.run_action, binding.action))

    # export

    def export_dir(self) -> Path:
        """Where exports go: the working directory in a terminal; in a browser a private folder of this process
        (the file is then downloaded; a browser user names the file, never a place on the server)."""
        if not self.is_web:
            return Path.cwd()
        if self._web_exports is None:
            self._web_exports = tempfile.TemporaryDirectory(prefix="sitelens-web-export-")
        return Path(self._web_exports.name)

    def action_export(self) -> None:
        view = self.active_view
        if view is None:
            return
        default = self.export_dir() / f"sitelens-{view.key()}-{time.strftime('%Y%m%d-%H%M%S')}.csv"
        self.push_screen(ExportDialog(view.TITLE, self.range_name, str(default), partial(self.run_export, view)))

    @work(thread=True, group="actions", exit_on_error=False, description="export")
    def run_export(self, view: View, request: ExportRequest) -> None:
        """Query the view's data for the chosen range and stream it to the chosen file, reporting progress."""
        from collector.export import export_rows
        from collector.export.files import check_target

        if self.is_web:
            request = replace(request, path=str(self.export_dir() / (Path(request.path).name or "export")))
        scope = Scope(request.range_name, self.now(), self.site, self.dims)
        data = self.db.read(lambda store: view.export(store, scope))
        total = max(1, len(data.rows))
        dialog = request.dialog

        def progress(rows: int, written: int) -> None:
            if dialog is not None:
                self.call_from_thread(dialog.set_progress, rows, total)

        try:
            check_target(request.path, databases=[self.cfg.db_path], force=request.overwrite)
            result = export_rows(list(data.columns), data.rows, request.fmt, request.path, progress=progress)
        except Exception as exc:
            self.call_from_thread(self._export_failed, request, str(exc))
            return
        self.call_from_thread(self._export_done, request, result.path, result.rows)

    def _export_done(self, request: ExportRequest, path: str, rows: int) -> None:
        self.last_export = Path(path)
        if request.dialog is not None:
            request.dialog.finished(path, rows)
        if self.is_web:  # the browser downloads it
            self.deliver_binary(path, save_filename=Path(path).name)
        self.notify(f"exported {rows:,} rows to {clean(path, 300)}", title="Export", timeout=8, markup=False)

    def _export_failed(self, request: ExportRequest, error: str) -> None:
        if request.dialog is not None:
            request.dialog.failed(error)
        self.notify(f"export failed: {clean(error, 300)}", severity="error", markup=False)

    # throttle

    def action_throttle(self) -> None:
        if not self.may("throttle"):
            return
        view = self.active_view
        target = view.selection().throttle if view is not None else None
        self.push_screen(ThrottleDialog(target), self._throttle_chosen)

    def _throttle_chosen(self, request: ThrottleRequest | None) -> None:
        if request is not None:
            self.set_override(request)

    @work(thread=True, group="actions", exit_on_error=False, description="throttle override")
    def set_override(self, request: ThrottleRequest) -> None:
        """Write the override; the collector (here or in another process) picks it up within a second."""
        from db.queries.throttle import OverrideError

        now = time.time()  # overrides expire on the collector's clock, not the (injectable) view clock
        expires = None if request.duration_s is None else now + request.duration_s
        try:
            new_id = self.db.write(
                lambda store: store.set_override(request.kind, request.target, request.level, request.reason,
                                                 expires, now=now)
            )
        except OverrideError as exc:
            self.call_from_thread(self.notify, clean(str(exc), 300), severity="error", markup=False)
            return
        self.last_override_id = new_id
        self.call_from_thread(
            self.notify, f"{request.kind} {clean(request.target, 40)} → {request.level}", title="Throttle override",
            markup=False,
        )
        active = self.active_view
        if active is not None:
            self.call_from_thread(active.reload)


def build_app(
    cfg: Config,
    *,
    embedded: bool,
    demo: bool = False,
    demo_rate: float = 5.0,
    now: Callable[[], float] | None = None,
    initial_range: str = "24h",
    role: str = ADMIN,
) -> SiteLensApp:
    """The one way to build the TUI (used by `run`, `tui`, `web` and the tests): embedded runs the collector
    in-loop; `role` viewer makes it read-only."""
    return SiteLensApp(cfg, embedded=embedded, demo=demo, demo_rate=demo_rate, now=now, initial_range=initial_range,
                       role=role)
