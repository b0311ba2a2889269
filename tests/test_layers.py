"""Headless mode must not pay for the TUI: collector/ and db/ never import textual or sitelens_tui."""

from __future__ import annotations

import pkgutil
import subprocess
import sys

import collector
import db


def all_modules(package) -> list[str]:
    return [m.name for m in pkgutil.walk_packages(package.__path__, f"{package.__name__}.")]


def test_collector_and_db_never_import_the_tui():
    modules = all_modules(collector) + all_modules(db)
    code = (
        "import importlib, sys\n"
        f"for name in {modules!r}:\n"
        "    importlib.import_module(name)\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('textual', 'sitelens_tui'))\n"
        "print(','.join(bad))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "", f"imported by collector/db: {result.stdout.strip()}"


def test_command_line_start_up_loads_neither_the_server_nor_the_tui():
    """Every command builds the whole parser: `sitelens import`, `export`, `token`… must not pay (start-up time,
    ~15 MB of memory) for aiohttp or Textual, which only `collect`, `demo`, `run` and `tui` use."""
    code = (
        "import sys\n"
        "from sitelens_tui.cli import build_parser\n"
        "import collector.logs.importer\n"
        "build_parser()\n"
        "bad = sorted({m.split('.')[0] for m in sys.modules} & {'aiohttp', 'textual'})\n"
        "print(','.join(bad))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "", f"loaded at start-up: {result.stdout.strip()}"
