"""While the TUI owns the terminal, logs go to a file in the platform log directory, never to the screen."""

from __future__ import annotations

import logging
import logging.handlers
from pathlib import Path

import platformdirs

from collector.config import APP_NAME


def log_to_file(path: Path | None = None) -> Path:
    """Send every log record (ours, aiohttp's) to a rotating file and nowhere else; returns the file."""
    path = path or Path(platformdirs.user_log_dir(APP_NAME)) / "sitelens.log"
    path.parent.mkdir(parents=True, exist_ok=True)
    handler = logging.handlers.RotatingFileHandler(path, maxBytes=5_000_000, backupCount=3, encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s level=%(levelname)s logger=%(name)s msg=%(message)r"))
    root = logging.getLogger()
    root.handlers[:] = [handler]  # also keeps logging.lastResort (stderr) from ever being used
    root.setLevel(logging.INFO)
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
    return path
