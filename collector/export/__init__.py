"""Exports: format writers, the streaming exporter, the scheduled export service and its destinations."""

from collector.export.exporter import ExportResult, export_rows, export_table
from collector.export.formats import FORMATS, ExportError

__all__ = ["FORMATS", "ExportError", "ExportResult", "export_rows", "export_table"]
