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


class KpiTile(Static):
    """Label, value and change, three short lines."""

    DEFAULT_CSS = """
    KpiTile { width: 1fr; height: 5; border: round $panel; padding: 0 1; }
    """

    def __init__(self, label: str, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.label = label
        self.value_text = "–"

    def on_mount(self) -> None:
        self.border_title = self.label

    def show(self, value: str, change: Text) -> None:
        """Update the shown value (already formatted by us) and its change."""
        self.value_text = value
        self.update(Text.assemble((value, "bold"), "\n", change))
