"""The `e` dialog: format, range and path; then a progress bar and where the file went."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, ProgressBar, Select

from collector.export.files import TargetExists, check_target
from collector.export.formats import ExportError
from sitelens_tui.sanitize import clean
from sitelens_tui.scope import RANGE_NAMES, label_for_range

FORMATS = (("CSV", "csv"), ("NDJSON", "ndjson"), ("Parquet", "parquet"))


@dataclass(slots=True, frozen=True)
class ExportRequest:
    """What to export and where; `dialog` receives progress and the outcome."""

    fmt: str
    range_name: str
    path: str
    dialog: ExportDialog | None = None
    overwrite: bool = False
    """The user confirmed replacing an existing export file (a database is refused all the same)."""


def with_extension(path: str, fmt: str) -> str:
    """`path` with the extension of `fmt` (a .gz suffix is kept for text formats)."""
    p = Path(path)
    gz = p.suffix == ".gz" and fmt != "parquet"
    if gz:
        p = p.with_suffix("")
    p = p.with_suffix(f".{fmt}")
    return f"{p}.gz" if gz else str(p)


class ExportDialog(ModalScreen[None]):
    """Stays open while the export runs so the user sees progress and the written path."""

    BINDINGS = [Binding("escape", "close", "Close")]

    def __init__(self, view_title: str, range_name: str, path: str,
                 on_submit: Callable[[ExportRequest], Any] | None = None) -> None:
        super().__init__(classes="dialog-screen")
        self.view_title = view_title
        self.range_name = range_name
        self.default_path = path
        self.on_submit = on_submit
        self.written: str | None = None
        self._confirmed: str | None = None
        """The existing file the user agreed to replace by pressing Export a second time."""

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog export"):
            yield Label(Text(f"Export {self.view_title}", style="bold"), classes="dialog-title")
            with Horizontal(classes="row"):
                yield Label("Format", classes="field-label")
                yield Select(FORMATS, value="csv", allow_blank=False, id="export-format")
            with Horizontal(classes="row"):
                yield Label("Range", classes="field-label")
                yield Select([(label_for_range(r), r) for r in RANGE_NAMES], value=self.range_name,
                             allow_blank=False, id="export-range")
            with Horizontal(classes="row"):
                yield Label("Path", classes="field-label")
                yield Input(self.default_path, id="export-path")
            yield ProgressBar(total=None, show_eta=False, id="export-progress")
            yield Label("", id="export-result")
            with Horizontal(classes="buttons"):
                yield Button("Export", variant="primary", id="export-ok")
                yield Button("Close", id="export-close")

    def on_select_changed(self, event: Select.Changed) -> None:
        if event.select.id == "export-format" and isinstance(event.value, str):
            path = self.query_one("#export-path", Input)
            path.value = with_extension(path.value, event.value)

    def request(self) -> ExportRequest:
        fmt = self.query_one("#export-format", Select).value
        rng = self.query_one("#export-range", Select).value
        path = Path(self.query_one("#export-path", Input).value.strip()).expanduser()
        return ExportRequest(str(fmt), str(rng), str(path), self, overwrite=str(path) == self._confirmed)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.start()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        if event.button.id == "export-ok":
            self.start()
        else:
            self.dismiss(None)

    def start(self) -> None:
        """Hand the request to the app, which runs it in a worker and reports back here."""
        request = self.request()
        if not request.path or request.path == ".":
            self.failed("choose a file to write")
            return
        try:
            check_target(request.path, force=request.overwrite)  # the app checks again, with its database
        except TargetExists:
            self._confirmed = request.path  # a second Export on the same path replaces it (never a database)
            self.failed(f"{request.path} already exists: press Export again to overwrite it")
            return
        except ExportError as exc:
            self.failed(str(exc))
            return
        self.query_one("#export-ok", Button).disabled = True
        self.query_one("#export-result", Label).update(Text("exporting…", style="dim"))
        if self.on_submit is not None:
            self.on_submit(request)

    def set_progress(self, rows: int, total: int) -> None:
        self.query_one(ProgressBar).update(total=total, progress=rows)

    def finished(self, path: str, rows: int) -> None:
        self.written = path
        bar = self.query_one(ProgressBar)
        bar.update(total=max(1, rows), progress=max(1, rows))
        self.query_one("#export-result", Label).update(
            Text.assemble(("✔ ", "green"), f"wrote {rows:,} rows to ", (clean(path, 300), "bold"))
        )
        self.query_one("#export-ok", Button).disabled = False
        self.query_one("#export-close", Button).focus()

    def failed(self, error: str) -> None:
        self.query_one("#export-result", Label).update(Text(f"✘ {clean(error, 300)}", style="bold red"))
        self.query_one("#export-ok", Button).disabled = False

    def action_close(self) -> None:
        self.dismiss(None)
