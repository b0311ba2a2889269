"""The context bar: range, site and the active filters, each filter a chip that removes itself when clicked."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.widgets import Button, Label

from sitelens_tui.messages import FilterRemoved
from sitelens_tui.sanitize import clean
from sitelens_tui.scope import Scope, label_for_range


class FilterChip(Button):
    """One filter; pressing it removes the filter."""

    def __init__(self, dimension: str, value: str) -> None:
        super().__init__(Text(f"{clean(dimension, 20)}={clean(value, 30)} ✕"), classes="chip")
        self.dimension = dimension
        self.value = value

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.post_message(FilterRemoved(self.dimension, self.value))


class FilterBar(Horizontal):
    """Shows the scope every view is using."""

    def compose(self) -> ComposeResult:
        yield Label(id="scope-label")
        yield Horizontal(id="chips")

    def show(self, scope: Scope) -> None:
        """Re-render for a new scope (chips are rebuilt; there are only a handful)."""
        site = "all sites" if scope.site is None else clean(scope.site, 40)
        label = Text.assemble(("Range ", "dim"), label_for_range(scope.range_name), ("  Site ", "dim"), site)
        if scope.dims:
            label.append("  Filters ", style="dim")
        self.query_one("#scope-label", Label).update(label)
        chips = self.query_one("#chips", Horizontal)
        chips.remove_children()
        chips.mount_all([FilterChip(d, v) for d, v in scope.dims])
