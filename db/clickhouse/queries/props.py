"""Which property keys a custom event carries on ClickHouse, so the Events view can break each one down."""

from __future__ import annotations

from db.clickhouse.client import ClickHouse
from db.clickhouse.queries.events import event_property_keys
from db.queries.common import Filters, Span


def property_keys(ch: ClickHouse, span: Span, filters: Filters, event: str, limit: int = 5) -> list[str]:
    """The most used property keys of custom event `event` in the span."""
    return event_property_keys(ch, span, filters, event, limit)
