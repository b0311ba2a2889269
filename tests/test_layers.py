"""What a process loads decides what it costs: headless mode must not pay for the TUI (collector/ and db/ never
import textual or sitelens_tui), and commands that serve nothing must not pay for aiohttp."""

from __future__ import annotations

import pkgutil
import subprocess
import sys

import collector
import db


def all_modules(package) -> list[str]:
    return [m.name for m in pkgutil.walk_packages(package.__path__, f"{package.__name__}.")]


def packages_loaded(code: str, packages: set[str]) -> str:
    """Which of `packages` a fresh interpreter has loaded after running `code` (comma separated, sorted)."""
    script = f"{code}\nimport sys\nprint(','.join(sorted({{m.split('.')[0] for m in sys.modules}} & {packages!r})))\n"
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_collector_and_db_never_import_the_tui():
    modules = all_modules(collector) + all_modules(db)
    code = f"import importlib\nfor name in {modules!r}:\n    importlib.import_module(name)"
    loaded = packages_loaded(code, {"textual", "sitelens_tui"})
    assert loaded == "", f"imported by collector/db: {loaded}"


def test_command_line_start_up_loads_neither_the_server_nor_the_tui():
    """Every command builds the whole parser: `sitelens import`, `export`, `token`… must not pay (start-up time,
    ~15 MB of memory) for aiohttp or Textual, which only `collect`, `demo`, `run` and `tui` use."""
    code = "from sitelens_tui.cli import build_parser\nimport collector.logs.importer\nbuild_parser()"
    loaded = packages_loaded(code, {"aiohttp", "textual"})
    assert loaded == "", f"loaded at start-up: {loaded}"
