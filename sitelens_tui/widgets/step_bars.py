"""Funnel steps as horizontal bars with conversion and drop-off."""

from __future__ import annotations

from collections.abc import Sequence

from rich.text import Text
from textual.widgets import Static

from db.funnels import StepResult
from sitelens_tui.sanitize import clean

BAR_WIDTH = 24


def duration(seconds: float | None) -> str:
    if seconds is None:
        return ""
    seconds = int(seconds)
    return f"{seconds}s" if seconds < 60 else f"{seconds // 60}m{seconds % 60:02d}s"


def render_steps(results: Sequence[StepResult]) -> Text:
    """One line per step: label, bar scaled to the first step, visitors, conversion to next, drop-off, time."""
    if not results:
        return Text("no visitors entered this funnel in the range", style="dim")
    top = max(1, results[0].entered)
    out = Text()
    for i, r in enumerate(results, 1):
        filled = round(r.entered / top * BAR_WIDTH)
        out.append(f"{i:>2} ")
        out.append(f"{clean(r.step.label, 28):<28} ")
        out.append("█" * filled, style="cyan")
        out.append("░" * (BAR_WIDTH - filled), style="dim")
        out.append(f" {r.entered:>6,}")
        if i < len(results):
            out.append(f"  → {r.conversion_pct:5.1f}%", style="green")
            out.append(f"  ✕ {r.dropoff_pct:5.1f}%", style="red")
            out.append(f"  {duration(r.median_s_to_next)}", style="dim")
        out.append("\n")
    return out


class StepBars(Static):
    def show(self, results: Sequence[StepResult]) -> None:
        self.update(render_steps(results))
