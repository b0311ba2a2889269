"""Ingest: the HTTP collector, tracker, pipeline, enrichment, bot scoring, throttling and background services."""
