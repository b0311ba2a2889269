"""Peak hours: a weekday × hour grid of shaded cells."""

from __future__ import annotations

from collections.abc import Sequence

from rich.text import Text
from textual.widgets import Static

DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
SHADES = " ░▒▓█"


def render_heatmap(grid: Sequence[Sequence[int]]) -> Text:
    """7 rows of 24 two-character cells shaded by share of the busiest hour, with an hour ruler."""
    peak = max((max(row) for row in grid if row), default=0)
    out = Text("    " + "".join(f"{h:<2}" if h % 3 == 0 else "  " for h in range(24)) + "\n", style="dim")
    for day, row in zip(DAYS, grid, strict=False):
        out.append(f"{day} ", style="dim")
        for value in row:
            level = 0 if peak == 0 or value == 0 else 1 + min(3, int(value / peak * 3.999))
            out.append(SHADES[level] * 2, style="cyan")
        out.append("\n")
    out.append(f"    peak hour: {peak:,}", style="dim")
    return out


class Heatmap(Static):
    """The grid; `show` takes 7 lists of 24 counts."""

    DEFAULT_CSS = """
    Heatmap { height: 10; width: auto; min-width: 54; }
    """

    def show(self, grid: Sequence[Sequence[int]]) -> None:
        self.update(render_heatmap(grid))
