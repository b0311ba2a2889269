"""A small modal list to pick one value (range, site); Enter picks, Escape cancels."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Label, OptionList
from textual.widgets.option_list import Option

from sitelens_tui.sanitize import clean


class Picker(ModalScreen[Any]):
    """Options shown as literal text (site names come from the outside world)."""

    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, title: str, options: Sequence[tuple[str, Any]], current: Any) -> None:
        super().__init__(classes="dialog-screen")
        self.title_text = title
        self.options = list(options)
        self.current = current

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog picker"):
            yield Label(Text(self.title_text, style="bold"))
            yield OptionList(
                *(Option(Text(clean(label, 60)), id=str(i)) for i, (label, _) in enumerate(self.options)),
                id="picker-options",
            )

    def on_mount(self) -> None:
        options = self.query_one(OptionList)
        values = [v for _, v in self.options]
        if self.current in values:
            options.highlighted = values.index(self.current)
        options.focus()

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self.dismiss(self.options[int(event.option.id or 0)][1])

    def action_cancel(self) -> None:
        self.dismiss(self.current)
