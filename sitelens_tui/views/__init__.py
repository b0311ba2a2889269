"""One module per tab; ALL_VIEWS is their order in the tab bar (keys 1-9)."""

from __future__ import annotations

from sitelens_tui.views.anomalies import AnomaliesView
from sitelens_tui.views.base import View
from sitelens_tui.views.bots import BotsView
from sitelens_tui.views.engagement import EngagementView
from sitelens_tui.views.events import EventsView
from sitelens_tui.views.funnels import FunnelsView
from sitelens_tui.views.live import LiveView
from sitelens_tui.views.overview import OverviewView
from sitelens_tui.views.requests import RequestsView
from sitelens_tui.views.server import ServerView

ALL_VIEWS: list[type[View]] = [
    OverviewView, LiveView, BotsView, AnomaliesView, FunnelsView, ServerView, EventsView, EngagementView, RequestsView,
]
