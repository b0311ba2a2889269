"""A plotext line chart as a widget: rebuilt on the main thread (plotext keeps global state) and on resize."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import plotext as plt
from rich.text import Text
from textual.widgets import Static

from sitelens_tui.sanitize import clean


@dataclass(slots=True, frozen=True)
class Series:
    """One line: a label (sanitised before plotting) and its values, one per x position."""

    label: str
    values: Sequence[float]
    color: str = "cyan"


class Chart(Static):
    """Lines over shared x labels, sized to the widget."""

    DEFAULT_CSS = """
    Chart { height: 12; width: 1fr; }
    """

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self._x_labels: list[str] = []
        self._series: list[Series] = []
        self._title = ""

    def plot(self, x_labels: Sequence[str], series: Sequence[Series], title: str = "") -> None:
        """Show new data; labels from outside are cleaned so `from_ansi` cannot honour escapes in them."""
        self._x_labels = [clean(x, 20) for x in x_labels]
        self._series = [Series(clean(s.label, 30), list(s.values), s.color) for s in series]
        self._title = clean(title, 60)
        self._draw()

    def on_resize(self) -> None:
        self._draw()

    def _draw(self) -> None:
        width, height = self.content_size
        if width < 10 or height < 4:
            return
        if not self._series or not any(len(s.values) for s in self._series):
            self.update(Text("no data for this range", style="dim"))
            return
        plt.clf()
        plt.plotsize(width, height)
        plt.theme("clear")
        plt.frame(False)
        if self._title:
            plt.title(self._title)
        xs = list(range(len(self._x_labels))) or list(range(max(len(s.values) for s in self._series)))
        for s in self._series:
            plt.plot(xs[: len(s.values)], list(s.values)[: len(xs)], label=s.label, color=s.color, marker="braille")
        if self._x_labels:
            step = max(1, len(self._x_labels) // max(1, width // 12))
            ticks = list(range(0, len(self._x_labels), step))
            plt.xticks(ticks, [self._x_labels[i] for i in ticks])
        self.update(Text.from_ansi(plt.build()))
