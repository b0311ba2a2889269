"""Filter every view by a value typed in: pick a dimension, type the value."""

from __future__ import annotations

from collections.abc import Sequence

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Select


class FilterDialog(ModalScreen[tuple[str, str] | None]):
    """Returns (dimension, value) or None."""

    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, dimensions: Sequence[str]) -> None:
        super().__init__(classes="dialog-screen")
        self.dimensions = list(dimensions)

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label("Filter every view by", classes="dialog-title")
            yield Select([(d, d) for d in self.dimensions], value=self.dimensions[0], allow_blank=False,
                         id="filter-dimension")
            yield Input(placeholder="value (exact match)", id="filter-value")
            with Horizontal(classes="buttons"):
                yield Button("Filter", variant="primary", id="filter-ok")
                yield Button("Cancel", id="filter-cancel")

    def on_mount(self) -> None:
        self.query_one("#filter-value", Input).focus()

    def _submit(self) -> None:
        value = self.query_one("#filter-value", Input).value
        dimension = self.query_one("#filter-dimension", Select).value
        if value and isinstance(dimension, str):
            self.dismiss((dimension, value))

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self._submit()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        if event.button.id == "filter-ok":
            self._submit()
        else:
            self.dismiss(None)

    def action_cancel(self) -> None:
        self.dismiss(None)
