"""Built-in demo traffic: simulated people, crawlers, a scraper, spikes and an API, sent over real HTTP."""

from __future__ import annotations

from collector.demo.runner import DemoError, DemoStats, run_demo

__all__ = ["DemoError", "DemoStats", "run_demo"]
