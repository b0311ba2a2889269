"""A plotext line chart as a widget: rebuilt on the main thread (plotext keeps global state) and on resize."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

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
    open_end: bool = False
    """The last value is a bucket still filling (the current hour or minute): drawn as a lone point, not joined
    to the line, so a partial count is not read as a ramp from the previous bucket."""


@dataclass(slots=True, frozen=True)
class Level:
    """A horizontal line (a threshold or an expected value)."""

    label: str
    value: float


def _ticks(labels: Sequence[str], width: int) -> list[int]:
    step = max(1, len(labels) // max(1, width // 12))
    return list(range(0, len(labels), step))


def y_limits(series: Sequence[Series]) -> tuple[float, float] | None:
    """A zero-based y axis for counts and rates (plotext would centre all-zero lines on -1..1); None when a value is
    negative, so plotext picks the range."""
    values = [v for s in series for v in s.values]
    if any(v < 0 for v in values):
        return None
    peak = max(values, default=0.0)
    return 0.0, peak if peak > 0 else 1.0


SHORT_PLOT = 9
"""Below this many lines a plot gets two y labels (0 and the top), which stay on their rows."""


def _build_v6(width: int, height: int, labels: Sequence[str], series: Sequence[Series]) -> str:
    """plotext ≥ 6: the explicit figure API."""
    plt.terminal.limit(False, False)  # size to the widget, not to the terminal plotext thinks it is in
    fig = plt.figure
    fig.clear.all()
    fig.plot_size(width, height)
    fig.theme("simple")
    for s in series:
        values = list(s.values)
        marker = plt.marker(pixel=plt.pixel(foreground=s.color))
        if s.open_end and len(values) > 1:
            fig.draw(fig.signal(list(range(len(values) - 1)), values[:-1], marker=marker).lines())
            fig.draw(fig.signal([len(values) - 1], values[-1:], marker=marker))
        else:
            fig.draw(fig.signal(list(range(len(values))), values, marker=marker).lines())
    fig.legend(False)
    limits = y_limits(series)
    if limits is not None:
        fig.ruler(1).lim(*limits)
    if height < SHORT_PLOT:
        fig.ruler(1).frequency(2)
    if labels:
        ticks = _ticks(labels, width)
        fig.ruler(0).ticks(ticks, [labels[i] for i in ticks])
    return str(fig.build().string())


def _build_v5(width: int, height: int, labels: Sequence[str], series: Sequence[Series]) -> str:
    """plotext 5: the module-level API."""
    p: Any = plt  # attributes differ between plotext versions
    p.clf()
    p.plotsize(width, height)
    p.theme("clear")
    for s in series:
        values = list(s.values)
        if s.open_end and len(values) > 1:
            p.plot(list(range(len(values) - 1)), values[:-1], color=s.color, marker="braille")
            p.scatter([len(values) - 1], values[-1:], color=s.color, marker="braille")
        else:
            p.plot(list(range(len(values))), values, color=s.color, marker="braille")
    limits = y_limits(series)
    if limits is not None:
        p.ylim(*limits)
    if height < SHORT_PLOT:
        p.yfrequency(2)
    if labels:
        ticks = _ticks(labels, width)
        p.xticks(ticks, [labels[i] for i in ticks])
    return str(p.build())


def legend(series: Sequence[Series]) -> Text:
    """One line naming each line in its colour (plotext's own legend box is too tall for a 12-line chart)."""
    out = Text()
    for s in series:
        out.append("━━ ", style=s.color)
        out.append(f"{clean(s.label, 30)}   ")
    return out


def render_chart(width: int, height: int, labels: Sequence[str], series: Sequence[Series],
                 levels: Sequence[Level] = ()) -> Text:
    """The chart as Text with a legend line; labels are cleaned first, since `from_ansi` would honour escapes
    hidden in one."""
    labels = [clean(x, 20) for x in labels]
    series = [Series(clean(s.label, 30), list(s.values), s.color, s.open_end) for s in series]
    # Levels are drawn as flat lines over the same x positions: exact on every plotext version.
    n = max((len(s.values) for s in series), default=0)
    series += [Series(clean(lv.label, 30), [lv.value] * n, "yellow") for lv in levels]
    build = _build_v6 if hasattr(plt, "figure") and hasattr(plt.figure, "signal") else _build_v5
    chart = Text.from_ansi(build(width, height - 1, labels, series), no_wrap=True)
    return Text.assemble(legend(series), "\n", chart)


class Chart(Static):
    """Lines over shared x labels, sized to the widget."""

    DEFAULT_CSS = """
    Chart { height: 12; width: 1fr; }
    """

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self._labels: list[str] = []
        self._series: list[Series] = []
        self._levels: list[Level] = []

    def plot(self, x_labels: Sequence[str], series: Sequence[Series], levels: Sequence[Level] = ()) -> None:
        """Show new data (drawn now if the widget has a size, else on its first resize)."""
        self._labels, self._series, self._levels = list(x_labels), list(series), list(levels)
        self._draw()

    def on_resize(self) -> None:
        self._draw()

    def _draw(self) -> None:
        width, height = self.content_size
        if width < 10 or height < 4:
            return
        if not any(len(s.values) for s in self._series):
            self.update(Text("no data for this range", style="dim"))
            return
        self.update(render_chart(width, height, self._labels, self._series, self._levels))
