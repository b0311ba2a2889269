"""One module per tab; ALL_VIEWS is their order in the tab bar (keys 1-7)."""

from __future__ import annotations

from sitelens_tui.views.base import View
from sitelens_tui.views.live import LiveView

ALL_VIEWS: list[type[View]] = [LiveView]
