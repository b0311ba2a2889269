"""The `?` screen: every key of the app and the current view, from the bindings themselves."""

from __future__ import annotations

from collections.abc import Sequence

from rich.table import Table
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Label, Static

KEY_NAMES = {"question_mark": "?", "slash": "/", "backspace": "⌫", "enter": "Enter", "escape": "Esc"}


def key_label(key: str) -> str:
    return ", ".join(KEY_NAMES.get(k.strip(), k.strip()) for k in key.split(","))


class HelpScreen(ModalScreen[None]):
    """A table of keys and what they do; any of Escape, q or ? closes it."""

    BINDINGS = [Binding("escape,q,question_mark", "close", "Close")]

    def __init__(self, bindings: Sequence[Binding]) -> None:
        super().__init__(classes="dialog-screen")
        self.bindings = list(bindings)

    def compose(self) -> ComposeResult:
        table = Table(box=None, show_header=False, padding=(0, 2))
        table.add_column(style="bold cyan", no_wrap=True)
        table.add_column()
        seen: set[str] = set()
        for b in self.bindings:
            if b.key in seen or not b.description:
                continue
            seen.add(b.key)
            table.add_row(key_label(b.key), b.description)
        table.add_row("Enter", "open the session / filter by the row's value")
        table.add_row("ctrl+p", "command palette (every key is also a command)")
        with VerticalScroll(classes="dialog help"):
            yield Label("Keys", classes="dialog-title")
            yield Static(table, id="help-keys")

    def action_close(self) -> None:
        self.dismiss(None)
