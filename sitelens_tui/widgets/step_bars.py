"""Funnel steps as horizontal bars with conversion and drop-off."""

from __future__ import annotations

from collections.abc import Sequence

from rich.text import Text
from textual.widgets import Static

from db.funnels import StepResult
from sitelens_tui.sanitize import clean

BAR_WIDTH = 24
MIN_BAR_WIDTH = 6
LABEL_WIDTH = 28
FIXED_WIDTH = 39
"""Columns a step line takes besides its label and bar (number, visitors, conversion, drop-off, time)."""


def duration(seconds: float | None) -> str:
    if seconds is None:
        return ""
    seconds = int(seconds)
    return f"{seconds}s" if seconds < 60 else f"{seconds // 60}m{seconds % 60:02d}s"


def render_steps(results: Sequence[StepResult], width: int = 120) -> Text:
    """One line per step: label, bar scaled to the first step, visitors, conversion to next, drop-off, time. The
    label column is as wide as the longest label and the bar gives up columns, so a step stays on one line in
    `width` columns (an 80-column terminal)."""
    if not results:
        return Text("no visitors entered this funnel in the range", style="dim")
    labels = [clean(r.step.label, LABEL_WIDTH) for r in results]
    label_width = max(len(label) for label in labels)
    bar_width = max(MIN_BAR_WIDTH, min(BAR_WIDTH, width - label_width - FIXED_WIDTH))
    top = max(1, results[0].entered)
    out = Text()
    for i, (r, label) in enumerate(zip(results, labels, strict=True), 1):
        filled = round(r.entered / top * bar_width)
        out.append(f"{i:>2} ")
        out.append(f"{label:<{label_width}} ")
        out.append("█" * filled, style="cyan")
        out.append("░" * (bar_width - filled), style="dim")
        out.append(f" {r.entered:>6,}")
        if i < len(results):
            out.append(f"  → {r.conversion_pct:5.1f}%", style="green")
            out.append(f"  ✕ {r.dropoff_pct:5.1f}%", style="red")
            out.append(f"  {duration(r.median_s_to_next)}", style="dim")
        out.append("\n")
    return out


class StepBars(Static):
    """The steps of one funnel, redrawn to the widget's width."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._results: list[StepResult] | None = None  # None: nothing shown yet

    def show(self, results: Sequence[StepResult]) -> None:
        self._results = list(results)
        self.update(render_steps(self._results, self.content_size.width or 120))

    def on_resize(self) -> None:
        if self._results is not None:
            self.update(render_steps(self._results, self.content_size.width))
