"""A KPI tile: a metric's value and its change against the previous period."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static


def change_text(current: float, previous: float, *, higher_is_better: bool = True) -> Text:
    """"▲ 12%" in green when the metric moved the good way, red otherwise; "new" without a previous value."""
    if previous == 0:
        return Text("new" if current else "–", style="dim")
    pct = (current - previous) / previous * 100
    if abs(pct) < 0.5:
        return Text("= 0%", style="dim")
    good = (pct > 0) == higher_is_better
    return Text(f"{'▲' if pct > 0 else '▼'} {abs(pct):.0f}%", style="green" if good else "red")


def render_tile(label: str, value: str, change: Text) -> Text:
    """Label, value and change on three lines that never wrap (a wrapped line would push the change out)."""
    return Text.assemble((label, "dim"), "\n", (value, "bold"), "\n", change, no_wrap=True, overflow="ellipsis")


class KpiTile(Static):
    """Label, value and change, three short lines. The label is a line of its own rather than the border title:
    six tiles share 80 columns, where a border title keeps only five or six letters of "Pageviews"."""

    DEFAULT_CSS = """
    KpiTile { width: 1fr; height: 5; border: round $panel; padding: 0 1; }
    """

    def __init__(self, label: str, *, id: str | None = None) -> None:
        super().__init__(render_tile(label, "–", Text("")), id=id)
        self.label = label
        self.value_text = "–"

    def show(self, value: str, change: Text) -> None:
        """Update the shown value (already formatted by us) and its change."""
        self.value_text = value
        self.update(render_tile(self.label, value, change))
