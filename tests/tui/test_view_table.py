"""ViewTable keeps its header in line with its rows when rows arrive (DataTable caches the header's old widths)."""

from __future__ import annotations

from rich.text import Text
from textual.app import App, ComposeResult

from sitelens_tui.widgets.view_table import TableRow, ViewTable


class OneTable(App[None]):
    # A fixed height: measuring the new rows does not resize the table (nor, by that, redraw its header).
    CSS = "ViewTable { height: 5; }"

    def compose(self) -> ComposeResult:
        yield ViewTable([("page", "Page"), ("views", "Views")], id="t")


async def test_header_follows_the_widths_of_new_rows() -> None:
    app = OneTable()
    async with app.run_test(size=(80, 12)) as pilot:
        table = app.query_one(ViewTable)
        await pilot.pause()
        table.show([TableRow("a", (Text("/a-rather-long-page-path"), Text("12")))])
        # A frame drawn before the table measured its new row (what a busy machine does) caches the header.
        table.render_line(0)
        await pilot.pause()
        await pilot.pause()
        header, row = table.render_line(0).text, table.render_line(1).text
        assert header.index("Views") == row.index("12"), f"header out of line with its row:\n{header}\n{row}"
