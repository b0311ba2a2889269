"""Fixtures of the export tests."""

from tests.collector.export.seed import seeded

__all__ = ["seeded"]
