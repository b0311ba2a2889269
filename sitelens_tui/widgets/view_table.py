"""A DataTable keyed by row, updated in place, capped, whose cells are always Text (never parsed as markup)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from rich.text import Text
from textual import events
from textual.widgets import DataTable


@dataclass(slots=True, frozen=True)
class TableRow:
    """One row: a stable key, its cells (Text from sanitised strings) and the raw value a filter would use."""

    key: str
    cells: tuple[Text, ...]
    value: str = ""


class ViewTable(DataTable[Text]):
    """Rows keyed by `TableRow.key`; `show` changes only the cells that changed when the order is the same."""

    DEFAULT_CSS = """
    ViewTable { height: auto; max-height: 16; }
    """

    def __init__(
        self,
        columns: Sequence[tuple[str, str]],
        *,
        dimension: str | None = None,
        cap: int = 200,
        id: str | None = None,
        classes: str | None = None,
    ) -> None:
        super().__init__(id=id, classes=classes, cursor_type="row", zebra_stripes=True)
        self.column_defs = tuple(columns)
        self.dimension = dimension
        """The filter dimension a row's value belongs to (None: rows are not filterable)."""
        self.cap = cap
        self.rows_shown: list[TableRow] = []

    def on_mount(self) -> None:
        for key, label in self.column_defs:
            self.add_column(label, key=key)

    async def _on_idle(self, event: events.Idle) -> None:
        """Let DataTable measure new rows, then redraw if a column got wider or narrower: DataTable caches rendered
        cells (the header's too) by a counter that measuring does not move, so a header drawn before the rows were
        measured kept its old widths, out of line with the rows below it."""
        widths = [column.content_width for column in self.columns.values()]
        await super()._on_idle(event)
        if widths != [column.content_width for column in self.columns.values()]:
            self.notify_style_update()  # drops the render caches and refreshes

    def show(self, rows: Sequence[TableRow]) -> None:
        """Show `rows` (at most `cap`); same keys in the same order → cell updates only, else rebuilt."""
        rows = list(rows)[: self.cap]
        old = self.rows_shown
        if [r.key for r in old] == [r.key for r in rows]:
            for before, after in zip(old, rows, strict=True):
                for (col, _), a, b in zip(self.column_defs, before.cells, after.cells, strict=False):
                    if a != b:
                        self.update_cell(after.key, col, b)
        else:
            self._rebuild(rows)
        self.rows_shown = rows

    def _rebuild(self, rows: list[TableRow]) -> None:
        """Replace every row, keeping the cursor on the same key when it is still there."""
        selected = self.selected
        self.clear()
        for row in rows:
            self.add_row(*row.cells, key=row.key)
        keys = [r.key for r in rows]
        if selected is not None and selected.key in keys:
            self.move_cursor(row=keys.index(selected.key), animate=False, scroll=False)

    def append(self, rows: Sequence[TableRow]) -> None:
        """Add rows at the end (a tail), dropping the oldest beyond `cap`, and follow the end."""
        follow = self.cursor_row >= len(self.rows_shown) - 1
        for row in rows:
            if row.key in self.rows:
                continue
            self.add_row(*row.cells, key=row.key)
            self.rows_shown.append(row)
        excess = len(self.rows_shown) - self.cap
        if excess > 0:
            for row in self.rows_shown[:excess]:
                self.remove_row(row.key)
            del self.rows_shown[:excess]
        if follow and self.rows_shown:
            self.move_cursor(row=len(self.rows_shown) - 1, animate=False)

    def reset(self) -> None:
        self.clear()
        self.rows_shown = []

    @property
    def selected(self) -> TableRow | None:
        """The row under the cursor."""
        if not self.rows_shown or not 0 <= self.cursor_row < len(self.rows_shown):
            return None
        return self.rows_shown[self.cursor_row]
