"""Funnels: the list, step bars with conversion and drop-off for the highlighted one, and a form to edit."""

from __future__ import annotations

from dataclasses import dataclass

from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import DataTable, Label

from db.funnels import Funnel, StepResult
from db.store import Store
from sitelens_tui.dialogs.funnel_form import FunnelForm
from sitelens_tui.sanitize import clean, num, safe
from sitelens_tui.scope import Scope
from sitelens_tui.views.base import TableData, View
from sitelens_tui.widgets.step_bars import StepBars
from sitelens_tui.widgets.view_table import TableRow, ViewTable


@dataclass(slots=True, frozen=True)
class FunnelsData:
    funnels: list[Funnel]
    selected: str | None
    report: list[StepResult]


class FunnelsView(View):
    """`n` creates a funnel, `m` edits the highlighted one; both are stored for every process to see."""

    TITLE = "Funnels"
    REFRESH_S = 15.0
    BINDINGS = [
        Binding("n", "new_funnel", "New funnel", id="funnel-new"),
        Binding("m", "edit_funnel", "Edit funnel", id="funnel-edit"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.selected_funnel: str | None = None
        self.funnels: dict[str, Funnel] = {}
        self.saved: list[str] = []
        """Names saved from the form, in order (what the user did this session)."""

    def compose(self) -> ComposeResult:
        yield Label("Funnels", classes="section-title")
        yield ViewTable([("name", "Funnel"), ("steps", "Steps"), ("site", "Site"), ("window", "Window")],
                        id="funnels-list", cap=100)
        yield Label("Steps", id="funnel-title", classes="section-title")
        yield StepBars(id="funnel-steps-bars")

    def fetch(self, store: Store, scope: Scope) -> FunnelsData:
        funnels = store.list_funnels(self.sl_app.cfg.funnels)
        names = [f.name for f in funnels]
        selected = self.selected_funnel if self.selected_funnel in names else (names[0] if names else None)
        report: list[StepResult] = []
        if selected is not None:
            report = store.funnel_report(funnels[names.index(selected)], scope.span, scope.filters())
        return FunnelsData(funnels, selected, report)

    def show(self, data: FunnelsData) -> None:
        self.funnels = {f.name: f for f in data.funnels}
        table = self.query_one("#funnels-list", ViewTable)
        table.show([
            TableRow(f.name, (safe(f.name, 40), num(len(f.steps)), safe(f.site or "all", 30),
                              safe(f"{f.window_s // 60} min")), f.name)
            for f in data.funnels
        ])
        # The cursor follows the funnel shown (one just saved is not where the cursor was).
        names = [f.name for f in data.funnels]
        if data.selected in names and table.cursor_row != names.index(data.selected):
            table.move_cursor(row=names.index(data.selected), animate=False, scroll=False)
        self.query_one("#funnel-title", Label).update(
            safe("Steps" if data.selected is None else f"Steps of {data.selected}", 80))
        self.query_one(StepBars).show(data.report)

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        value = event.row_key.value
        if event.data_table.id == "funnels-list" and value is not None and value != self.selected_funnel:
            self.selected_funnel = value
            if self.loaded_scope is not None:
                self.reload()

    def action_new_funnel(self) -> None:
        if not self.sl_app.may("funnel_edit"):
            return
        self.app.push_screen(FunnelForm(), self._save)

    def action_edit_funnel(self) -> None:
        if not self.sl_app.may("funnel_edit"):
            return
        self.app.push_screen(FunnelForm(self.funnels.get(self.selected_funnel or "")), self._save)

    def _save(self, funnel: Funnel | None) -> None:
        if funnel is not None:
            self.run_worker(lambda: self._write(funnel), thread=True, group="actions", description="save funnel",
                            exit_on_error=False)

    def _write(self, funnel: Funnel) -> None:
        self.sl_app.db.write(lambda store: store.save_funnel(funnel))
        self.app.call_from_thread(self._saved, funnel.name)

    def _saved(self, name: str) -> None:
        self.saved.append(name)
        self.selected_funnel = name
        self.app.notify(f"funnel {clean(name, 60)} saved", markup=False)
        self.reload()

    def export(self, store: Store, scope: Scope) -> TableData:
        rows: list[tuple[object, ...]] = []
        for funnel in store.list_funnels(self.sl_app.cfg.funnels):
            for i, r in enumerate(store.funnel_report(funnel, scope.span, scope.filters()), 1):
                rows.append((funnel.name, i, r.step.label, r.entered, r.converted, r.conversion_pct, r.dropoff_pct,
                             r.median_s_to_next))
        return TableData(("funnel", "step", "label", "entered", "converted", "conversion_pct", "dropoff_pct",
                          "median_s_to_next"), rows)
