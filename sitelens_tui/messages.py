"""Messages the views send up to the app (attributes go down, messages come up)."""

from __future__ import annotations

from dataclasses import dataclass

from textual.message import Message


@dataclass
class FilterRequested(Message):
    """Filter every view by one dimension's value (picked from a row)."""

    dimension: str
    value: str


@dataclass
class FilterRemoved(Message):
    """Drop one filter (clicked in the filter bar)."""

    dimension: str
    value: str


@dataclass
class SessionRequested(Message):
    """Open the detail screen of one session."""

    session_id: int


@dataclass
class ViewLoaded(Message):
    """A view showed fresh data (tests and the benchmark wait on it). Bursts coalesce into one."""

    view_id: str
    seconds: float
    """From the start of the fetch to the end of rendering."""
    query_seconds: float = 0.0
    """The SQL part of it (in the worker thread)."""

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, ViewLoaded) and message.view_id == self.view_id
